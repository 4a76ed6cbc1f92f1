#!/usr/bin/env python3
"""Shutdown time of N services whose process groups outlive their main
process, without cgroups (Daemon layer 2, item 5: 200 such services took
32 s to stop, every reap asking every draining service for a /proc pass).

Service i is

    sh -c 'trap "sleep D; exit 0" TERM; (trap "" TERM; exec sleep 1000 >/dev/null 2>&1) & wait'

with D = 5*i ms mod 1 s: the leader exits D after SIGTERM (the reaps and
drain deadlines spread over a second instead of one batch); its child
(same group, reparented to procd, the subreaper) ignores SIGTERM and does
not hold the output pipes (were it to, the drain would wait for their EOF
and never ask about the group). So every service drains: procd signals
what is left of the group, and SIGKILLs it at the drain deadline (1 s
after the exit). For each binary (--procd, repeatable: a baseline copy and
the new build, alternated run by run in the same session) and each N,
procd is started with PROCD_CGROUP_ROOT=/nonexistent/x (no cgroups), all N
services are awaited running, then `procd stop` (shut down) is sent and
procd is timed from that command until it exited. Medians (min-max) are
printed as markdown. A measurement, not a test: nothing is asserted.

    python3 bench/drain_stop_bench.py --procd /tmp/procd-base --procd build/procd [--n 100 --n 200] [--reps 3]

Everything it starts is ended by PID: procd (SIGKILL after 120 s), then
every process still alive whose process group is one of the services'
(leaders' PIDs reported by `status`).
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



def command(i):
    # Leader i exits 5*i ms (mod 1 s) after SIGTERM: the exits, and so the
    # reaps and the drain deadlines, are spread over a second, as when
    # services take their time to stop, instead of arriving in one batch.
    delay = "0.%03d" % (i * 5 % 1000)
    return '["sh", "-c", "trap \\"sleep %s; exit 0\\" TERM; (trap \\"\\" TERM; exec sleep 1000 >/dev/null 2>&1) & wait"]' % delay


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


def members_of(groups):
    """Live PIDs whose process group is in `groups`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            out.append(int(name))
    return out


def one_run(procd, n):
    d = tempfile.mkdtemp(prefix="procd-drainbench-")
    conf = os.path.join(d, "procd.toml")
    with open(conf, "w") as fh:
        fh.write('name = "drainbench"\nhot_reload = false\n[logging]\nfile = "%s"\n'
                 '[monitoring]\ntrack_resources = false\n' % os.path.join(d, "procd.log"))
        for i in range(n):
            fh.write('[services.s%d]\ncommand = %s\n' % (i, command(i)))
    env = dict(os.environ, PROCD_CGROUP_ROOT="/nonexistent/x")
    sock_path = os.path.join(d, ".procd.sock")
    groups = set()
    proc = subprocess.Popen([procd, "-c", conf, "run"], stdin=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                svcs = status(sock_path)["services"]
                groups.update(x["pid"] for x in svcs if x.get("pid"))
                if sum(x["state"] == "running" for x in svcs) == n:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("%s: %d services not running after 120 s" % (procd, n))
        time.sleep(0.5)  # every sh has started its child
        t0 = time.monotonic()
        subprocess.run([procd, "-c", conf, "stop"], stdout=subprocess.DEVNULL, timeout=120, check=False)
        proc.wait(timeout=120)
        return time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in members_of(groups):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procd", action="append", help="binary to time (repeatable)")
    ap.add_argument("--n", type=int, action="append", help="services (repeatable; default 100 and 200)")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    binaries = args.procd or [os.environ.get("PROCD_BIN", "build/procd")]
    for b in binaries:
        if not os.access(b, os.X_OK):
            sys.exit("no procd binary at %s" % b)
    results = {}
    for n in args.n or [100, 200]:
        for rep in range(args.reps):
            for b in binaries:
                stop = one_run(b, n)
                results.setdefault((n, b), []).append(stop)
                print("# N=%d %s rep %d: stop %.2f s" % (n, b, rep + 1, stop), file=sys.stderr, flush=True)
    print("| N | binary | procd stop until exit (s), median (min–max) |")
    print("|---|---|---|")
    for (n, b), runs in results.items():
        print("| %d | %s | %.2f (%.2f–%.2f) |" % (n, b, statistics.median(runs), min(runs), max(runs)))


if __name__ == "__main__":
    main()
