#!/usr/bin/env python3
"""Soak benchmark for procd (issue 11): one procd, many kill -> restart
cycles and reloads, and whether anything grows.

    python3 bench/soak.py [--procd build/procd] [--cycles 10000] [--reloads 1000]
                          [--delay-ms 1] [--latency-requests 200]

Phases, against one `procd -c FILE run` in a temp directory (its own socket,
PID file and log):
  1. `--cycles` times: SIGKILL the service `victim` (restart always,
     `--delay-ms`) by its PID, then wait on an `events` stream of the control
     socket for `victim` running again under a new PID;
  2. `--reloads` times: rewrite the config, alternating two variants that
     differ in the command of the service `churn`, send `reload` over the
     control socket, and wait for `churn` running under a new PID.
Samples at start, after warm-up (the first 5 % of the cycles), mid-cycles,
after the cycles, mid-reloads and at the end: procd's VmRSS, its open fd
count, zombies among its children, and the median / p99 of `status` round
trips on one connection. Prints a markdown table and a verdict (RSS and fd
growth from the warm-up sample to the end < 1 %, no zombie, median within
1.5x + 0.05 ms and p99 within 2x + 1 ms of the warm-up's; p99 over 200
requests is the 2nd slowest, so a loaded machine moves it). Not a test:
meson does not run it. Exit status 1 when the verdict fails. Everything it
starts is stopped by PID at the end.
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
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WAIT_S = 10  # bound on every single wait


class Control:
    """One JSON-lines connection to procd's control socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(WAIT_S)
        self.sock.connect(path)
        self.buf = b""

    def send(self, obj):
        self.sock.sendall((json.dumps(obj) + "\n").encode())

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("procd closed the control connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, obj):
        self.send(obj)
        reply = self.line()
        if not reply.get("ok"):
            raise RuntimeError("procd refused %s: %s" % (obj, reply))
        return reply

    def close(self):
        self.sock.close()


class Events:
    """An `events` stream; wait_running() reads it until a service runs under a new PID."""

    def __init__(self, path):
        self.ctl = Control(path)
        self.ctl.send({"v": 1, "cmd": "events"})
        head = self.ctl.line()
        if not head.get("stream"):
            raise RuntimeError("no event stream: %s" % head)

    def wait_running(self, service, old_pid):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            e = self.ctl.line()
            if e.get("service") == service and e.get("state") == "running" and e.get("pid") not in (None, old_pid):
                return e["pid"]
        raise RuntimeError("%s not running again within %d s" % (service, WAIT_S))


def config_text(d, marker, variant):
    return (
        'name = "soak"\nhot_reload = false\npid_file = "%s/procd.pid"\n'
        '[control]\nsocket = "%s/procd.sock"\n'
        '[logging]\nlevel = "info"\nfile = "%s/procd.log"\n'
        '[monitoring]\ntrack_resources = false\n'
        '[services.victim]\ncommand = ["sleep", "3600", "%s"]\n'
        'restart = { policy = "always", delay_ms = DELAY }\n'
        '[services.churn]\ncommand = ["sleep", "%d", "%s"]\n'
        'restart = "always"\n'
        '[services.steady]\ncommand = ["sleep", "3600", "%s"]\n'
    ) % (d, d, d, marker, 3600 + variant, marker, marker)


def proc_status_kb(pid, key):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def zombie_children(ppid):
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if parts[0] == "Z" and int(parts[1]) == ppid:
            n += 1
    return n


def service_pid(ctl, name):
    for s in ctl.call({"v": 1, "cmd": "status", "names": [name]})["services"]:
        if s["name"] == name and s["state"] == "running":
            return s["pid"]
    return None


def sample(label, procd_pid, sock_path, requests):
    ctl = Control(sock_path)  # a fresh one: procd closes a connection idle for long
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        ctl.call({"v": 1, "cmd": "status"})
        times.append((time.perf_counter() - t0) * 1000)
    # Read while this connection is open (counted) and after the requests
    # gave procd time to finish closing what the last cycle left.
    s = {
        "label": label,
        "rss_kb": proc_status_kb(procd_pid, "VmRSS"),
        "fds": len(os.listdir("/proc/%d/fd" % procd_pid)),
        "zombies": zombie_children(procd_pid),
    }
    ctl.close()
    times.sort()
    s.update({
        "median_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
    })
    return s


def growth(first, last):
    return 0.0 if first == 0 else (last - first) * 100.0 / first


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procd", default=os.environ.get("PROCD_BIN") or os.path.join(ROOT, "build", "procd"))
    ap.add_argument("--cycles", type=int, default=10000)
    ap.add_argument("--reloads", type=int, default=1000)
    ap.add_argument("--delay-ms", type=int, default=1, help="victim's restart delay_ms")
    ap.add_argument("--latency-requests", type=int, default=200)
    args = ap.parse_args()
    args.procd = os.path.abspath(args.procd)  # procd runs in the temp directory
    if not os.access(args.procd, os.X_OK):
        sys.exit("no procd binary at %s" % args.procd)

    d = tempfile.mkdtemp(prefix="procd-soak-")
    # GNU sleep adds up its arguments: a tiny unique number is a marker it accepts.
    marker = "0.000000%d" % (uuid.uuid4().int % 10**12)
    conf = os.path.join(d, "procd.toml")

    def write_config(variant):
        tmp = conf + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(config_text(d, marker, variant).replace("DELAY", str(args.delay_ms)))
        os.rename(tmp, conf)

    write_config(0)
    sock_path = os.path.join(d, "procd.sock")
    with open(os.path.join(d, "stderr.txt"), "wb") as err:
        proc = subprocess.Popen([args.procd, "-c", conf, "run"], stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=d)
    samples = []
    started = time.monotonic()
    try:
        deadline = time.monotonic() + WAIT_S
        ctl = None
        while time.monotonic() < deadline:
            try:
                ctl = Control(sock_path)
                if service_pid(ctl, "victim") and service_pid(ctl, "churn"):
                    break
                ctl.close()
            except (OSError, RuntimeError, ValueError):
                pass
            ctl = None
            time.sleep(0.05)
        if ctl is None:
            raise RuntimeError("procd did not start its services within %d s" % WAIT_S)
        events = Events(sock_path)
        take = lambda label: samples.append(sample(label, proc.pid, sock_path, args.latency_requests))
        pid = service_pid(ctl, "victim")
        ctl.close()  # from here on: the event stream, and one connection per sample or reload
        take("start")

        warm = max(1, args.cycles // 20)
        checkpoints = {warm: "warm-up (%d cycles)" % warm, args.cycles // 2: "cycles / 2", args.cycles: "cycles done"}
        t0 = time.monotonic()
        for i in range(1, args.cycles + 1):
            os.kill(pid, signal.SIGKILL)
            pid = events.wait_running("victim", pid)
            if i in checkpoints:
                take(checkpoints[i])
        cycles_s = time.monotonic() - t0

        ctl = Control(sock_path)
        churn = service_pid(ctl, "churn")
        ctl.close()
        t0 = time.monotonic()
        for i in range(1, args.reloads + 1):
            write_config(i % 2)
            ctl = Control(sock_path)  # one per reload, so the samples count the same connections as above
            ctl.call({"v": 1, "cmd": "reload"})
            ctl.close()
            churn = events.wait_running("churn", churn)
            if i == args.reloads // 2:
                take("reloads / 2")
        reloads_s = time.monotonic() - t0
        time.sleep(0.2)  # let any last exit be reaped before the zombie count
        take("end")
        events.ctl.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        leftovers = sweep(marker)
        shutil.rmtree(d, ignore_errors=True)

    report(args, samples, cycles_s, reloads_s, time.monotonic() - started, leftovers)


def sweep(marker):
    """SIGKILL, by PID, any process of ours that outlived procd; returns how many."""
    n = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as fh:
                if marker.encode() not in fh.read():
                    continue
            os.kill(int(p), signal.SIGKILL)
            n += 1
        except OSError:
            pass
    return n


def report(args, samples, cycles_s, reloads_s, total_s, leftovers):
    print("procd soak: %d kill/restart cycles in %.1f s (%.2f ms each), %d reloads in %.1f s (%.2f ms each); %.1f s total"
          % (args.cycles, cycles_s, cycles_s * 1000 / max(1, args.cycles), args.reloads, reloads_s,
             reloads_s * 1000 / max(1, args.reloads), total_s))
    print("binary: %s; victim delay_ms = %d; latency: %d sequential `status` round trips, one connection\n"
          % (args.procd, args.delay_ms, args.latency_requests))
    print("| sample | RSS (KiB) | open fds | zombies | status median (ms) | status p99 (ms) |")
    print("|---|---|---|---|---|---|")
    for s in samples:
        print("| %s | %d | %d | %d | %.3f | %.3f |" % (s["label"], s["rss_kb"], s["fds"], s["zombies"], s["median_ms"], s["p99_ms"]))
    base = samples[1] if len(samples) > 2 else samples[0]
    end = samples[-1]
    rss_g, fd_g = growth(base["rss_kb"], end["rss_kb"]), growth(base["fds"], end["fds"])
    latency_ok = end["median_ms"] <= 1.5 * base["median_ms"] + 0.05 and end["p99_ms"] <= 2 * base["p99_ms"] + 1.0
    ok = rss_g < 1.0 and fd_g < 1.0 and end["zombies"] == 0 and latency_ok and leftovers == 0
    print("\nfrom '%s' to the end: RSS %+.2f %%, fds %+.2f %%, zombies at the end %d, "
          "median %.3f -> %.3f ms, p99 %.3f -> %.3f ms, "
          "processes left after procd exited %d: %s"
          % (base["label"], rss_g, fd_g, end["zombies"], base["median_ms"], end["median_ms"], base["p99_ms"], end["p99_ms"],
             leftovers, "PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
