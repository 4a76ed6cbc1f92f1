"""The log pipeline's edges (issue 26): lines longer than the 64 KiB bound
are split, marked and whole again when joined, in every place a line is
shown; a failing rotation is warned about once and retried with back-off;
`procd logs` is byte for byte; control bytes never reach a terminal raw."""
import base64
import http.client
import json
import os
import pty
import signal
import socket
import subprocess
import time
import tty

from procdtest import PROCD, Procd, check, run_tests

KIB64 = 64 * 1024
# Three lines at the bound: exactly 64 KiB (one piece), 64 KiB + 1 (two), 200 KiB (four).
LONG = [b"a" * KIB64, b"b" * (KIB64 + 1), b"c" * (200 * 1024)]
LONG_WRITER = ("import sys, time\nw = sys.stdout.buffer.write\nw(b'a' * %d + b'\\n'); w(b'b' * %d + b'\\n'); "
               "w(b'c' * %d + b'\\n'); w(b'end\\n'); sys.stdout.flush(); time.sleep(1000)\n"
               % (KIB64, KIB64 + 1, 200 * 1024))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli(p, *args, timeout=20):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, timeout=timeout)


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def rotate_errors(p):
    return [e for e in p.events() if e.get("code") == 5005]


def test_failed_rotation_warns_once_and_backs_off():
    with Procd('''
[services.chatty]
command = ["python3", "-c", "import sys, time\\nwhile True:\\n  print('x' * 100, flush=True); time.sleep(0.005)", "MARKER"]
[services.chatty.log]
file = "TMPDIR/c.log"
max_file_size = 1000
max_files = 1
''', level="info") as p:
        # The rotation target is a non-empty directory: rename(2) fails with EISDIR on every try.
        os.makedirs(os.path.join(p.dir, "c.log.1", "keep"))
        p.wait_for(lambda: rotate_errors(p), 10, "the first rotation error")
        time.sleep(3)  # a bounded window of continuous output with a failing rotation
        errs = rotate_errors(p)
        check(len(errs) == 1, "%d rotation errors in 3 s: %r" % (len(errs), [e["msg"] for e in errs[:3]]))
        os.rmdir(os.path.join(p.dir, "c.log.1", "keep"))
        os.rmdir(os.path.join(p.dir, "c.log.1"))
        p.wait_for(lambda: any("rotation works again" in e.get("msg", "") for e in p.events()), 15, "the recovery")
        check(os.path.isfile(os.path.join(p.dir, "c.log.1")), "rotated once the target is free")
        check(len(rotate_errors(p)) == 1, "still one error line")


if __name__ == "__main__":
    run_tests([test_failed_rotation_warns_once_and_backs_off])
