"""Bounded I/O of the HTTP endpoint (README "Limits"): /logs?n= is bounded in
lines and bytes (and `procd logs -n` over the control socket), streaming
clients are capped apart from the rest and /healthz always has a slot, the
bytes queued for all clients together are bounded, and a reply's deadline
measures the client's progress, not the time since its request."""
import json
import os
import socket
import threading
import time

from procdtest import ANSWER_S, check, run_tests
from test_http import SERVICES, cli, flood_lines, flood_services, get, start, vm_rss

MAX_LOG_LINES = 1000          # README Limits: lines per /logs reply
MAX_LOG_BYTES = 8 << 20       # README Limits: bytes per /logs reply
# RSS bounds hold for the plain build only: under ASan (the slowed-down
# run, as test_http's RSS_SLACK) freed memory sits in the quarantine.
MEASURES_RSS = ANSWER_S <= 1.0
RSS_LIMIT = 48 << 20 if MEASURES_RSS else 1 << 40  # what a /logs?n=1000000 may add to procd's RSS


def chatty_services(n_services, lines, width):
    """n_services services printing `lines` lines of `width` bytes, then sleeping."""
    script = ("import sys\nw = sys.stdout.write\npad = 'x' * %d\n"
              "for i in range(%d): w('%%06d %%s\\n' %% (i, pad))\n"
              "w('CHATTY-DONE\\n'); sys.stdout.flush()\nimport time; time.sleep(1000)\n") % (width - 8, lines)
    out = SERVICES
    for i in range(n_services):
        out += '[services.chatty%d]\ncommand = ["python3", "-c", %s, "MARKER"]\n' % (i, json.dumps(script))
    return out


def wait_chatty_done(p, port, n_services):
    def done():
        st, _, body = get(port, "/logs?n=1", timeout=5)
        return all(b"CHATTY-DONE" in get(port, "/logs?service=chatty%d&n=1" % i, timeout=5)[2] for i in range(n_services))
    p.wait_for(done, 30, "chatty services printed everything")


def test_logs_n_is_bounded():
    services = 3
    p, port = start(chatty_services(services, 1200, 10000))
    with p:
        wait_chatty_done(p, port, services)
        pid = p.proc.pid
        base = vm_rss(pid)
        peak = [base]
        worst = [0.0]
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                check(get(port, "/healthz", timeout=5)[0] == 200, "healthz")
                worst[0] = max(worst[0], time.monotonic() - t0)
                peak[0] = max(peak[0], vm_rss(pid))
                time.sleep(0.01)
        th = threading.Thread(target=probe)
        th.start()
        try:
            for _ in range(3):
                t0 = time.monotonic()
                st, _, body = get(port, "/logs?n=1000000", timeout=30)
                took = time.monotonic() - t0
                check(st == 200, st)
                lines = body.splitlines()
                check(len(lines) <= MAX_LOG_LINES and len(body) <= MAX_LOG_BYTES,
                      "/logs?n=1000000 gave %d lines, %d bytes (bounds %d, %d)" % (len(lines), len(body), MAX_LOG_LINES, MAX_LOG_BYTES))
                check(lines and b"\"chatty" in lines[-1], lines[-1:])
                check(took < ANSWER_S, "/logs?n=1000000 took %.2fs" % took)
        finally:
            stop.set()
            th.join()
        check(peak[0] - base < RSS_LIMIT, "procd RSS %d MB -> %d MB for /logs?n=1000000" % (base >> 20, peak[0] >> 20))
        check(worst[0] < ANSWER_S, "healthz took %.2fs beside /logs?n=1000000" % worst[0])
        # the control socket has the same bound
        r = cli(p, "logs", "-n", "1000000")
        check(r.returncode == 0, r.stderr)
        out = r.stdout.encode()
        check(len(out.splitlines()) <= MAX_LOG_LINES and len(out) <= MAX_LOG_BYTES + MAX_LOG_LINES * 64,
              "procd logs -n 1000000 gave %d lines, %d bytes" % (len(out.splitlines()), len(out)))
        print("  /logs?n=1000000: %d lines; RSS %d -> peak %d MB; healthz worst %.3fs"
              % (len(lines), base >> 20, peak[0] >> 20, worst[0]))


MAX_STREAMS = 64   # README Limits: /events and /logs?follow=1 clients together
PROBE_SLOTS = 8    # README Limits: connections beyond 256 kept for /healthz and /readyz


