#!/usr/bin/env python3
"""Control-socket figures for procd (issue 4): `status` round-trip latency
(median, p90, p99 over sequential requests on one connection and on fresh
connections) and requests per second with 8 parallel clients, at N = 100
`sleep` services. Also times the whole `procd status --json` CLI (process
start included) as a user sees it. Prints a markdown table.

    python3 bench/control_bench.py [--procd build-bench/procd] [--n 100]
                                   [--requests 2000] [--seconds 5] [--clients 8]

Everything it starts (one procd and its services) is stopped by PID at the end.
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
import threading
import time


def request(sock, buf, msg=b'{"v":1,"cmd":"status"}\n'):
    sock.sendall(msg)
    while b"\n" not in buf[0]:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("procd closed the connection")
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\n", 1)
    return line


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--procd", default=os.environ.get("PROCD_BIN") or os.path.join(root, "build-bench", "procd"))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    if not os.access(args.procd, os.X_OK):
        sys.exit("no procd binary at %s (build it: bench/run.sh builds build-bench/)" % args.procd)

    d = tempfile.mkdtemp(prefix="procd-ctlbench-")
    conf = os.path.join(d, "procd.toml")
    with open(conf, "w") as fh:
        fh.write('name = "ctlbench"\nhot_reload = false\n[logging]\nfile = "%s/procd.log"\n'
                 '[monitoring]\ntrack_resources = false\n' % d)
        for i in range(args.n):
            fh.write('[services.s%d]\ncommand = ["sleep", "3600"]\n' % i)
    proc = subprocess.Popen([args.procd, "-c", conf, "run"], stdin=subprocess.DEVNULL)
    sock_path = os.path.join(d, ".procd.sock")
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock_path)
                doc = json.loads(request(s, [b""]))
                s.close()
                if sum(x["state"] == "running" for x in doc["services"]) == args.n:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        else:
            sys.exit("procd did not get %d services running in 30 s" % args.n)

        # 1. one persistent connection, sequential requests
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock_path)
        buf = [b""]
        for _ in range(50):
            request(s, buf)  # warm-up
        lat = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            request(s, buf)
            lat.append((time.perf_counter() - t0) * 1e3)
        size = len(request(s, buf))
        s.close()

        # 2. a fresh connection per request (what the CLI does)
        fresh = []
        for _ in range(min(500, args.requests)):
            t0 = time.perf_counter()
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock_path)
            request(c, [b""])
            c.close()
            fresh.append((time.perf_counter() - t0) * 1e3)

        # 3. N parallel clients (processes would measure python more than procd: threads release the GIL on I/O)
        counts = [0] * args.clients
        stop = time.time() + args.seconds

        def worker(i):
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock_path)
            b = [b""]
            while time.time() < stop:
                request(c, b)
                counts[i] += 1
            c.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rps = sum(counts) / (time.time() - t0)

        # 4. the CLI end to end
        cli = []
        for _ in range(30):
            t0 = time.perf_counter()
            subprocess.run([args.procd, "-c", conf, "status", "--json"], stdout=subprocess.DEVNULL, check=True)
            cli.append((time.perf_counter() - t0) * 1e3)

        print("procd control socket, N = %d services, status reply %d bytes" % (args.n, size))
        print()
        print("| measurement | median | p90 | p99 |")
        print("|---|---|---|---|")
        print("| status round trip, one connection (ms) | %.3f | %.3f | %.3f |" % (statistics.median(lat), pct(lat, .9), pct(lat, .99)))
        print("| status round trip, fresh connection (ms) | %.3f | %.3f | %.3f |" % (statistics.median(fresh), pct(fresh, .9), pct(fresh, .99)))
        print("| `procd status --json` CLI, whole process (ms) | %.2f | %.2f | %.2f |" % (statistics.median(cli), pct(cli, .9), pct(cli, .99)))
        print()
        print("%d parallel clients for %.0f s: %.0f status requests/s (%s per client)"
              % (args.clients, args.seconds, rps, ", ".join(str(c) for c in counts)))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
