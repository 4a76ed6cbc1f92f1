#!/usr/bin/env bash
# The one script behind the README quick start.
#
#   bash .ci/dev.sh demo          install what is missing, build, check and run examples/procd.toml
#   bash .ci/dev.sh test [ARGS]   install what is missing, build, run every test (ARGS go to
#                                 `meson test`, e.g. a test name), then the e2e tier (not
#                                 when ARGS are given), print a summary whose last line is
#                                 `N passed, N failed`; exit non-zero on any failure
#   bash .ci/dev.sh build         install what is missing and build only
#   bash .ci/dev.sh deps          install what is missing only
#   bash .ci/dev.sh fuzz [SECONDS]  also install clang-15 + libFuzzer, build the
#                                 fuzz targets in build-fuzz (-Dfuzz=true), run each
#                                 for SECONDS (default 30); exit non-zero on a crash
#   bash .ci/dev.sh simulate [N]  install what is missing, build, run the deterministic simulator
#                                 (tests/sim/README.md): tests/sim/regressions.txt, then N seeded
#                                 sequences (default 2000); last line `RESULT: N passed, N failed`
#   bash .ci/dev.sh e2e           also install podman, runc, mmdebstrap, debhelper; build
#                                 the Docker image and the .deb and run them for real
#                                 (tests/e2e/e2e.py); last line `RESULT: N passed, N failed`
#
# Environment: PROCD_BUILD_DIR (default: build), PROCD_SAN_BUILD_DIR (default:
# build-asan: `test` runs the suites again there under ASan + UBSan;
# PROCD_SANITIZE=0 skips that), PROCD_E2E=0 (`test` skips the e2e tier),
# PROCD_TIMEOUT_MULTIPLIER (default: 2), PROCD_NO_INSTALL=1 to never call
# apt-get, PROCD_FUZZ_BUILD_DIR (default: build-fuzz).
#
# Packages are installed (apt-get, through sudo when not root) only when
# `dpkg-query` says one is absent; `apt-get update` runs only then too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD_DIR=${PROCD_BUILD_DIR:-build}
SAN_DIR=${PROCD_SAN_BUILD_DIR:-build-asan}
TIMEOUT_MULTIPLIER=${PROCD_TIMEOUT_MULTIPLIER:-2}

# Debian / Ubuntu names. toml11 and doctest are found through CMake only, so
# cmake is a build dependency; util-linux (setpriv, unshare), procps and
# man-db + groff-base (man page lint) are used by the tests.
PACKAGES=(
  g++ meson ninja-build pkg-config cmake
  libuv1-dev libspdlog-dev libtoml11-dev libcli11-dev doctest-dev nlohmann-json3-dev libhttp-parser-dev libre2-dev libncurses-dev
  python3 util-linux procps man-db groff-base
)
# Only `test` needs these (test_http: `promtool check metrics`, the dashboard
# in headless Chromium, terminal captures in tmux, strace counting what
# `procd start` asks); the test skips with a reason where they are absent.
TEST_PACKAGES=(prometheus chromium tmux strace)
# Only `fuzz` needs these (CI's `test` path builds with g++ alone). Debian
# bookworm's `clang` is 14; libFuzzer 15 goes with clang-15.
FUZZ_PACKAGES=(clang-15 libfuzzer-15-dev)
FUZZ_CXX=clang++-15
FUZZ_MAX_LEN=1048576
FUZZ_TARGETS=(config shell_split protocol notify log_framing http_request cli_reply http_reply)
# Only `e2e` needs these: podman runs the image (with runc: crun refuses
# hybrid cgroups), mmdebstrap builds the Debian base images locally (no
# registry needed), debhelper + dpkg-dev build the .deb.
E2E_PACKAGES=(podman runc mmdebstrap debhelper dpkg-dev)

say() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'dev.sh: %s\n' "$*" >&2
  # Under `test` the last line is always the summary CI reads.
  [ "${SUMMARY_ON_FAIL:-0}" = 1 ] && echo "0 passed, 1 failed"
  exit 1
}

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a dpkg system: skipping package check (needed: ${PACKAGES[*]})"
    return 0
  fi
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0

  [ "${PROCD_NO_INSTALL:-0}" = 1 ] && die "missing packages (PROCD_NO_INSTALL=1): ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages and no sudo: ${missing[*]}"
    sudo=(sudo)
  fi
  say "installing: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" || return 1
}

