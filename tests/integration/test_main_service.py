"""Issue 28: the main service (`main = true`, `procd run -- CMD`), the stop
budget (PROCD_STOP_TIMEOUT_MS, EXTEND_TIMEOUT_USEC) and stop reasons, on
real processes: procd exits with the main's code after stopping the helpers
beside it; a slow stopper that asks for more time is not SIGKILLed; every
stop says why in `procd events --json`."""
import json
import os
import signal
import subprocess
import tempfile
import shutil
import time

from procdtest import PROCD, Procd, check, run_tests

HELPER = '''
[services.helper]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
'''


def cli(p, *args):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=20)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def status_of(p, name):
    r = p.wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(cli(p, "status", "--json")), 5, "status")
    return [s for s in json.loads(r.stdout)["services"] if s["name"] == name][0]


def main_ends(script, expect, kill_main=False):
    with Procd(HELPER + '''
[services.app]
command = ["sh", "-c", "%s", "MARKER"]
main = true
''' % script) as p:
        helper = p.wait_for(lambda: p.running_pid("helper"), 5, "helper running")
        check(pid_alive(helper), "helper %d not alive while the main runs" % helper)
        if kill_main:
            app = p.wait_for(lambda: p.running_pid("app"), 5, "app running")
            os.kill(app, signal.SIGTERM)
        code = p.wait_exit(15)
        check(code == expect, "procd exited %r, want %r: %s" % (code, expect, p.tail()))
        check(not pid_alive(helper), "helper %d still alive" % helper)


def test_main_exit_0_stops_helpers():
    main_ends("sleep 0.5; exit 0", 0)


def test_main_exit_7_is_procds_code():
    main_ends("sleep 0.5; exit 7", 7)


def test_main_killed_by_sigterm_gives_143():
    main_ends("exec sleep 1000", 128 + 15, kill_main=True)


def test_main_failed_pre_start_after_reload_gives_127():
    """Seed 17678: a reload restarts the main; its new start fails at its
    pre_start, so the main command never runs again: procd exits 127 (not
    the 143 of the run the reload stopped) after stopping the helper."""
    app = '''
[services.app]
command = ["sh", "-c", "exec sleep 1000", "MARKER", "%s"]
pre_start = ["sh", "-c", "exit %d"]
main = true
'''
    with Procd(HELPER + app % ("v1", 0)) as p:
        helper = p.wait_for(lambda: p.running_pid("helper"), 5, "helper running")
        old = p.wait_for(lambda: p.running_pid("app"), 5, "app running")
        p.rewrite(HELPER + app % ("v2", 1))
        check(cli(p, "reload").returncode == 0, p.tail())
        code = p.wait_exit(15)
        check(code == 127, "procd exited %r, want 127: %s" % (code, p.tail()))
        check(not pid_alive(old) and not pid_alive(helper), (old, helper))


