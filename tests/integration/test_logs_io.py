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
from test_http import free_port

KIB64 = 64 * 1024
# Three lines at the bound: exactly 64 KiB (one piece), 64 KiB + 1 (two), 200 KiB (four).
LONG = [b"a" * KIB64, b"b" * (KIB64 + 1), b"c" * (200 * 1024)]
LONG_WRITER = ("import sys, time\nw = sys.stdout.buffer.write\nw(b'a' * %d + b'\\n'); w(b'b' * %d + b'\\n'); "
               "w(b'c' * %d + b'\\n'); w(b'end\\n'); sys.stdout.flush(); time.sleep(1000)\n"
               % (KIB64, KIB64 + 1, 200 * 1024))


def cli(p, *args, timeout=20):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, timeout=timeout)


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def rejoin(pieces):
    """(text, partial) pieces -> whole lines; a partial piece must be followed by its rest."""
    lines, cur = [], b""
    for text, partial in pieces:
        cur += text
        if not partial:
            lines.append(cur)
            cur = b""
    check(cur == b"", "a partial piece ends the stream")
    return lines


def check_long(lines, pieces, where):
    check(lines[:3] == LONG, "%s: lines joined again: %r" % (where, [len(l) for l in lines]))
    flags = [partial for _, partial in pieces][:7]
    check(flags == [False, True, False, True, True, True, False], "%s: partial flags %r" % (where, flags))


def test_long_lines_are_split_marked_and_whole():
    port = free_port()
    with Procd('''
[services.w]
command = ["python3", "-c", %s, "MARKER"]
[services.f]
command = ["python3", "-c", %s, "MARKER"]
[services.f.log]
file = "TMPDIR/f.log"
''' % (json.dumps(LONG_WRITER), json.dumps(LONG_WRITER)), top='[control]\nhttp = "127.0.0.1:%d"\n' % port,
            level="info") as p:
        def own():
            return [e for e in p.events() if e.get("service") == "w" and e.get("stream") == "stdout"]
        p.wait_for(lambda: any(e["msg"] == "end" for e in own()), 20, "the long lines in procd's log")
        pieces = [(e["msg"].encode(), e.get("partial", False)) for e in own()]
        check_long(rejoin(pieces), pieces, "procd's JSON log")
        # procd logs --json and /logs: the same items, "partial": true on the cut pieces.
        out = cli(p, "logs", "--json", "-n", "100", "--stream", "out", "w").stdout
        items = [json.loads(l) for l in out.splitlines()]
        pieces = [(i["line"].encode(), i.get("partial", False)) for i in items]
        check_long(rejoin(pieces), pieces, "procd logs --json")
        status, body = http_get(port, "/logs?service=w&n=100")
        check(status == 200, status)
        items = [i for i in map(json.loads, body.splitlines()) if i["stream"] != "procd"]  # output only
        pieces = [(i["line"].encode(), i.get("partial", False)) for i in items]
        check_long(rejoin(pieces), pieces, "/logs")
        # procd logs (text): "|+" instead of "| " on a cut piece.
        out = cli(p, "logs", "-n", "100", "--stream", "out,err", "w").stdout
        pieces = []
        for l in out.split(b"\n")[:-1]:
            head, sep, text = l.partition(b" w |")
            check(sep and text[:1] in (b" ", b"+"), l[:80])
            pieces.append((text[1:], text[:1] == b"+"))
        check_long(rejoin(pieces), pieces, "procd logs")
        # The service's own file: the bytes whole, no marker and no '\n' inserted.
        p.wait_for(lambda: os.path.exists(os.path.join(p.dir, "f.log")) and
                   open(os.path.join(p.dir, "f.log"), "rb").read().endswith(b"end\n"), 20, "f.log")
        check(open(os.path.join(p.dir, "f.log"), "rb").read() == b"\n".join(LONG + [b"end"]) + b"\n", "f.log whole")
    # procd's own text log.
    with Procd('''
[services.w]
command = ["python3", "-c", %s, "MARKER"]
''' % json.dumps(LONG_WRITER), json_log=False, level="info") as p:
        p.wait_for(lambda: " w | end" in p.log_text(), 20, "the long lines in procd's text log")
        pieces = []
        for l in open(p.log_path, "rb").read().split(b"\n"):
            text = l.partition(b" w |")[2]
            if text[1:] == b"end" or (text[1:] and text[1:].strip(text[1:2]) == b"" and text[1:2] in b"abc"):
                pieces.append((text[1:], text[:1] == b"+"))  # the service's lines, not procd's about it
        check_long(rejoin(pieces), pieces, "procd's text log")


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