# True when the build directory $1 already has werror on.
werror_is_on() {
  meson introspect --buildoptions "$1" 2>/dev/null | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
sys.exit(0 if opts.get("werror") is True else 1)'
}

# configure DIR [MESON OPTIONS...]. Warnings are errors here: the build must
# stay warning-free (-Wall -Wextra). CONFIGURE_WERROR=0 leaves werror off, for
# the sanitizer build only: GCC 12 with -fsanitize=address warns
# -Wmaybe-uninitialized inside libstdc++ (<regex>), a known false positive.
configure() {
  local dir=$1
  shift
  local werror=()
  [ "${CONFIGURE_WERROR:-1}" = 1 ] && werror=(--werror)
  if [ ! -f "$dir/meson-private/coredata.dat" ]; then
    say "meson setup $dir ${werror[*]} $*"
    meson setup "$dir" --wrap-mode=nodownload "${werror[@]}" "$@"
  elif [ ! -f "$dir/build.ninja" ]; then
    # A half-configured or stale directory (e.g. another meson version).
    say "meson setup --reconfigure $dir"
    meson setup --reconfigure "$dir" --wrap-mode=nodownload "${werror[@]}" "$@" ||
      meson setup --wipe "$dir" --wrap-mode=nodownload "${werror[@]}" "$@"
  elif [ "${#werror[@]}" -gt 0 ] && ! werror_is_on "$dir"; then
    # A directory configured before werror was required.
    say "meson configure -Dwerror=true $dir"
    meson configure "$dir" -Dwerror=true
  fi
  # Otherwise ninja itself re-runs meson when a meson.build changed.
}

build() {
  say "ninja -C $1"
  ninja -C "$1"
}

# run_suite DIR [ARGS]: meson test in DIR; its log is DIR/meson-logs/testlog.json.
# Sets SUITE_RC.
run_suite() {
  local dir=$1
  shift
  rm -f "$dir/meson-logs/testlog.json"
  set +e
  meson test -C "$dir" --print-errorlogs --num-processes 2 \
    --timeout-multiplier "${SUITE_TIMEOUT_MULTIPLIER:-$TIMEOUT_MULTIPLIER}" "$@"
  SUITE_RC=$?
  set -e
}

# Reads meson's testlog.json, prints a per-test table and ends with the line
# `N passed, N failed`. Counts doctest test cases for doctest executables and
# `RESULT: N passed, N failed` lines for our python tests; any other test is
# one. A test whose process failed counts at least one failure.
# Arguments: LABEL LOG RC, once per suite run (the plain build, the
# sanitizer build); the last line adds them all up.
summarize() {
  python3 - "$@" <<'PY'
import json, re, sys

runs = [sys.argv[i:i + 3] for i in range(1, len(sys.argv), 3)]
doctest_re = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
result_re = re.compile(r"^RESULT: (\d+) passed, (\d+) failed\s*$", re.M)
ansi_re = re.compile(r"\x1b\[[0-9;]*m")
ok_results = {"OK", "EXPECTEDFAIL"}

total_passed = total_failed = 0
any_rc = False
for label, log_path, rc in runs:
    meson_rc = int(rc)
    any_rc = any_rc or meson_rc != 0
    rows, passed, failed, skipped = [], 0, 0, 0
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            if log_path.endswith(".txt"):
                # A tier that prints its own `RESULT: N passed, N failed` (e2e).
                entries = [{"name": label, "result": "OK" if meson_rc == 0 else "FAIL", "stdout": f.read()}]
            else:
                entries = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        print(f"cannot read {log_path}: {e}")
        entries = []
    for t in entries:
        name, result = t.get("name", "?"), t.get("result", "?")
        out = ansi_re.sub("", (t.get("stdout") or "") + "\n" + (t.get("stderr") or ""))
        m = doctest_re.findall(out)
        r = result_re.findall(out)
        if result == "SKIP":
            skipped += 1
            rows.append((name, result, 0, 0, "skipped"))
            continue
        if m:
            p, fl, unit = int(m[-1][1]), int(m[-1][2]), "cases"
        elif r:
            p, fl, unit = int(r[-1][0]), int(r[-1][1]), "checks"
        else:
            p, fl, unit = (1, 0, "test") if result in ok_results else (0, 1, "test")
        if result not in ok_results and fl == 0:
            fl = 1  # the process failed (crash, timeout, exit code) although its output says otherwise
        passed, failed = passed + p, failed + fl
        rows.append((name, result, p, fl, unit))
    print(f"\n== {label}")
    if rows:
        w = max(len(r[0]) for r in rows)
        print(f"{'test':<{w}}  {'result':<13} {'passed':>6} {'failed':>6}  counted")
        for name, result, p, fl, unit in rows:
            print(f"{name:<{w}}  {result:<13} {p:>6} {fl:>6}  {unit}")
        if skipped:
            print(f"({skipped} test(s) skipped)")
    if not entries or (meson_rc != 0 and failed == 0):
        print(f"{label}: exited {meson_rc} without a failing test in its log; counting it as a failure")
        failed += 1
    print(f"{label}: {passed} passed, {failed} failed")
    total_passed, total_failed = total_passed + passed, total_failed + failed
print(f"{total_passed} passed, {total_failed} failed")
sys.exit(1 if total_failed or any_rc else 0)
PY
}

