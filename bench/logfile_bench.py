#!/usr/bin/env python3
"""procd log throughput, against `writer | cat > file`: to a per-service
file, and through procd's own log (text, JSON, and stderr piped to cat).

The shared harness (../shared/bench-peers) measures procd's log path with
service output going to procd's own log (`sN | line`). The issue's target is
about a per-service file (`[services.s0.log] file = ...`), so this script
reuses the harness's own test code (lib/tests.py: test_logs / test_raw_log,
same writer tools/logwriter.py, 200 MiB of 100-byte lines, same 10 ms
polling) with a procd driver that differs from drivers/procd.py only in
adding, for the logging service:

    [services.s0.log]
    file = "<scratch>/s0.log"
    timestamps = false

so the file must end up holding exactly the bytes written (log_count =
"bytes"). Nothing in the shared harness is modified.

The own-log kinds (`own`, `own-json`, `stderr`) are the harness's `logs`
test with one change: the harness counts `s0 | ` lines in python every
10 ms, which alone takes ~1.1 s for 200 MiB (9x `cat`), so it measures its
own counter. Here the log's size is followed instead: every line of
procd's own log has the same length (fixed-width timestamp, ASCII payload),
so the file holds everything exactly when it reaches lines x line length
(plus procd's own messages, counted before the writer starts); the lines
are then counted and checked once, outside the timed window.

usage: PROCD_BIN=... python3 bench/logfile_bench.py [--reps 3] [--bytes N] [--kinds file,own,own-json,stderr] [--out F.jsonl]

Each measurement runs in a worker (this file, --worker) under
`timeout -k 15 480`, with PBENCH_RUN=<runid> in the environment of
everything it starts; afterwards the controller SIGKILLs by PID whatever
still carries that marker (the harness's common.sweep) and reports it.
Raw and procd runs alternate so both see the same machine state.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HARNESS = Path(os.environ.get("PBENCH_HARNESS", HERE.parent.parent / "shared" / "bench-peers"))
if not (HARNESS / "run.py").exists():
    sys.exit("logfile_bench.py: peer harness not found at %s (set PBENCH_HARNESS)" % HARNESS)
sys.path.insert(0, str(HARNESS))

from lib import common  # noqa: E402
from drivers import procd as procd_drv  # noqa: E402


class ProcdFileDriver(procd_drv.Driver):
    """drivers/procd.py, but services with log=True write to their own file."""
    name = "procd-file"
    log_count = "bytes"

    def write_config(self, services):
        super().write_config(services)
        extra = []
        for s in services:
            if s.log:
                extra += ["", "[services.%s.log]" % s.name,
                          "file = %s" % procd_drv._toml_str(self._svc_log(s.name)),
                          "timestamps = false",
                          "max_file_size = 4294967296"]
        with open(self.conf, "a") as f:
            f.write("\n".join(extra) + "\n")

    def _svc_log(self, name):
        return self.dir / ("%s.log" % name)

    def log_paths(self, service_name):
        return [self._svc_log(service_name)]


class ProcdJsonDriver(procd_drv.Driver):
    """drivers/procd.py with `[logging] json = true`."""
    name = "procd-own-json"

    def write_config(self, services):
        super().write_config(services)
        text = self.conf.read_text().replace("[logging]\n", "[logging]\njson = true\n", 1)
        self.conf.write_text(text)


class ProcdStderrDriver(procd_drv.Driver):
    """drivers/procd.py without `[logging] file`: procd's stderr piped to `cat > file`."""
    name = "procd-stderr"

    def write_config(self, services):
        super().write_config(services)
        lines = [l for l in self.conf.read_text().splitlines() if not l.startswith(("file =", "max_file"))]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self):
        out = open(self.dir / "stderr.log", "wb")
        self.cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=out, env=self.env, start_new_session=True)
        self.proc = self.popen([self.bin, "-c", str(self.conf), "run"], stdout=self.cat.stdin, stderr=self.cat.stdin)
        self.cat.stdin.close()
        out.close()

    def log_paths(self, service_name):
        return [self.dir / "stderr.log"]