RAW = b"ok \xff\xfe mid \x80 end \xc3\xa9"
RAW_WRITER = "import sys, time\nsys.stdout.buffer.write(%r + b'\\n'); sys.stdout.flush(); time.sleep(1000)\n" % RAW


def test_logs_are_byte_for_byte():
    with Procd('''
[services.raw]
command = ["python3", "-c", %s, "MARKER"]
''' % json.dumps(RAW_WRITER)) as p:
        p.wait_for(lambda: b" mid " in cli(p, "logs", "raw").stdout, 10, "the line in the ring")
        out = cli(p, "logs", "raw").stdout
        check(out.endswith(b" raw | " + RAW + b"\n"), "procd logs: %r" % out)
        js = cli(p, "logs", "--json", "--stream", "out", "raw").stdout
        item = json.loads(js.decode("utf-8"))  # valid UTF-8, valid JSON
        check(base64.b64decode(item["line_base64"]) == RAW, item)
        check(item["line"] == RAW.decode("utf-8", "replace"), item)


def read_pty(master, until, timeout=10):
    out = b""
    deadline = time.monotonic() + timeout
    while until not in out and time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


EVIL = b"a\x1b]0;title\x07b\rc\x1b[2Jd\te"
EVIL_WRITER = "import sys, time\nsys.stdout.buffer.write(%r + b'\\n'); sys.stdout.flush(); time.sleep(1000)\n" % EVIL


def test_terminal_gets_no_raw_control_bytes():
    d = Procd('''
[services.evil]
command = ["python3", "-c", %s, "MARKER"]
''' % json.dumps(EVIL_WRITER), json_log=False, level="info")
    try:
        # procd's own log on the terminal: no [logging].file.
        text = open(d.config).read().replace('file = "%s"\n' % d.log_path, "", 1)
        open(d.config, "w").write(text)
        master, slave = pty.openpty()
        tty.setraw(slave)  # no '\n' -> "\r\n" by the line discipline: every '\r' seen is procd's
        proc = subprocess.Popen([PROCD, "-c", d.config, "run"], stdin=subprocess.DEVNULL, stdout=slave,
                                stderr=slave, cwd=d.dir)
        os.close(slave)
        try:
            shown = read_pty(master, b"title")
            shown += read_pty(master, b"\n", timeout=2) if not shown.endswith(b"\n") else b""
            check(b"title" in shown, shown)
            check(b"\x1b]0;" not in shown and b"\x07" not in shown and b"\r" not in shown and b"\x1b[2J" not in shown,
                  "raw control bytes on the terminal: %r" % shown[-200:])
            check(rb"a\x1b]0;title\x07b\x0dc\x1b[2Jd" + b"\te" in shown, shown[-200:])
            # procd logs on a terminal: the ts and name fields too (a fake server sends them).
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            os.close(master)
    finally:
        d.cleanup()