# Configure build-fuzz with clang and -Dfuzz=true, build the fuzz targets,
# run each for $1 seconds on a scratch copy of its corpus (the seed corpus
# in tests/fuzz/corpus is read, never written). Prints executions per
# target; fails naming every crash / leak / timeout / oom file written.
run_fuzzers() {
  local seconds=$1 dir=${PROCD_FUZZ_BUILD_DIR:-build-fuzz}
  case "$seconds" in '' | *[!0-9]*) die "fuzz: SECONDS must be a number, got '$seconds'" ;; esac
  command -v "$FUZZ_CXX" >/dev/null 2>&1 || die "fuzz: $FUZZ_CXX not found"
  if [ ! -f "$dir/build.ninja" ]; then
    say "meson setup $dir (CXX=$FUZZ_CXX, -Dfuzz=true)"
    local wipe=()
    [ -d "$dir" ] && wipe=(--wipe)  # a half-configured directory
    CXX=$FUZZ_CXX meson setup "${wipe[@]}" "$dir" --wrap-mode=nodownload -Dfuzz=true
  fi
  say "ninja -C $dir fuzz-targets"
  ninja -C "$dir" fuzz-targets
  local t run log failed=() crashes
  for t in "${FUZZ_TARGETS[@]}"; do
    run="$dir/fuzz-run/$t"
    rm -rf "$run"
    mkdir -p "$run/corpus" "$run/artifacts"
    log="$run/fuzz.log"
    say "fuzz $t for ${seconds}s (log: $log)"
    set +e
    # -max_len: inputs up to 1 MiB (libFuzzer's default is 4 KiB; the
    # crashes of issue 26 needed 30-60 KB lines and 100,000-level nesting).
    "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$FUZZ_MAX_LEN" \
      -print_final_stats=1 -artifact_prefix="$run/artifacts/" \
      "$run/corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
    local rc=$?
    set -e
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    crashes=$(find "$run/artifacts" -type f | sort)
    printf '%-12s %10s executions  exit %d\n' "$t" "${execs:-?}" "$rc"
    if [ "$rc" -ne 0 ] || [ -n "$crashes" ]; then
      failed+=("$t")
      printf '  crash input: %s\n' ${crashes:-"(none written; see $log)"}
      grep -m 3 -E '^==[0-9]+==ERROR|runtime error|fuzz invariant failed|uncaught exception|deadly signal' "$log" |
        sed 's/^/  /' || true
    fi
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    die "fuzz: crashes in: ${failed[*]} (minimise: $dir/tests/fuzz/fuzz_T -minimize_crash=1 -runs=10000 FILE)"
  fi
  say "fuzz: no crashes in ${FUZZ_TARGETS[*]}"
}

# Wall time per tier of `test`, printed before the summary (README quotes a
# cold run's figures). tier_done LABEL: the time since the previous mark.
TIER_TIMES=()
TIER_MARK=$SECONDS
tier_done() {
  TIER_TIMES+=("$(printf 'time: %-34s %5d s' "$1" $((SECONDS - TIER_MARK)))")
  TIER_MARK=$SECONDS
}
print_tier_times() {
  local t
  for t in "${TIER_TIMES[@]}"; do echo "$t"; done
}

# A step that fails before any test runs still ends with the summary line.
fail_before_tests() { die "$1 failed"; }

