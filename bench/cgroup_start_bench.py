#!/usr/bin/env python3
"""Start-up and shutdown time of N `sleep 3600` services with and without a
cgroup per service (issue 13 follow-up: spawning into the cgroup).

For each binary (--procd, repeatable: e.g. a baseline copy and the new
build, run side by side in the same session), each N and each mode, procd
is started on a fresh config and timed until `status` says all N services
are running (from the fork of procd; `status` is asked every 20 ms on one
connection), then SIGTERMed and timed until it exited (every service
stopped). Modes: "cgroup" (procd's default where it may create cgroups:
root with cgroup v2) and "no-cgroup" (PROCD_CGROUP_ROOT=/nonexistent, the
documented way to point discovery at nothing); "cgroup-fork" is "cgroup"
with PROCD_NO_CLONE3=1 (fork, then cgroup.procs: what procd does where
clone3 fails, and what it always did before). Runs alternate binaries and
modes within each repetition; medians (min-max) are printed as markdown.

    python3 bench/cgroup_start_bench.py --procd /tmp/procd-base --procd build/procd \
        [--n 1000 --n 200] [--reps 3] [--modes cgroup,cgroup-fork,no-cgroup] [--env K=V]

Everything it starts is stopped by PID: procd by SIGTERM (SIGKILL after
60 s), then any service PID it reported that is still alive, and a cgroup
subtree it left (named after the bench's PID file) is emptied and removed.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def status(sock_path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(sock_path)
        s.sendall(b'{"v":1,"cmd":"status"}\n')
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise OSError("closed")
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])
    finally:
        s.close()


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cgroup_base(log_path):
    try:
        with open(log_path) as fh:
            for line in fh:
                if "services under " in line:
                    return line.split("services under ", 1)[1].split(" (", 1)[0]
    except OSError:
        pass
    return None


def remove_tree(base):
    if not base or not os.path.isdir(base):
        return
    for sub in sorted(os.listdir(base)):
        if os.path.isdir(os.path.join(base, sub)):
            remove_tree(os.path.join(base, sub))
    try:
        if not base.endswith("/supervisor") and open(os.path.join(base, "cgroup.procs")).read().split():
            with open(os.path.join(base, "cgroup.kill"), "w") as fh:
                fh.write("1")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.rmdir(base)
                return
            except OSError:
                time.sleep(0.05)
    except OSError:
        pass


def one_run(procd, n, mode, extra_env):
    d = tempfile.mkdtemp(prefix="procd-cgbench-")
    conf = os.path.join(d, "procd.toml")
    log = os.path.join(d, "procd.log")
    with open(conf, "w") as fh:
        fh.write('name = "cgbench"\nhot_reload = false\n[logging]\nfile = "%s"\n'
                 '[monitoring]\ntrack_resources = false\n' % log)
        for i in range(n):
            fh.write('[services.s%d]\ncommand = ["sleep", "3600"]\n' % i)
    env = dict(os.environ)
    env.update(extra_env)
    if mode == "no-cgroup":
        env["PROCD_CGROUP_ROOT"] = "/nonexistent/procd-cgbench"
    elif mode == "cgroup-fork":
        env["PROCD_NO_CLONE3"] = "1"
    sock_path = os.path.join(d, ".procd.sock")
    pids = set()
    t0 = time.monotonic()
    proc = subprocess.Popen([procd, "-c", conf, "run"], stdin=subprocess.DEVNULL, env=env)
    start = stop = None
    try:
        deadline = t0 + 120
        while time.monotonic() < deadline:
            try:
                doc = status(sock_path)
                svcs = doc["services"]
                pids.update(x["pid"] for x in svcs if x.get("pid"))
                if sum(x["state"] == "running" for x in svcs) == n:
                    start = time.monotonic() - t0
                    break
            except (OSError, ValueError, KeyError):
                pass
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        if start is None:
            raise RuntimeError("%s: %d services not running after 120 s" % (procd, n))
        if mode.startswith("cgroup") and not cgroup_base(log):
            raise RuntimeError("%s: cgroup mode asked but procd uses no cgroups here (see %s)" % (procd, log))
        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        stop = time.monotonic() - t1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        remove_tree(cgroup_base(log))
        shutil.rmtree(d, ignore_errors=True)
    return start, stop


def fmt(values):
    return "%.2f (%.2f–%.2f)" % (statistics.median(values), min(values), max(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procd", action="append", help="binary to time (repeatable)")
    ap.add_argument("--n", type=int, action="append", help="services (repeatable; default 1000 and 200)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="cgroup,no-cgroup")
    ap.add_argument("--env", action="append", default=[], help="K=V for every procd (repeatable)")
    args = ap.parse_args()
    binaries = args.procd or [os.environ.get("PROCD_BIN", "build/procd")]
    ns = args.n or [1000, 200]
    modes = args.modes.split(",")
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    for b in binaries:
        if not os.access(b, os.X_OK):
            sys.exit("no procd binary at %s" % b)
    results = {}
    for n in ns:
        for rep in range(args.reps):
            for mode in modes:
                for b in binaries:
                    start, stop = one_run(b, n, mode, extra_env)
                    results.setdefault((n, mode, b), []).append((start, stop))
                    print("# N=%d %s %s rep %d: start %.2f s, stop %.2f s" % (n, mode, b, rep + 1, start, stop),
                          file=sys.stderr, flush=True)
    print("| N | mode | binary | all running (s) | stop (s) |")
    print("|---|---|---|---|---|")
    for (n, mode, b), runs in results.items():
        print("| %d | %s | %s | %s | %s |" % (n, mode, b, fmt([r[0] for r in runs]), fmt([r[1] for r in runs])))


if __name__ == "__main__":
    main()