def run_bare(args, timeout=15):
    """`procd run -- ...` in an empty directory: no config file anywhere."""
    d = tempfile.mkdtemp(prefix="procd-it-bare-")
    env = {k: v for k, v in os.environ.items() if k != "PROCD_CONFIG"}
    env["XDG_RUNTIME_DIR"] = d  # its run directory (socket, PID file): private, not /run/procd
    try:
        return subprocess.run([PROCD, "run", "--"] + args, cwd=d, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_run_dash_dash_exit_code():
    r = run_bare(["sh", "-c", "exit 3"])
    check(r.returncode == 3, (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))


def test_run_dash_dash_output_reaches_caller():
    r = run_bare(["sh", "-c", "echo hi-from-main"])
    check(r.returncode == 0, (r.returncode, r.stderr[-2000:]))
    check("hi-from-main" in r.stdout + r.stderr, (r.stdout[-2000:], r.stderr[-2000:]))


def test_run_dash_dash_command_not_found_127():
    r = run_bare(["no-such-command-procd-it"])
    check(r.returncode == 127, (r.returncode, r.stderr[-2000:]))


def test_run_dash_dash_main_sees_a_terminal():
    import pty
    master, slave = pty.openpty()
    d = tempfile.mkdtemp(prefix="procd-it-tty-")
    env = {k: v for k, v in os.environ.items() if k != "PROCD_CONFIG"}
    env["XDG_RUNTIME_DIR"] = d  # its run directory (socket, PID file): private, not /run/procd
    try:
        proc = subprocess.Popen([PROCD, "run", "--", "sh", "-c", "if [ -t 1 ]; then echo IS-A-TTY; else echo NO-TTY; fi"],
                                cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break  # EIO: every writer closed the terminal
            if not chunk:
                break
            out += chunk
        code = proc.wait(timeout=15)
        check(code == 0 and b"IS-A-TTY" in out and b"NO-TTY" not in out, (code, out[-2000:]))
    finally:
        os.close(master)
        shutil.rmtree(d, ignore_errors=True)


def test_run_dash_dash_beside_config_helpers():
    p = Procd(HELPER)
    try:
        proc = subprocess.Popen([PROCD, "-c", p.config, "run", "--", "sh", "-c", "sleep 0.7; exit 5"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=p.dir)
        p.proc = proc
        helper = p.wait_for(lambda: p.running_pid("helper"), 5, "helper running")
        check(proc.wait(timeout=15) == 5)
        check(not pid_alive(helper), "helper %d still alive" % helper)
        p2 = Procd('''
[services.main]
command = ["true"]
''')
        try:
            r = subprocess.run([PROCD, "-c", p2.config, "run", "--", "true"], capture_output=True, text=True, timeout=20)
            check(r.returncode == 2 and "1059" in r.stderr, (r.returncode, r.stderr))
        finally:
            p2.cleanup()
    finally:
        p.cleanup()


def test_two_mains_is_a_check_error():
    p = Procd('''
[services.a]
command = ["true"]
main = true
[services.b]
command = ["true"]
main = true
''')
    try:
        r = cli(p, "check")
        check(r.returncode != 0, r)
        check("1058" in r.stderr and "services.b" in r.stderr and "\"a\"" in r.stderr, r.stderr)
    finally:
        p.cleanup()
    # a replicated main would be N mains: one located error, not N (nor none)
    p = Procd('''
[services.web]
command = ["true"]
replicas = 2
main = true
''')
    try:
        r = cli(p, "check")
        check(r.returncode == 2 and r.stderr.count("1058") == 1 and "services.web.main" in r.stderr, r.stderr)
    finally:
        p.cleanup()


def test_container_example_checks():
    from procdtest import SOURCE_ROOT
    path = os.path.join(SOURCE_ROOT, "examples", "container.toml")
    r = subprocess.run([PROCD, "-c", path, "check"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and "ok (2 services)" in r.stdout and r.stderr.strip() == "", (r.stdout, r.stderr))


def test_main_with_restart_warns():
    p = Procd('''
[services.app]
command = ["true"]
main = true
restart = "always"
''')
    try:
        r = cli(p, "check")
        check(r.returncode == 0 and "1060" in r.stderr and "services.app.restart" in r.stderr, (r.stdout, r.stderr))
    finally:
        p.cleanup()


def test_stop_timeout_in_environment():
    with Procd('''
[services.envy]
command = ["sh", "-c", "echo T=$PROCD_STOP_TIMEOUT_MS > TMPDIR/t.txt; exec sleep 1000", "MARKER"]
stop_timeout_ms = 1234
[services.dflt]
command = ["sh", "-c", "echo T=$PROCD_STOP_TIMEOUT_MS > TMPDIR/d.txt; exec sleep 1000", "MARKER"]
''') as p:
        for f, want in (("t.txt", "T=1234"), ("d.txt", "T=3000")):
            path = os.path.join(p.dir, f)
            p.wait_for(lambda: os.path.exists(path) and open(path).read().strip(), 5, f)
            check(open(path).read().strip() == want, open(path).read())


SLOW = r'''
import os, signal, socket, sys, time
def tell(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = os.environ["NOTIFY_SOCKET"]
    s.sendto(msg.encode(), "\0" + addr[1:] if addr.startswith("@") else addr)
def term(*_):
    tell("EXTEND_TIMEOUT_USEC=3000000")
    time.sleep(2)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
tell("READY=1")
while True:
    time.sleep(1)
'''


def test_extend_timeout_saves_slow_stopper():
    with Procd('''
[services.slow]
command = ["python3", "TMPDIR/slow.py", "MARKER"]
ready = "notify"
stop_timeout_ms = 1000
''') as p:
        with open(os.path.join(p.dir, "slow.py"), "w") as fh:
            fh.write(SLOW)
        p.wait_state("slow", "running", timeout=10)
        r = cli(p, "stop", "slow")
        check(r.returncode == 0, r)
        p.wait_state("slow", "stopped", timeout=10)
        st = status_of(p, "slow")
        check(st["last_exit"] == {"code": 0, "signal": None}, st)


def test_stop_reasons_in_events():
    svcs = '''
[services.asked]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
[services.changed]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
env = { V = "%s" }
[services.last]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
'''
    with Procd(svcs % "1") as p:
        for n in ("asked", "changed", "last"):
            p.wait_state(n, "running")
        ev = subprocess.Popen([PROCD, "-c", p.config, "events", "--json"], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)  # bounded: the stream is open before the stops
            check(cli(p, "stop", "asked").returncode == 0)
            p.rewrite(svcs % "2")
            check(cli(p, "reload").returncode == 0)
            p.wait_state("changed", "running", count=2)
            p.signal(signal.SIGTERM)
            p.wait_exit(15)
        finally:
            out = ev.communicate(timeout=10)[0]
        items = [json.loads(l) for l in out.splitlines() if l.startswith("{") and '"service"' in l]
        def reason(name):
            return [(i.get("stop_reason"), i["reason"]) for i in items if i["service"] == name and i["state"] == "stopping"]
        check(reason("asked") and reason("asked")[0][0] == "requested", reason("asked"))
        check(reason("changed") and reason("changed")[0] == ("reload", "stopping: reload"), reason("changed"))
        check(reason("last") and reason("last")[0] == ("shutdown", "stopping: shutdown"), reason("last"))
        check(p.first_ts("changed", "stopping changed: reload") is not None, p.tail())


if __name__ == "__main__":
    run_tests([test_main_exit_0_stops_helpers, test_main_exit_7_is_procds_code, test_main_killed_by_sigterm_gives_143,
               test_main_failed_pre_start_after_reload_gives_127,
               test_run_dash_dash_exit_code, test_run_dash_dash_output_reaches_caller,
               test_run_dash_dash_command_not_found_127,
               test_run_dash_dash_main_sees_a_terminal, test_run_dash_dash_beside_config_helpers, test_two_mains_is_a_check_error,
               test_container_example_checks, test_main_with_restart_warns,
               test_stop_timeout_in_environment, test_extend_timeout_saves_slow_stopper, test_stop_reasons_in_events])