cmd=${1:-}
[ $# -gt 0 ] && shift

case "$cmd" in
  deps)
    ensure_packages
    ;;
  build)
    ensure_packages
    configure "$BUILD_DIR"
    build "$BUILD_DIR"
    ;;
  demo)
    ensure_packages
    configure "$BUILD_DIR"
    build "$BUILD_DIR"
    [ -f examples/procd.toml ] || die "examples/procd.toml not found"
    say "procd check"
    "$BUILD_DIR/procd" -c examples/procd.toml check
    say "procd run (Ctrl-C to stop)"
    exec "$BUILD_DIR/procd" -c examples/procd.toml run
    ;;
  test)
    SUMMARY_ON_FAIL=1
    PACKAGES+=("${TEST_PACKAGES[@]}")
    ensure_packages || fail_before_tests "installing packages"
    tier_done "install (apt-get)"
    configure "$BUILD_DIR" || fail_before_tests "meson setup"
    build "$BUILD_DIR" || fail_before_tests "build"
    run_suite "$BUILD_DIR" "$@"
    results=("build" "$BUILD_DIR/meson-logs/testlog.json" "$SUITE_RC")
    tier_done "plain build + tests"
    # The same suites under AddressSanitizer + UBSan (halt on the first
    # report): a memory error fails CI. PROCD_SANITIZE=0 skips this run.
    # -O0 with line tables only (-g1): this build is most of CI's time, and
    # at -O1 -g one test file took 89 s to compile against 13 s here; the
    # reports keep their function names and lines.
    if [ "${PROCD_SANITIZE:-1}" = 1 ]; then
      san_rc=0
      CONFIGURE_WERROR=0 configure "$SAN_DIR" -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=0 -Ddebug=false -Dcpp_args=-g1 || san_rc=$?
      [ "$san_rc" = 0 ] && { build "$SAN_DIR" || san_rc=$?; }
      if [ "$san_rc" = 0 ]; then
        ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=0 \
          UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 SUITE_TIMEOUT_MULTIPLIER=$((TIMEOUT_MULTIPLIER * 2)) \
          PROCD_TEST_SLOWDOWN=3 \
          run_suite "$SAN_DIR" "$@"
        results+=("sanitizers (address,undefined)" "$SAN_DIR/meson-logs/testlog.json" "$SUITE_RC")
      else
        results+=("sanitizers (address,undefined): build failed" "/nonexistent" "$san_rc")
      fi
      tier_done "ASan+UBSan build + tests"
    fi
    # The end-to-end tier (tests/e2e/e2e.py): the Docker image under podman,
    # the .deb under systemd. Not when ARGS pick tests; PROCD_E2E=0 skips it.
    if [ "${PROCD_E2E:-1}" = 1 ] && [ $# -eq 0 ]; then
      e2e_log="$BUILD_DIR/meson-logs/e2e.txt"
      e2e_rc=0
      PACKAGES+=("${E2E_PACKAGES[@]}")
      if ensure_packages; then
        python3 -u tests/e2e/e2e.py 2>&1 | tee "$e2e_log" || e2e_rc=$?
      else
        echo "RESULT: 0 passed, 1 failed (installing the e2e packages failed)" >"$e2e_log"
        e2e_rc=1
      fi
      results+=("e2e (podman, systemd)" "$e2e_log" "$e2e_rc")
      tier_done "e2e (install + podman + systemd)"
    fi
    print_tier_times
    TIER_MARK=0
    tier_done "total"
    print_tier_times | tail -n 1
    summarize "${results[@]}"
    ;;
  simulate)
    n=${1:-2000}
    case "$n" in '' | *[!0-9]*) die "simulate: N must be a number, got '$n'" ;; esac
    ensure_packages
    configure "$BUILD_DIR"
    build "$BUILD_DIR"
    exec "$BUILD_DIR/tests/sim/sim" --regressions tests/sim/regressions.txt \
      --known-defects tests/sim/known_failures.txt --seeds "$n"
    ;;
  e2e)
    PACKAGES+=("${E2E_PACKAGES[@]}")
    ensure_packages || { echo "RESULT: 0 passed, 1 failed"; die "installing the e2e packages failed"; }
    exec python3 -u tests/e2e/e2e.py "$@"
    ;;
  fuzz)
    PACKAGES+=("${FUZZ_PACKAGES[@]}")
    ensure_packages
    run_fuzzers "${1:-30}"
    ;;
  *)
    sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