def open_stream(port, path):
    """A streaming request; returns the socket and its head's first line (b"" if closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
    head = b""
    try:
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    except ConnectionResetError:
        pass
    return s, head.split(b"\r\n")[0]


def ended(sock, timeout=5):
    """True when the peer closed (EOF or reset) within timeout, reading what it sent."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_streams_are_capped_and_healthz_has_a_slot():
    p, port = start()
    with p:
        socks = []
        try:
            heads = []
            for i in range(300):  # more streaming clients than the connection cap
                s, head = open_stream(port, "/events" if i % 2 else "/logs?n=0&follow=1")
                socks.append(s)
                heads.append(head)
            check(all(h.startswith(b"HTTP/1.1 200") for h in heads),
                  "stream heads: %d of 300 not 200 (%r)" % (sum(not h.startswith(b"HTTP/1.1 200") for h in heads),
                                                              [h for h in heads if not h.startswith(b"HTTP/1.1 200")][:1]))
            st, _, body = get(port, "/healthz", timeout=5)
            check(st == 200, "healthz beside 300 streaming clients: %d %r" % (st, body))
            # the oldest streams made room; the newest MAX_STREAMS are still open
            check(all(ended(s) for s in socks[:300 - MAX_STREAMS]), "an old stream is still open")
            check(not any(ended(s, 0.05) for s in socks[300 - MAX_STREAMS:]), "a recent stream was closed")
            for s in socks[:300 - MAX_STREAMS]:
                s.close()
            del socks[:300 - MAX_STREAMS]
            # 256 connections mid-request (none can make room): /healthz and /readyz still answer
            for _ in range(256 - MAX_STREAMS):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /status HTTP/1.1\r\nX-Slow: ")
                socks.append(s)
            time.sleep(0.2)
            check(get(port, "/healthz", timeout=5)[0] == 200, "healthz beside 256 busy connections")
            check(get(port, "/readyz", timeout=5)[0] == 200, "readyz beside 256 busy connections")
            st, _, body = get(port, "/status", timeout=5)
            check(st == 503 and b"7006" in body, "/status from a probe slot: %d %r" % (st, body))
            print("  300 streams: %d closed to make room; healthz/readyz answer beside 256 busy connections"
                  % (300 - MAX_STREAMS))
        finally:
            for s in socks:
                s.close()