def fake_logs_server(path, item):
    """A control socket that answers one `logs` request with one item, then ends the stream."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(10)

    def serve():
        try:
            c, _ = srv.accept()
            c.settimeout(10)
            buf = b""
            while b"\n" not in buf:
                got = c.recv(4096)
                if not got:
                    break
                buf += got
            c.sendall(b'{"v":1,"ok":true,"stream":true}\n' + json.dumps(item).encode() + b"\n")
            c.close()
        except OSError:
            pass
        finally:
            srv.close()
    import threading
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_logs_escapes_every_field_on_a_terminal():
    d = Procd("")
    try:
        sock = os.path.join(d.dir, "fake.sock")
        t = fake_logs_server(sock, {"ts": "T\u001b]0;ts\u0007S", "service": "s\u001b[2Jv\rc", "stream": "stdout",
                                    "line": "l\u001b]0;x\u0007ine"})
        shown = logs_on_pty(["--socket", sock, "logs", "s"], dict(os.environ, NO_COLOR="1"), b"ine")
        t.join(timeout=10)
        check(b"ine" in shown, shown)
        check(b"\x1b" not in shown and b"\x07" not in shown and b"\r" not in shown, "raw: %r" % shown)
        check(rb"T\x1b]0;ts\x07S" in shown and rb"s\x1b[2Jv\x0dc" in shown, shown)
    finally:
        d.cleanup()


COLORFUL = b"\x1b[31mred\x1b[0m \x1b[1;38;5;208mbold\x1b[m \x1b[2Jclear \x1b]0;t\x07"
COLOR_WRITER = "import sys, time\nsys.stdout.buffer.write(%r + b'\\n'); sys.stdout.flush(); time.sleep(1000)\n" % COLORFUL
NAME_COLORS = [b"\x1b[36m", b"\x1b[32m", b"\x1b[33m", b"\x1b[35m", b"\x1b[34m", b"\x1b[96m"]


def name_color(name):
    h = 2166136261  # FNV-1a, as procd's name_color
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return NAME_COLORS[h % 6]


def logs_on_pty(args, env, until=b"\n"):
    """procd ARGS with its stdout on a terminal (a raw pty): what it showed up to `until`."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([PROCD] + args, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    try:
        shown = read_pty(master, until)
        check(proc.wait(timeout=10) == 0, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stderr.close()
        os.close(master)
    return shown


def test_logs_colours_names_and_keeps_only_sgr_on_a_terminal():
    with Procd('''
[services.colorful]
command = ["python3", "-c", %s, "MARKER"]
''' % json.dumps(COLOR_WRITER)) as p:
        p.wait_for(lambda: b"bold" in cli(p, "logs", "colorful").stdout, 10, "the line in the ring")
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        shown = logs_on_pty(["-c", p.config, "logs", "--stream", "out", "colorful"], env)
        print(repr(shown))
        check(name_color("colorful") + b"colorful\x1b[0m" in shown, shown)  # a stable colour per name
        # The app's SGR passes, reset at the end of its line; every other sequence is still escaped.
        check(b"| \x1b[31mred\x1b[0m \x1b[1;38;5;208mbold\x1b[m " in shown, shown)
        check(rb"\x1b[2Jclear \x1b]0;t\x07" + b"\x1b[0m\n" in shown, shown)
        check(b"\x1b[2J" not in shown and b"\x1b]" not in shown and b"\x07" not in shown, shown)
        # NO_COLOR: no colour at all, the app's dropped; other sequences escaped as before.
        plain = logs_on_pty(["-c", p.config, "logs", "--stream", "out", "colorful"], dict(env, NO_COLOR="1"))
        check(b"\x1b" not in plain and b"| red bold " + rb"\x1b[2Jclear" in plain, plain)
        # A pipe: byte for byte.
        check(cli(p, "logs", "colorful").stdout.endswith(b" colorful | " + COLORFUL + b"\n"), "pipe not byte-exact")


if __name__ == "__main__":
    run_tests([test_long_lines_are_split_marked_and_whole, test_failed_rotation_warns_once_and_backs_off,
               test_logs_are_byte_for_byte, test_terminal_gets_no_raw_control_bytes,
               test_logs_escapes_every_field_on_a_terminal, test_logs_colours_names_and_keeps_only_sgr_on_a_terminal])
