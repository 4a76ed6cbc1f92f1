#!/usr/bin/env bash
# procd benchmarks against the peers, measured in the same run.
#
# Builds a release procd into build-bench/ (if needed), then drives the shared
# peer harness ($(dirname REPO)/shared/bench-peers/run.py) for procd and the
# installed peers, and prints markdown: the harness's table, procd with
# restart delay_ms = 0, the per-service-file log test (bench/logfile_bench.py)
# and procd against the issue's targets (bench/targets.py).
#
# usage: bench/run.sh [--quick] [--peers s6,runit,supervisord] [--only TESTS]
#                     [--no-build] [--no-delay0] [--no-logfile] [--out DIR]
#                     [--load-limit L]
#
#   --quick       one repetition of everything (the harness's --quick)
#   --peers       peers to measure beside procd (default: those installed of
#                 s6, runit, supervisord; "none" for procd alone)
#   --only        harness tests (default: spawn-floor,raw-log,startup,idle,
#                 restart,restart-crash,shutdown,logs)
#   --out DIR     where the JSONL results and the report go
#                 (default /tmp/pbench/procd-<time>)
#   --no-build    do not build; use $PROCD_BIN if set, else build-bench/procd
#   --load-limit  the harness waits before each measurement while the 1-min
#                 load average is above this (default 3)
#
# Takes ~15-25 min with the default peers (supervisord alone is ~5 min: its
# shutdown takes 30 s per run); --quick about a third of that. The machine
# should be otherwise idle: the harness waits while the 1-min load is > 3.
set -euo pipefail

args="$*"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=${PBENCH_HARNESS:-$(dirname "$REPO")/shared/bench-peers}
BUILD=$REPO/build-bench

quick=() peers="" only="spawn-floor,raw-log,startup,idle,restart,restart-crash,shutdown,logs"
build=1 delay0=1 logfile=1 out="" load=3
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=(--quick) ;;
    --peers) peers=$2; shift ;;
    --only) only=$2; shift ;;
    --no-build) build=0 ;;
    --no-delay0) delay0=0 ;;
    --no-logfile) logfile=0 ;;
    --out) out=$2; shift ;;
    --load-limit) load=$2; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -f "$HARNESS/run.py" ]; then
  echo "run.sh: peer harness not found at $HARNESS (expected shared/bench-peers beside the repo; set PBENCH_HARNESS)" >&2
  exit 1
fi

if [ $build = 1 ]; then
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$REPO" --buildtype=release --wrap-mode=nodownload -Dtests=disabled >&2 ||
      { echo "run.sh: meson setup failed" >&2; exit 1; }
  fi
  ninja -C "$BUILD" >&2 || { echo "run.sh: build failed" >&2; exit 1; }
fi
if [ $build = 1 ] || [ -z "${PROCD_BIN:-}" ]; then PROCD_BIN=$BUILD/procd; fi
export PROCD_BIN
[ -x "$PROCD_BIN" ] || { echo "run.sh: no binary at $PROCD_BIN" >&2; exit 1; }

if [ -z "$peers" ]; then
  for p in s6 runit supervisord; do
    if (cd "$HARNESS" && python3 run.py --list) | awk -v p="$p" '$2 == p && $3 == "yes" {f=1} END {exit !f}'; then
      peers=${peers:+$peers,}$p
    fi
  done
fi
[ "$peers" = none ] && peers=""
drivers=procd${peers:+,$peers}

out=${out:-/tmp/pbench/procd-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
# sweep by PID (the harness's marker) whatever we leave behind, even on ^C
trap '(cd "$HARNESS" && python3 run.py --sweep >&2) || true' EXIT

{
  echo "# procd benchmark $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "machine: $(nproc) cores, $(uname -srm), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "procd: $("$PROCD_BIN" version 2>/dev/null | head -2 | paste -sd' '), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo ?)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes') ($PROCD_BIN)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (harness load limit $load)"
  echo "peers: ${peers:-none}; command: bench/run.sh $args"
  echo
} > "$out/report.md"

echo "== harness: $drivers; tests $only ==" >&2
(cd "$HARNESS" && python3 run.py --all "${quick[@]}" --drivers "$drivers" --only "$only" \
   --load-limit "$load" --out "$out/main.jsonl") > "$out/table.md"
cat "$out/table.md" >> "$out/report.md"

if [ $delay0 = 1 ] && [[ ,$only, == *,restart,* || ,$only, == *,restart-crash,* ]]; then
  echo "== procd with restart delay_ms = 0 ==" >&2
  (cd "$HARNESS" && PBENCH_PROCD_RESTART_DELAY_MS=0 python3 run.py --all "${quick[@]}" --drivers procd \
     --only restart,restart-crash --load-limit "$load" --out "$out/delay0.jsonl") > "$out/delay0.md"
  { echo; echo "## procd, restart = { policy = \"always\", delay_ms = 0 }"; echo
    grep -E '^\|( metric|---| restart)' "$out/delay0.md"; } >> "$out/report.md"
fi

if [ $logfile = 1 ]; then
  echo "== log throughput to a per-service file ==" >&2
  reps=3; [ ${#quick[@]} -gt 0 ] && reps=1
  python3 "$REPO/bench/logfile_bench.py" --reps $reps --load-limit "$load" --out "$out/logfile.jsonl" > "$out/logfile.md"
  { echo; echo "## log throughput, per-service file"; echo; cat "$out/logfile.md"; } >> "$out/report.md"
fi

{ echo; echo "## procd against the targets"; echo
  python3 "$REPO/bench/targets.py" "$out"; } >> "$out/report.md"

cat "$out/report.md"
echo "results: $out" >&2
