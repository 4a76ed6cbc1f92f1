#!/usr/bin/env python3
"""HTTP endpoint figures: /metrics and /status latency (median, p90 of
sequential keep-alive GETs) at N = 100 and N = 1000 services (`sleep 3600`
each), and /healthz requests per second with 8 parallel keep-alive clients
(8 processes, each a raw socket sending one request at a time).

    PROCD_BIN=build-bench/procd python3 bench/http_bench.py [--requests 200] [--seconds 5]

Not a test: it prints a markdown table; targets (issue 12) are /metrics at
N=1000 under 5 ms median and >= 20000 /healthz requests/s. Every procd it
starts is stopped by PID (SIGTERM, then SIGKILL) and its services with it."""
import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PROCD = os.environ.get("PROCD_BIN") or os.path.join(os.path.dirname(__file__), "../build/procd")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    """A minimal keep-alive HTTP/1.1 client reading Content-Length bodies."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, path):
        self.s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        chunks, have = [rest], len(rest)
        while have < length:
            chunk = self.s.recv(1 << 20)
            chunks.append(chunk)
            have += len(chunk)
        rest = b"".join(chunks)
        self.buf = rest[length:]
        return int(head.split(b" ")[1]), rest[:length]


def start(n, port, d):
    cfg = os.path.join(d, "procd.toml")
    with open(cfg, "w") as fh:
        fh.write('name = "bench"\nhot_reload = false\n[control]\nhttp = "127.0.0.1:%d"\n' % port)
        fh.write('[logging]\nlevel = "warn"\nfile = "%s/procd.log"\n' % d)
        fh.write("[shutdown]\ngraceful = 10000\nforce = 15000\nkill = 20000\n")
        for i in range(n):
            fh.write('[services.s%d]\ncommand = ["sleep", "3600"]\n' % i)
    proc = subprocess.Popen([PROCD, "-c", cfg, "run"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=d)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            c = Client(port)
            status, _ = c.get("/readyz")
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("procd with %d services not ready in 60 s" % n)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def latency(port, path, requests):
    c = Client(port)
    for _ in range(10):
        c.get(path)  # warm up
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        status, body = c.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert status == 200, status
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)], len(body)


def hammer(port, seconds, out):
    c = Client(port)
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c.get("/healthz")
        n += 1
    out.put(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--sizes", default="100,1000")
    a = ap.parse_args()
    rows = []
    rps = None
    for n in [int(x) for x in a.sizes.split(",")]:
        d = tempfile.mkdtemp(prefix="procd-httpbench-")
        port = free_port()
        proc = start(n, port, d)
        try:
            for path in ("/metrics", "/status"):
                med, p90, size = latency(port, path, a.requests)
                rows.append("| %s | %d | %.2f | %.2f | %d |" % (path, n, med, p90, size))
            if rps is None:
                q = multiprocessing.Queue()
                workers = [multiprocessing.Process(target=hammer, args=(port, a.seconds, q)) for _ in range(8)]
                for w in workers:
                    w.start()
                total = sum(q.get(timeout=a.seconds + 30) for _ in workers)
                for w in workers:
                    w.join(timeout=10)
                rps = (total / a.seconds, n)
        finally:
            stop(proc)
            shutil.rmtree(d, ignore_errors=True)
    print("| path | services | median ms | p90 ms | bytes |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("/healthz, 8 keep-alive clients, %d services: %.0f requests/s" % (rps[1], rps[0]))


if __name__ == "__main__":
    sys.exit(main())
