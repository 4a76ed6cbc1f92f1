#!/usr/bin/env python3
"""procd log throughput to a per-service file, against `writer | cat > file`.

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

usage: PROCD_BIN=... python3 bench/logfile_bench.py [--reps 3] [--bytes N] [--out F.jsonl]

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
    ap.add_argument("--kind", choices=["raw", "file"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if not procd_drv.procd_bin():
        sys.exit("logfile_bench.py: set PROCD_BIN to a procd binary")
    results = []
    for rep in range(args.reps):
        for kind in ("raw", "file"):
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


def report(results):
    S, F = common.summary, common.fmt_summary
    raw = [r for r in results if r.get("driver") == "(reference)" and not r.get("error")]
    fil = [r for r in results if r.get("driver") == "procd-file" and not r.get("error")]
    v = lambda rs, k: [r[k] for r in rs if r.get(k) is not None]  # noqa: E731
    mib = max([r.get("bytes", 0) for r in results] or [0]) / 1048576.0
    out = ["| log %.0f MiB to a per-service file | cat > file | procd `[services.s0.log] file` |" % mib,
           "|---|---|---|"]
    rs, fs = S(v(raw, "log_s")), S(v(fil, "log_s"))
    out.append("| time (s) | %s | %s |" % (F(rs), F(fs)))
    out.append("| throughput (MiB/s) | %s | %s |" % (F(S(v(raw, "mib_per_s"))), F(S(v(fil, "mib_per_s")))))
    out.append("| bytes lost | %s | %s |" % (F(S(v(raw, "lost_bytes"))), F(S(v(fil, "lost_bytes")))))
    out.append("| lines in file | — | %s |" % F(S(v(fil, "lines"))))
    out.append("| writer blocked for (s) | %s | %s |" % (F(S(v(raw, "writer_s"))), F(S(v(fil, "writer_s")))))
    if rs and fs:
        out.append("")
        out.append("procd throughput = %.0f %% of cat (median time ratio cat/procd)."
                   % (100.0 * rs["median"] / fs["median"]))
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
