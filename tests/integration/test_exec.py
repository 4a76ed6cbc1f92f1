"""Integration tests of `procd exec` (container entrypoint mode).

Every subprocess call is bounded by a timeout; every process a test learns
about is ended by PID in a finally block. Runtime: well under 40 s.
"""
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procdtest import PROCD, check, proc_state, run_tests, zombies_of  # noqa: E402


def run(args, timeout=10, env=None, **kw):
    """procd exec ARGS (ARGS carry their own `--` when they have options)."""
    e = dict(os.environ)
    e.update(env or {})
    if "--" not in args:
        args = ["--"] + args
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([PROCD, "exec"] + args, timeout=timeout, env=e, **kw)


def popen(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen([PROCD, "exec"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=e)


def readline(f, timeout=5.0):
    """One line from a pipe, bounded; None on timeout/EOF."""
    buf = b""
    end = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0:
            return None
        r, _, _ = select.select([f], [], [], left)
        if not r:
            return None
        ch = os.read(f.fileno(), 1)
        if not ch:
            return None
        buf += ch
    return buf.decode().strip()


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, TypeError):
            pass


def finish(p, extra_pids=()):
    """End a procd Popen (by PID) and anything it started that we know of."""
    if p.poll() is None:
        p.kill()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    kill_pids(extra_pids)
    for s in (p.stdout, p.stderr):
        if s:
            s.close()


def alive(pid):
    return proc_state(pid) not in (None, "Z")


def wait_until(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


# ---------------------------------------------------------------- exit codes

def test_exit_code_passthrough():
    check(run(["true"]).returncode == 0)
    r = run(["sh", "-c", "exit 7"])
    check(r.returncode == 7, "exit 7 -> %s" % r.returncode)


def test_signal_death_is_128_plus_n():
    r = run(["sh", "-c", "kill -KILL $$"])
    check(r.returncode == 137, "SIGKILL -> %s" % r.returncode)
    r = run(["sh", "-c", "kill -TERM $$"])
    check(r.returncode == 143, "SIGTERM -> %s" % r.returncode)


def test_stdio_inherited():
    r = run(["cat"], input=b"hello through procd\n")
    check(r.returncode == 0 and r.stdout == b"hello through procd\n", repr(r))


def test_exec_failure_codes():
    r = run(["procd-no-such-command-xyz"])
    err = r.stderr.decode()
    check(r.returncode == 127, "not found -> %s" % r.returncode)
    check("error[4002]" in err and "No such file or directory" in err, err)
    with tempfile.NamedTemporaryFile(prefix="procd-noexec-") as f:
        r = run([f.name])
        check(r.returncode == 126, "not executable -> %s" % r.returncode)
        check("error[4002]" in r.stderr.decode(), r.stderr.decode())


def test_usage_errors():
    for bad in (["--rewrite", "NOPE:TERM"], ["--rewrite", "TERM"], ["--rewrite", "TERM:BOGUS"],
                ["--rewrite", "KILL:TERM"], ["--rewrite", "CHLD:TERM"]):
        r = run(bad + ["--", "true"])
        check(r.returncode == 2, "%s -> %s" % (bad, r.returncode))
        check("error[2003]" in r.stderr.decode(), "%s: %s" % (bad, r.stderr.decode()))
    r = subprocess.run([PROCD, "exec"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    check(r.returncode == 2, "no command -> %s" % r.returncode)


# ---------------------------------------------------------------- signals

TRAPPER = ('trap "exit 42" TERM; trap "exit 43" USR1; trap "exit 44" QUIT; echo "ready $$"; '
           'while :; do sleep 0.02; done')


def signal_case(args, sig, want):
    p = popen(args + ["--", "sh", "-c", TRAPPER])
    child = None
    try:
        line = readline(p.stdout)
        if not (line and line.startswith("ready ")):
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            err = p.stderr.read().decode(errors="replace") if p.poll() is not None else ""
            check(False, "%s: no ready line (%r), rc %s, stderr %r" % (args, line, p.poll(), err))
        child = int(line.split()[1])
        # the child runs in its own process group, not procd's
        check(os.getpgid(child) == child, "child pgid %d != %d" % (os.getpgid(child), child))
        p.send_signal(sig)
        rc = p.wait(timeout=5)
        check(rc == want, "%s %s -> rc %s, want %s" % (args, sig, rc, want))
    finally:
        finish(p, [child] if child else [])


def test_sigterm_forwarded():
    signal_case([], signal.SIGTERM, 42)
    signal_case([], signal.SIGUSR1, 43)


def test_rewrite():
    signal_case(["--rewrite", "TERM:USR1"], signal.SIGTERM, 43)
    signal_case(["--rewrite", "SIGTERM:quit", "--rewrite", "15:3"], signal.SIGTERM, 44)
    signal_case(["--rewrite", "USR1:TERM"], signal.SIGUSR1, 42)


def group_case(kill_group):
    script = 'sleep 30 & echo "ready $$ $!"; wait'
    p = popen((["--kill-group"] if kill_group else []) + ["--", "sh", "-c", script])
    pids = []
    try:
        line = readline(p.stdout)
        check(line and line.startswith("ready "), "no ready line: %r" % line)
        sh_pid, sleep_pid = (int(x) for x in line.split()[1:3])
        pids = [sh_pid, sleep_pid]
        check(os.getpgid(sleep_pid) == sh_pid, "grandchild not in the child's group")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=5)
        check(rc == 143, "rc %s" % rc)
        # with the group signalled the sleep dies at once; give it up to 2 s
        return wait_until(lambda: not alive(sleep_pid), 2.0 if kill_group else 0.3)
    finally:
        finish(p, pids)


def test_kill_group():
    check(group_case(True), "--kill-group: the grandchild survived SIGTERM")
    check(not group_case(False), "without --kill-group the grandchild should not get the signal")


# ---------------------------------------------------------------- reaping

ORPHANS = 'for i in $(seq 300); do (sleep 0.01 &); done; (exec sleep 1.2 &); echo spawned; sleep 1'


def test_reap_as_subreaper():
    p = popen(["--", "bash", "-c", ORPHANS])
    kids = []
    try:
        line = readline(p.stdout, timeout=15)
        check(line == "spawned", "no spawned line: %r" % line)
        time.sleep(0.3)  # every `sleep 0.01` orphan has exited by now
        samples = []
        for _ in range(3):
            samples.append(len(zombies_of(p.pid)))
            time.sleep(0.1)
        check(samples == [0, 0, 0], "zombies of procd: %s" % samples)
        # bash and the reparented orphan (exec sleep 1.2): procd adopted it as subreaper
        kids = [int(k) for k in open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()]
        check(len(kids) >= 2, "reparented orphan missing: children of procd %s" % kids)
        rc = p.wait(timeout=10)
        check(rc == 0, "rc %s" % rc)
    finally:
        finish(p, kids)


def unshare_works():
    try:
        r = subprocess.run(["unshare", "--fork", "--pid", "--mount-proc", "true"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


PID1_SCRIPT = ('for i in $(seq 300); do (sleep 0.01 &); done; (exec sleep 0.8 &); sleep 0.5; '
               'z=$(cat /proc/[0-9]*/stat 2>/dev/null | awk \'{ sub(/^.*\\) /, ""); if ($1 == "Z") n++ } '
               'END { print n + 0 }\'); '
               'o=$(pgrep -x -P 1 sleep | head -1); echo "zombies=$z pid=$$ orphan_ppid=$(ps -o ppid= -p $o | tr -d " ")"; exit 5')


def test_reap_as_pid1():
    if not unshare_works():
        print("SKIP test_reap_as_pid1: unshare --fork --pid --mount-proc does not work here")
        return
    r = subprocess.run(["unshare", "--fork", "--pid", "--mount-proc", PROCD, "exec", "--", "bash", "-c", PID1_SCRIPT],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    out = r.stdout.decode()
    check(r.returncode == 5, "rc %s, out %r err %r" % (r.returncode, out, r.stderr.decode()))
    fields = dict(kv.split("=", 1) for kv in out.split())
    check(fields.get("pid") == "2", "child should be PID 2 under procd as PID 1: %r" % out)
    check(fields.get("zombies") == "0", "zombies in the namespace: %r" % out)
    check(fields.get("orphan_ppid", "").strip() == "1", "orphan not adopted by PID 1: %r" % out)


# ---------------------------------------------------------------- --wait-all

def timed(args, env=None, timeout=15):
    """(rc, seconds, stderr). Output goes to files: orphans keep pipes open."""
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        r = run(args, timeout=timeout, env=env, stdout=subprocess.DEVNULL, stderr=err)
        dt = time.monotonic() - t0
        err.seek(0)
        return r.returncode, dt, err.read().decode(errors="replace")


def test_wait_all_waits_for_orphans():
    rc, dt, err = timed(["--wait-all", "--", "sh", "-c", "sleep 0.5 & exit 0"])
    check(rc == 0 and dt >= 0.4, "--wait-all: rc %s after %.3fs %s" % (rc, dt, err))
    check(dt < 3, "--wait-all took %.3fs" % dt)
    rc, dt, err = timed(["--", "sh", "-c", "sleep 0.5 & exit 0"])
    check(rc == 0 and dt < 0.35, "without --wait-all: rc %s after %.3fs" % (rc, dt))


def test_wait_all_ladder():
    # one orphan dies on SIGTERM at G; two ignore it and need SIGKILL at 2G,
    # one of them in its own session (found as a child of procd, not by group)
    script = ('sleep 30 & a=$!; (trap "" TERM; exec sleep 30) & b=$!; '
              'setsid sh -c \'trap "" TERM; exec sleep 30\' & echo "$b $! $a" > "$0"; exit 3')
    with tempfile.NamedTemporaryFile(prefix="procd-exec-") as f:
        try:
            rc, dt, err = timed(["--wait-all", "--", "sh", "-c", script, f.name], env={"PROCD_EXEC_GRACE_MS": "300"})
            check(rc == 3, "rc %s %s" % (rc, err))
            check(0.55 <= dt < 3.0, "ladder took %.3fs (want ~0.6 s: G=300 ms TERM, 2G KILL)" % dt)
            pids = [int(x) for x in open(f.name).read().split()]
            check(len(pids) == 3, "pids %s" % pids)
            check(not any(alive(p) for p in pids), "orphans still alive: %s" % [p for p in pids if alive(p)])
        finally:
            try:
                kill_pids([int(x) for x in open(f.name).read().split()])
            except (ValueError, OSError):
                pass


# ---------------------------------------------------------------- terminal

def test_tty_foreground_group():
    """With a controlling terminal the child's group becomes the foreground group."""
    script = 'cat /proc/$$/stat'
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(PROCD, [PROCD, "exec", "--", "sh", "-c", script])
        finally:
            os._exit(99)
    out = b""
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                pid = 0
                break
        fields = out.decode(errors="replace").rsplit(")", 1)[-1].split()
        # state ppid pgrp session tty_nr tpgid
        check(len(fields) > 5, "no stat line: %r" % out)
        sh_pid = int(out.decode().split()[0])
        check(int(fields[2]) == sh_pid, "child pgrp %s != its pid %d" % (fields[2], sh_pid))
        check(int(fields[5]) == sh_pid, "terminal foreground group %s, want the child's %d" % (fields[5], sh_pid))
    finally:
        if pid:
            kill_pids([pid])
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        os.close(fd)


if __name__ == "__main__":
    run_tests([
        test_exit_code_passthrough,
        test_signal_death_is_128_plus_n,
        test_stdio_inherited,
        test_exec_failure_codes,
        test_usage_errors,
        test_sigterm_forwarded,
        test_rewrite,
        test_kill_group,
        test_reap_as_subreaper,
        test_reap_as_pid1,
        test_wait_all_waits_for_orphans,
        test_wait_all_ladder,
        test_tty_foreground_group,
    ])
