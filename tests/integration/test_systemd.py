"""procd under a service manager: a fake NOTIFY_SOCKET listener (path and
abstract) receives READY=1 once autostart services are up, STATUS= counts,
RELOADING=1 with MONOTONIC_USEC then READY=1 around a reload, STOPPING=1
at shutdown, and WATCHDOG=1 at half of WATCHDOG_USEC. Services never see
the manager's socket. Packaging files are checked where tools exist."""
import os
import shutil
import signal
import socket
import subprocess
import time

from procdtest import PROCD, SOURCE_ROOT, Procd, check, run_tests


class Listener:
    def __init__(self, path=None, abstract=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.sock.bind("\0" + abstract)
            self.addr = "@" + abstract
        else:
            self.sock.bind(path)
            self.addr = path
        self.sock.settimeout(0.1)
        self.messages = []

    def drain(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                return self.messages

    def wait(self, pred, timeout=8, what=""):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.drain()
            if pred(self.messages):
                return self.messages
        raise AssertionError("notify: timed out waiting for %s; got %r" % (what, self.messages))


SVC = '''
[services.slow]
command = ["sleep", "1000"]
ready = { min_uptime_ms = 400 }
[services.env]
command = ["sh", "-c", "echo NOTIFY=$${NOTIFY_SOCKET:-none}; sleep 1000", "MARKER"]
'''


def test_ready_status_reload_stopping():
    p = Procd(SVC)
    lst = Listener(path=os.path.join(p.dir, "systemd.sock"))
    try:
        t0 = time.time()
        p.start(extra_env={"NOTIFY_SOCKET": lst.addr})
        msgs = lst.wait(lambda m: any("READY=1" in x for x in m), what="READY=1")
        check(time.time() - t0 >= 0.35, "READY=1 only after the min_uptime service is running")
        first_ready = [x for x in msgs if "READY=1" in x][0]
        check("STATUS=2 running" in first_ready, first_ready)
        p.wait_for(lambda: "NOTIFY=none" in p.log_text(), 5, "service env line")
        p.signal(signal.SIGHUP)
        msgs = lst.wait(lambda m: any("RELOADING=1" in x for x in m), what="RELOADING=1")
        rel = [x for x in msgs if "RELOADING=1" in x][0]
        check("MONOTONIC_USEC=" in rel, rel)
        idx = msgs.index(rel)
        lst.wait(lambda m: any("READY=1" in x for x in m[idx + 1:]), what="READY=1 after reload")
        p.signal(signal.SIGTERM)
        check(p.wait_exit(10) == 0)
        lst.wait(lambda m: any("STOPPING=1" in x for x in m), what="STOPPING=1")
    finally:
        p.cleanup()


def test_abstract_socket_and_watchdog():
    p = Procd('''
[services.s]
command = ["sleep", "1000"]
''')
    lst = Listener(abstract="procd-test-%d" % os.getpid())
    try:
        p.start(extra_env={"NOTIFY_SOCKET": lst.addr, "WATCHDOG_USEC": "400000"})
        lst.wait(lambda m: any("READY=1" in x for x in m), what="READY=1")
        lst.wait(lambda m: sum("WATCHDOG=1" in x for x in m) >= 3, timeout=3, what="3 watchdog pings in ~0.6 s")
    finally:
        p.cleanup()


def test_no_notify_socket_no_messages():
    with Procd('[services.s]\ncommand = ["sleep", "1000"]\n') as p:
        p.wait_state("s", "running")  # simply runs; nothing to send to


def test_packaging_files_valid():
    units = [os.path.join(SOURCE_ROOT, "packaging/systemd", f) for f in ("procd.service", "procd@.service")]
    for u in units:
        text = open(u).read()
        check("Type=notify" in text and "ExecReload=" in text and "KillMode=mixed" in text, u)
    if shutil.which("systemd-analyze"):
        for u in units:
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", u], capture_output=True, text=True, timeout=30)
            check("Unknown key" not in r.stderr and "Invalid" not in r.stderr, r.stderr)
    plist = os.path.join(SOURCE_ROOT, "packaging/launchd/dev.procd.plist")
    if shutil.which("xmllint"):
        r = subprocess.run(["xmllint", "--noout", plist], capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, r.stderr)
    else:
        import xml.dom.minidom
        xml.dom.minidom.parse(plist)


if __name__ == "__main__":
    run_tests([
        test_ready_status_reload_stopping,
        test_abstract_socket_and_watchdog,
        test_no_notify_socket_no_messages,
        test_packaging_files_valid,
    ])