OWN_KINDS = {"own": procd_drv.Driver, "own-json": ProcdJsonDriver, "stderr": ProcdStderrDriver}


def own_line_length(kind, payload):
    """Length of one own-log line of service s0 carrying `payload` (with its newline)."""
    ts = "2026-01-02T03:04:05.678Z"
    body = payload.rstrip(b"\n").decode()
    if kind == "own-json":
        return len('{"ts":"%s","level":"info","service":"s0","stream":"stdout","msg":"%s"}\n' % (ts, body))
    return len("%s INFO  s0 | %s\n" % (ts, body))


def count_payload(paths, kind):
    """Payload bytes (newline included) of the writer's lines in procd's own log
    (lines whose message starts with the writer's 11-digit number)."""
    tag = b'"service":"s0","stream":"stdout","msg":"' if kind == "own-json" else b" s0 | "
    total = 0
    for p in paths:
        with open(p, "rb") as fh:
            for line in fh:
                i = line.find(tag)
                if i < 0:
                    continue
                msg = line[i + len(tag):]
                if msg[:11].isdigit() and msg[11:12] == b" ":
                    total += len(msg) - (2 if kind == "own-json" else 0)  # JSON: drop `"}` before the newline
    return total


def test_own_log(kind, runid, total):
    """The harness's test_logs through procd's own log, timed on the log's size."""
    from lib import tests, tools
    from drivers.base import Service
    total = total // 100 * 100
    ctx = tests.Ctx(runid)
    res = {"test": kind, "bytes": total}
    try:
        fifo = ctx.dir / "go.fifo"
        os.mkfifo(fifo)
        done = ctx.dir / "writer.done"
        argv = [sys.executable, tools.logwriter(), str(fifo), str(total), str(done), common.sleep_arg(runid, 0)]
        d, _, ts = tests._start_all(ctx, OWN_KINDS[kind], 1, log_services=[Service("s0", argv, log=True)])
        if not ts:
            res["error"] = "writer did not start"
            return res
        paths = d.log_paths("s0")
        size = lambda: tests._size(paths)  # noqa: E731
        time.sleep(0.3)  # procd's start-up messages are out
        base = size()
        expected = (total // 100) * own_line_length(kind, b"%011d " % 0 + b"x" * 87 + b"\n")
        t0 = tests._release_writer(fifo)
        t_done, _ = tests._follow_log(lambda: size() - base, expected, done, t0)
        time.sleep(0.5)
        got = count_payload(paths, kind)
        w0, w1, written = tests._writer_times(done)
        res.update(log_s=(t_done - t0) / 1e9 if t_done else None,
                   mib_per_s=(total / 1048576) / ((t_done - t0) / 1e9) if t_done else None,
                   writer_s=(w1 - w0) / 1e9 if w0 else None, written=written, logged=got,
                   lost_bytes=(written or total) - got)
    finally:
        if getattr(d, "cat", None) is not None:
            pass
        res.update(ctx.teardown())
    return res


def worker(args):
    from lib import tests
    common.set_subreaper()
    runid = os.environ["PBENCH_RUNID"]

    def on_term(signum, frame):
        raise SystemExit(124)
    signal.signal(signal.SIGTERM, on_term)
    kw = {"total": args.bytes} if args.bytes else {}
    if args.kind == "raw":
        res = tests.test_raw_log(None, 1, runid, **kw)
        res["driver"] = "(reference)"
    elif args.kind in OWN_KINDS:
        res = test_own_log(args.kind, runid, args.bytes or tests.LOG_TOTAL)
        res["driver"] = "procd-" + args.kind
    else:
        res = tests.test_logs(ProcdFileDriver, 1, runid, **kw)
        res["driver"] = "procd-file"
    res["runid"] = runid
    print("PBENCH-RESULT " + json.dumps(res), flush=True)


def measure(kind, nbytes, load_limit):
    la = common.wait_for_load(load_limit, log=common.eprint)
    runid = common.new_runid()
    argv = ["timeout", "-k", "15", "480", sys.executable, str(Path(__file__).resolve()),
            "--worker", "--kind", kind]
    if nbytes:
        argv += ["--bytes", str(nbytes)]
    env = dict(os.environ, PBENCH_RUNID=runid, PBENCH_WORKER="1")
    env.pop(common.ENV_MARK, None)
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    res = None
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.startswith("PBENCH-RESULT "):
            res = json.loads(line[len("PBENCH-RESULT "):])
    if res is None:
        res = {"test": kind, "error": "worker rc=%d: %s" % (p.returncode,
                                                            p.stderr.decode(errors="replace")[-600:])}
    swept = common.sweep(runid)
    common.rm_rf(common.SCRATCH / ("run-" + runid))
    res.update(load1_before=la, controller_swept=swept, leftover=len(common.find_ours(runid)))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--bytes", type=int)
    ap.add_argument("--out")
    ap.add_argument("--load-limit", type=float, default=3.0)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kinds", default="file,own,own-json,stderr")
    ap.add_argument("--kind", choices=["raw", "file"] + list(OWN_KINDS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if not procd_drv.procd_bin():
        sys.exit("logfile_bench.py: set PROCD_BIN to a procd binary")
    results = []
    for rep in range(args.reps):
        for kind in ["raw"] + args.kinds.split(","):
            common.eprint("[%s] log-to-file %s rep %d/%d" % (time.strftime("%H:%M:%S"), kind,
                                                             rep + 1, args.reps))
            r = measure(kind, args.bytes, args.load_limit)
            r["rep"] = rep
            results.append(r)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(r) + "\n")
            if r.get("error"):
                common.eprint("   error: %s" % r["error"][:400])
    print(report(results))


LABELS = {"(reference)": "cat > file", "procd-file": "per-service file", "procd-own": "own log (text, file)",
          "procd-own-json": "own log (JSON, file)", "procd-stderr": "own log (text, stderr | cat)"}


def report(results):
    S, F = common.summary, common.fmt_summary
    ok = [r for r in results if not r.get("error")]
    drivers = [d for d in LABELS if any(r.get("driver") == d for r in ok)]
    v = lambda d, k: [r[k] for r in ok if r.get("driver") == d and r.get(k) is not None]  # noqa: E731
    mib = max([r.get("bytes", 0) for r in results] or [0]) / 1048576.0
    out = ["| log %.0f MiB | %s |" % (mib, " | ".join(LABELS[d] for d in drivers)),
           "|---|" + "---|" * len(drivers)]
    for label, key in (("time (s)", "log_s"), ("throughput (MiB/s)", "mib_per_s"), ("bytes lost", "lost_bytes"),
                       ("writer blocked for (s)", "writer_s")):
        out.append("| %s | %s |" % (label, " | ".join(F(S(v(d, key))) for d in drivers)))
    raw = S(v("(reference)", "log_s"))
    if raw:
        cells = []
        for d in drivers[1:]:
            m = S(v(d, "log_s"))
            cells.append(F(m) if not m else "%.0f %%" % (100.0 * raw["median"] / m["median"]))
        out.append("| %% of cat (median time ratio) | — | %s |" % " | ".join(cells))
    errs = [r for r in results if r.get("error")]
    if errs:
        out.append("")
        out.append("Errors: " + "; ".join("%s: %s" % (r.get("driver", r.get("test")), r["error"][:200])
                                          for r in errs))
    left = sum(r.get("leftover", 0) for r in results)
    out.append("")
    out.append("leftover processes after sweep: %d" % left)
    return "\n".join(out)


if __name__ == "__main__":
    main()
