"""Issue 27 item 4: `procd start` returns as soon as the outcome is known:
every autostart service ready or completed (exit 0), or one failed / gave
up / is blocked (exit 1, each with its reason and the log's path, and the
supervisor it started is stopped unless --keep). Never a silent wait."""
import os
import pty
import select
import shutil
import signal
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests


def start(p, *extra, timeout=40):
    t0 = time.monotonic()
    r = subprocess.run([PROCD, "-c", p.config, "start"] + list(extra), capture_output=True, text=True,
                       timeout=timeout, cwd=p.dir)
    return r, time.monotonic() - t0


def pid_file(p):
    return os.path.join(p.dir, ".procd.pid")


def supervisor_pid(p):
    try:
        return int(open(pid_file(p)).read())
    except (OSError, ValueError):
        return None


def gone(p):
    st = subprocess.run([PROCD, "-c", p.config, "status"], capture_output=True, text=True, timeout=20)
    return not os.path.exists(pid_file(p)) and st.returncode == 3


def kill_left(p):
    pid = supervisor_pid(p)
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    p.cleanup()


TYPO = '''
[services.typo]
command = ["slep", "1", "MARKER"]
restart = "always"
[services.ok]
command = ["bash", "-c", "exec -a MARKER-s sleep 1000"]
'''


def test_typo_fails_fast_with_reason_and_stops_supervisor():
    p = Procd(TYPO)
    try:
        r, took = start(p)
        out = r.stdout + r.stderr
        check(r.returncode == 1, "rc %d: %s" % (r.returncode, out))
        check(took < 15, "took %.1fs" % took)
        check("typo: command not found: slep" in out, out)
        check("log: " + p.log_path in out, out)
        check(gone(p), "supervisor left running: " + out)
        check(not p.live_marked_pids(), "services left: %s" % p.live_marked_pids())
    finally:
        kill_left(p)


def test_failed_migration_and_blocked_dependent_both_reported():
    p = Procd('''
[services.migrate]
command = ["sh", "-c", "exit 4", "MARKER"]
[services.web]
command = ["bash", "-c", "exec -a MARKER-s sleep 1000"]
depends_on = { migrate = "completed" }
''')
    try:
        r, took = start(p)
        out = r.stdout + r.stderr
        check(r.returncode == 1, "rc %d: %s" % (r.returncode, out))
        check(took < 15, "took %.1fs" % took)
        check("migrate: exited 4" in out, out)
        check("web: blocked: migrate failed" in out, out)
        check("log: " + p.log_path in out, out)
        check(gone(p), "supervisor left running: " + out)
    finally:
        kill_left(p)


def test_keep_leaves_supervisor_running():
    p = Procd(TYPO)
    try:
        r, took = start(p, "--keep")
        out = r.stdout + r.stderr
        check(r.returncode == 1, "rc %d: %s" % (r.returncode, out))
        check(took < 15, "took %.1fs" % took)
        check("typo: command not found: slep" in out, out)
        pid = supervisor_pid(p)
        check(pid and os.path.exists("/proc/%d" % pid), "supervisor not kept: " + out)
        os.kill(pid, signal.SIGTERM)
        p.wait_for(lambda: not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                   15, "kept supervisor stopped")
    finally:
        kill_left(p)


def test_all_good_exits_zero_quickly():
    p = Procd('''
[services.web]
command = ["bash", "-c", "exec -a MARKER-s sleep 1000"]
[services.once]
command = ["sh", "-c", "exit 0", "MARKER"]
[services.after]
command = ["bash", "-c", "exec -a MARKER-s sleep 1000"]
depends_on = { once = "completed" }
''')
    try:
        r, took = start(p)
        out = r.stdout + r.stderr
        check(r.returncode == 0, "rc %d: %s" % (r.returncode, out))
        check(took < 5, "took %.1fs" % took)
        check("log: " + p.log_path in out, out)
        pid = supervisor_pid(p)
        check(pid and os.path.exists("/proc/%d" % pid), "supervisor not running")
        r = subprocess.run([PROCD, "-c", p.config, "stop"], capture_output=True, text=True, timeout=40)
        check(r.returncode == 0, r.stdout + r.stderr)
    finally:
        kill_left(p)


def test_progress_lines_on_a_terminal_only():
    p = Procd('''
[services.once]
command = ["sh", "-c", "sleep 1; exit 0", "MARKER"]
[services.after]
command = ["bash", "-c", "exec -a MARKER-s sleep 1000"]
depends_on = { once = "completed" }
''')
    try:
        master, slave = pty.openpty()
        proc = subprocess.Popen([PROCD, "-c", p.config, "start"], stdin=subprocess.DEVNULL, stdout=slave,
                                stderr=slave, cwd=p.dir)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        rc = proc.wait(timeout=10)
        os.close(master)
        text = out.decode(errors="replace")
        check(rc == 0, "rc %d: %r" % (rc, text))
        check("  after: waiting for once (completed)" in text, repr(text))
        check("\x1b[" in text and "\x1b[J" in text, "no in-place redraw: %r" % text)
        check("procd started" in text, repr(text))
        r = subprocess.run([PROCD, "-c", p.config, "stop"], capture_output=True, text=True, timeout=40)
        check(r.returncode == 0, r.stdout + r.stderr)
        p2 = Procd('''
[services.once]
command = ["sh", "-c", "sleep 1; exit 0", "MARKER"]
''')
        try:
            r, _ = start(p2)
            check(r.returncode == 0 and "\x1b[" not in r.stdout + r.stderr, repr(r.stdout + r.stderr))
        finally:
            kill_left(p2)
    finally:
        kill_left(p)


def test_start_waits_on_events_not_a_timer():
    """While a service takes 3 s to complete, `procd start` sleeps until the
    supervisor tells it something (its notify message, an event, its exit):
    a handful of connections to the control socket, not one every 25 ms."""
    if not shutil.which("strace"):
        print("SKIP: strace is not installed")
        return
    p = Procd('''
[services.once]
command = ["sh", "-c", "sleep 3; exit 0", "MARKER"]
[services.after]
command = ["bash", "-c", "exec -a MARKER-s sleep 1000"]
depends_on = { once = "completed" }
''')
    try:
        trace = os.path.join(p.dir, "start.trace")
        t0 = time.monotonic()
        r = subprocess.run(["strace", "-qq", "-e", "trace=connect", "-o", trace, PROCD, "-c", p.config, "start"],
                           capture_output=True, text=True, timeout=40, cwd=p.dir)
        took = time.monotonic() - t0
        out = r.stdout + r.stderr
        check(r.returncode == 0, "rc %d: %s" % (r.returncode, out))
        check(took >= 3, "returned before the one-shot completed (%.1fs): %s" % (took, out))
        connects = [l for l in open(trace) if "connect(" in l and ".sock" in l]
        print("procd start: %d connections to the control socket in %.1fs" % (len(connects), took))
        check(len(connects) <= 20, "%d connections in %.1fs: polling?\n%s" % (len(connects), took, "".join(connects[:5])))
        r = subprocess.run([PROCD, "-c", p.config, "stop"], capture_output=True, text=True, timeout=40)
        check(r.returncode == 0, r.stdout + r.stderr)
    finally:
        kill_left(p)


if __name__ == "__main__":
    run_tests([
        test_typo_fails_fast_with_reason_and_stops_supervisor,
        test_failed_migration_and_blocked_dependent_both_reported,
        test_keep_leaves_supervisor_running,
        test_all_good_exits_zero_quickly,
        test_progress_lines_on_a_terminal_only,
        test_start_waits_on_events_not_a_timer,
    ])
