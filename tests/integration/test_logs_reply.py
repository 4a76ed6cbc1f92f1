"""`procd logs -n` over the control socket (README "Limits"): the reply is
handed to the client in 64 KiB pieces as it reads, so a client that reads
nothing holds about 2 x 64 KiB in procd (not the 8 MB reply), procd answers
others meanwhile, and once it reads it gets every line in order."""
import json
import os
import socket
import subprocess
import time

from procdtest import ANSWER_S, PROCD, Procd, check, run_tests
from test_http import start, vm_rss

# RSS is only meaningful in the plain build (ASan keeps freed memory in its quarantine).
MEASURES_RSS = ANSWER_S <= 1.0


def chatty(lines, width):
    script = ("import sys\nw = sys.stdout.write\npad = 'x' * %d\n"
              "for i in range(%d): w('%%06d %%s\\n' %% (i, pad))\n"
              "w('CHATTY-DONE\\n'); sys.stdout.flush()\nimport time; time.sleep(1000)\n") % (width - 8, lines)
    return '[services.chatty]\ncommand = ["python3", "-c", %s, "MARKER"]\n' % json.dumps(script)


def cli(p, *args, timeout=20):
    return subprocess.run([PROCD, "-c", p.config] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, text=True)


def wait_done(p):
    p.wait_for(lambda: "CHATTY-DONE" in cli(p, "logs", "-n", "1", "chatty").stdout, 30, "chatty printed everything")


def test_logs_reply_waits_for_a_client_that_does_not_read():
    p = Procd(chatty(1000, 8000))
    with p:
        wait_done(p)
        pid = p.proc.pid
        # Warm up: one whole reply read at once (the allocator's arenas, the rings' pages).
        r = cli(p, "logs", "-n", "1000", "chatty")
        check(r.returncode == 0 and len(r.stdout) > 7000000, (r.returncode, len(r.stdout), r.stderr[-300:]))
        base = vm_rss(pid)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(os.path.join(p.dir, ".procd.sock"))
            s.sendall(b'{"v":1,"cmd":"logs","names":["chatty"],"lines":1000}\n')
            peak = base
            t0 = time.monotonic()
            status_took = None
            while time.monotonic() - t0 < 2.0:  # reads nothing for 2 s
                peak = max(peak, vm_rss(pid))
                if status_took is None and time.monotonic() - t0 > 0.5:
                    t1 = time.monotonic()
                    st = cli(p, "status", timeout=10)
                    status_took = time.monotonic() - t1
                    check(st.returncode == 0 and "chatty" in st.stdout, st.stderr)
                time.sleep(0.02)
            grew = peak - base
            print("  RSS %d KB -> peak %d KB (+%d KB) while the client reads nothing; status took %.2fs"
                  % (base >> 10, peak >> 10, grew >> 10, status_took))
            if MEASURES_RSS:
                check(grew < 2 << 20, "procd's RSS grew by %d KB for an unread 8 MB reply" % (grew >> 10))
            check(status_took < ANSWER_S, "status took %.2fs beside the unread reply" % status_took)
            s.settimeout(30)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        lines = got.splitlines()
        check(json.loads(lines[0]).get("stream") is True, lines[0][:200])
        items = [json.loads(l) for l in lines[1:]]
        check(len(items) == 1000, "%d items" % len(items))
        numbers = [int(i["line"][:6]) for i in items[:-1]]
        check(numbers == list(range(1, 1000)) and items[-1]["line"] == "CHATTY-DONE", "lines out of order or missing")
        check(not [e for e in p.events() if e.get("code") == 5006], "the client was dropped\n" + p.tail())


def test_followed_logs_catch_up_in_pieces():
    """`GET /logs?follow=1&n=1000` whose catch-up (6 MB) is more than an HTTP
    client's 4 MiB queue bound: the catch-up is handed over in pieces as the
    client reads, like a plain /logs reply, so the client is not dropped
    (5006); then the stream goes on with no line lost or repeated, lines
    printed during the catch-up included."""
    script = ("import os, sys, time\nw = sys.stdout.write\npad = 'x' * 5992\n"
              "for i in range(999): w('%06d %s\\n' % (i, pad))\n"
              "w('CHATTY-DONE\\n'); sys.stdout.flush()\n"
              "while not os.path.exists('TMPDIR/go'): time.sleep(0.01)\n"
              "for i in range(100): w('AFTER %d\\n' % i); sys.stdout.flush(); time.sleep(0.002)\n"
              "time.sleep(1000)\n")
    p, port = start('[services.chatty]\ncommand = ["python3", "-c", %s]\n' % json.dumps(script))
    with p:
        wait_done(p)
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        try:
            s.sendall(b"GET /logs?service=chatty&n=1000&follow=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            got = b""
            while b'"AFTER 99"' not in got:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += chunk
                if len(got) > 100000 and not os.path.exists(os.path.join(p.dir, "go")):
                    open(os.path.join(p.dir, "go"), "w").close()  # lines printed during the catch-up
        finally:
            s.close()
        head, _, body = got.partition(b"\r\n\r\n")
        check(head.startswith(b"HTTP/1.1 200"), head[:200])
        items = [json.loads(l) for l in body.split(b"\n")[:-1]]  # whole lines only (a dropped client's last is cut)
        texts = [i["line"] for i in items]
        want = ["%06d" % i for i in range(999)] + ["CHATTY-DONE"] + ["AFTER %d" % i for i in range(100)]
        check([t[:6] if t[:1].isdigit() else t for t in texts] == want,
              "%d items of %d; the client was dropped: %s" % (len(texts), len(want), [e.get("msg") for e in p.events() if e.get("code") == 5006]))
        check(not [e for e in p.events() if e.get("code") == 5006], "the client was dropped\n" + p.tail())


if __name__ == "__main__":
    run_tests([test_logs_reply_waits_for_a_client_that_does_not_read, test_followed_logs_catch_up_in_pieces])