def slow_reader(port, request, result, key, slow_s, stop=False, pause=0.08):
    """Reads a /logs reply through a small receive buffer, 4 KB per `pause`
    seconds (50 KB/s) for slow_s seconds; then all the rest at once or (stop) nothing
    more until procd cuts it (read 35 s after the request). Stores (body bytes
    got, Content-Length, seconds, how it ended)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.settimeout(30)
    t0 = time.monotonic()
    got = b""
    how = "eof"
    try:
        s.sendall(request)
        while True:
            if time.monotonic() - t0 > slow_s and stop:
                time.sleep(max(0.0, 35 - (time.monotonic() - t0)))
                stop = False
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep and len(body) >= int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]):
                how = "complete"
                break
            if time.monotonic() - t0 < slow_s:
                time.sleep(pause)
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "still open"
    finally:
        s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) if b"Content-Length: " in head else -1
    result[key] = (len(body), length, round(time.monotonic() - t0, 1), how)


def test_reply_deadline_measures_progress():
    """A 6 MB /logs reply (more than the kernel's socket buffers hold) to
    clients reading 50 KB/s for 22 s: not cut at 10 s, with keep-alive or
    Connection: close; a client that stops reading is cut. (The kernel's
    send buffer grows to ~4 MB and wakes a writer only when a third of it
    is free: at 50 KB/s that is ~16 s without a write, so progress must be
    counted where the client takes bytes, not where procd writes them.)"""
    p, port = start(chatty_services(1, 1000, 6000))
    with p:
        wait_chatty_done(p, port, 1)
        req = b"GET /logs?service=chatty0&n=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
        result = {}
        threads = [
            threading.Thread(target=slow_reader, args=(port, req % b"", result, "keep-alive", 22)),
            threading.Thread(target=slow_reader, args=(port, req % b"Connection: close\r\n", result, "close", 22)),
            threading.Thread(target=slow_reader, args=(port, req % b"", result, "stops", 1, True)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        print("  slow readers (bytes, length, s, end): %s" % result)
        for key in ("keep-alive", "close"):
            got, length, took, how = result[key]
            check(how == "complete" and got >= length > 5000000 and took > 22,
                  "%s slow reader: %d of %d bytes in %.1fs (%s)" % (key, got, length, took, how))
        got, length, took, how = result["stops"]
        check(how in ("eof", "reset") and got < length, "a reader that stops: %d of %d bytes, %.1fs (%s)" % (got, length, took, how))


def test_logs_reply_is_streamed_in_pieces():
    """An 8 MB /logs reply, pipelined with a /healthz behind it, to a client
    that reads at its own pace through a 64 KB receive buffer, with the
    bound on bytes queued for all HTTP clients at 1 MiB: procd queues the
    reply in pieces as the client takes them, never the whole body, so the
    client gets every line, no client is dropped (5006), /healthz answers
    throughout on other connections and the pipelined one after the reply."""
    p, port = start(chatty_services(1, 1000, 8000), env={"PROCD_HTTP_MAX_QUEUED_TOTAL": str(1 << 20)})
    with p:
        wait_chatty_done(p, port, 1)
        st, hdr, body = get(port, "/logs?service=chatty0&n=10", method="HEAD")
        check(st == 200 and body == b"" and int(hdr["Content-Length"]) > 50000, (st, hdr, body[:80]))
        worst = [0.0]
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                check(get(port, "/healthz", timeout=5)[0] == 200, "healthz")
                worst[0] = max(worst[0], time.monotonic() - t0)
                time.sleep(0.02)
        th = threading.Thread(target=probe)
        th.start()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        got = b""
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.connect(("127.0.0.1", port))
            s.settimeout(30)
            s.sendall(b"GET /logs?service=chatty0&n=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                      b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            deadline = time.monotonic() + 60 * ANSWER_S
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
                time.sleep(0.002)  # a reader slower than procd's loop
        finally:
            s.close()
            stop.set()
            th.join()
        head, _, rest = got.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200") and b"Content-Length: " in head, head[:200])
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body, second = rest[:length], rest[length:]
        lines = body.splitlines()
        check(len(body) == length and len(lines) == 1000,
              "the reply: %d of %d bytes, %d lines (a dropped client gets a cut reply)" % (len(body), length, len(lines)))
        numbers = [int(json.loads(l)["line"][:6]) for l in lines[:-1]]
        check(numbers == list(range(1, 1000)) and b"CHATTY-DONE" in lines[-1], "lines out of order or missing")
        check(second.startswith(b"HTTP/1.1 200") and second.endswith(b"ok\n"), "pipelined /healthz: %r" % second[:200])
        check(not [e for e in p.events() if e.get("code") == 5006], "a client was dropped\n" + p.tail())
        check(worst[0] < ANSWER_S, "healthz took %.2fs beside the streamed reply" % worst[0])
        print("  %d bytes in pieces to a 64 KB-buffer reader; healthz worst %.3fs" % (length, worst[0]))


def test_input_behind_a_reply_in_pieces_waits_in_the_socket():
    """A client that sends 64 MB behind a big /logs reply it does not read:
    procd stops reading that connection until the reply is out, so the bytes
    wait in the client's socket, not in procd's memory."""
    p, port = start(chatty_services(1, 1000, 8000))
    with p:
        wait_chatty_done(p, port, 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /logs?service=chatty0&n=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            check(len(s.recv(1, socket.MSG_PEEK)) == 1, "no reply")
            s.settimeout(2 * ANSWER_S)
            junk = b"X" * (1 << 20)
            sent = 0
            try:
                while sent < (64 << 20):
                    sent += s.send(junk)
            except socket.timeout:
                pass
            check(sent < (16 << 20), "procd took %d MB sent behind an unread reply" % (sent >> 20))
            check(get(port, "/healthz", timeout=5)[0] == 200, "healthz")
            print("  %d KB sent behind an unread 8 MB reply before the socket filled" % (sent >> 10))
        finally:
            s.close()


TOTAL_BOUND = 6 << 20  # PROCD_HTTP_MAX_QUEUED_TOTAL for the test (default 64 MiB)


def test_queued_bytes_of_all_clients_are_bounded():
    """Four followers that never read, under a 30 MB flood, with the bound on
    bytes queued for all HTTP clients together at 6 MiB (the per-client bound
    is 4 MiB): procd drops the one with the most queued (5006) before any
    reaches its own bound, stays light and answers /healthz."""
    n = 30000
    p, port = start(flood_services(n), env={"PROCD_HTTP_MAX_QUEUED_TOTAL": str(TOTAL_BOUND)})
    with p:
        p.wait_state("flood", "running")
        stalled = []
        try:
            for _ in range(4):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /logs?service=flood&n=0&follow=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never read
                s.settimeout(10)
                check(len(s.recv(1, socket.MSG_PEEK)) == 1, "no stream head")
                stalled.append(s)
            pid = p.proc.pid
            base = vm_rss(pid)
            open(os.path.join(p.dir, "go"), "w").close()
            deadline = time.monotonic() + 60 * ANSWER_S
            peak = base

            def total_drops():
                return [e for e in p.events() if e.get("code") == 5006 and "all HTTP clients" in e.get("msg", "")]
            while len(total_drops()) < 3 and not flood_lines(p)[-1:] == [b"FLOOD-DONE %d" % n]:
                check(time.monotonic() < deadline, "no drop at the total bound in time\n" + p.tail())
                check(get(port, "/healthz", timeout=5)[0] == 200, "healthz")
                peak = max(peak, vm_rss(pid))
                time.sleep(0.05)
            drops = total_drops()
            check(len(drops) >= 3, "drops at the total bound: %d\n%s" % (len(drops), p.tail()))
            check(not MEASURES_RSS or peak - base < 3 * TOTAL_BOUND, "procd RSS %d -> %d MB" % (base >> 20, peak >> 20))
            check(get(port, "/healthz", timeout=5)[0] == 200, "healthz")
            print("  %d drops at the total bound; RSS %d -> peak %d MB; first: %s"
                  % (len(drops), base >> 20, peak >> 20, drops[0]["msg"]))
        finally:
            for s in stalled:
                s.close()


if __name__ == "__main__":
    run_tests([
        test_logs_n_is_bounded,
        test_streams_are_capped_and_healthz_has_a_slot,
        test_reply_deadline_measures_progress,
        test_queued_bytes_of_all_clients_are_bounded,
        test_logs_reply_is_streamed_in_pieces,
        test_input_behind_a_reply_in_pieces_waits_in_the_socket,
    ])
