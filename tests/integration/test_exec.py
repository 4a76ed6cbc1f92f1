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
    # The orphan outlives the child by 1.5 s: a margin that a slow (sanitizer)
    # build's own start-up cannot eat.
    rc, dt, err = timed(["--wait-all", "--", "sh", "-c", "sleep 1.5 & exit 0"])
    check(rc == 0 and dt >= 1.4, "--wait-all: rc %s after %.3fs %s" % (rc, dt, err))
    check(dt < 4, "--wait-all took %.3fs" % dt)
    rc, dt, err = timed(["--", "sh", "-c", "sleep 1.5 & exit 0"])
    check(rc == 0 and dt < 1.2, "without --wait-all: rc %s after %.3fs" % (rc, dt))


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


# ---------------------------------------------------------------- dumb-init parity

def child_of(pid, timeout=5.0):
    """The first child of PID (procd's child), bounded."""
    kids = []

    def found():
        nonlocal kids
        try:
            kids = [int(k) for k in open("/proc/%d/task/%d/children" % (pid, pid)).read().split()]
        except OSError:
            kids = []
        return bool(kids)
    check(wait_until(found, timeout), "procd %d started no child" % pid)
    return kids[0]


FAULT_CATCHER = r"""
import os, signal, sys
names = ("SEGV", "BUS", "ABRT", "FPE", "ILL")
def got(sig, frame):
    os.write(1, ("got %d\n" % sig).encode())
for n in names:
    signal.signal(getattr(signal, "SIG" + n), got)
signal.signal(signal.SIGTERM, lambda *a: os._exit(9))
os.write(1, ("ready %d\n" % os.getpid()).encode())
while True:
    signal.pause()
"""


def sigqueue(pid, sig):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.sigqueue(ctypes.c_int(pid), ctypes.c_int(sig), ctypes.c_long(1234)) != 0:
        raise OSError(ctypes.get_errno(), "sigqueue")


def test_fault_numbers_sent_from_outside_forwarded():
    """kill(2)/sigqueue(3) of SEGV, BUS, ABRT, FPE, ILL reach the child; procd lives on."""
    p = popen(["--", sys.executable, "-c", FAULT_CATCHER])
    child = None
    try:
        line = readline(p.stdout)
        check(line and line.startswith("ready "), "no ready line: %r" % line)
        child = int(line.split()[1])
        for sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL):
            for send in (os.kill, sigqueue):
                send(p.pid, sig)
                got = readline(p.stdout)
                check(got == "got %d" % sig, "%s %s: child printed %r (procd rc %s)" % (send.__name__, sig, got,
                                                                                        p.poll()))
                check(p.poll() is None, "procd died of %s sent by %s" % (sig, send.__name__))
        # --rewrite applies to them too
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=5) == 9, "rc %s" % p.returncode)
    finally:
        finish(p, [child] if child else [])
    p = popen(["--rewrite", "SEGV:TERM", "--", sys.executable, "-c", FAULT_CATCHER])
    child = None
    try:
        line = readline(p.stdout)
        check(line and line.startswith("ready "), "no ready line: %r" % line)
        child = int(line.split()[1])
        p.send_signal(signal.SIGSEGV)
        check(p.wait(timeout=5) == 9, "--rewrite SEGV:TERM: rc %s" % p.returncode)
    finally:
        finish(p, [child] if child else [])


def seccomp_trap_chdir():
    """preexec_fn: a seccomp filter that makes chdir(2) raise a kernel SIGSYS
    (si_code SYS_SECCOMP > 0), a real synchronous fault inside procd (which calls
    chdir("/") right after starting its child)."""
    import ctypes
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    NR_CHDIR, AUDIT_ARCH_X86_64 = 80, 0xC000003E
    BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
    RET_ALLOW, RET_TRAP = 0x7FFF0000, 0x00030000
    insns = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64), (BPF_RET_K, 0, 0, RET_ALLOW),
             (BPF_LD_W_ABS, 0, 0, 0), (BPF_JEQ_K, 0, 1, NR_CHDIR), (BPF_RET_K, 0, 0, RET_TRAP),
             (BPF_RET_K, 0, 0, RET_ALLOW)]
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))
    prog = struct.pack("HxxxxxxP", len(insns), ctypes.addressof(code))
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        os._exit(97)
    buf = ctypes.create_string_buffer(prog)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(buf), 0, 0) != 0:
        os._exit(98)


def test_real_fault_still_kills_procd():
    import platform
    if platform.machine() != "x86_64":
        print("SKIP test_real_fault_still_kills_procd: the seccomp filter is written for x86_64")
        return
    p = subprocess.Popen([PROCD, "exec", "--", "sh", "-c", 'echo $$; exec sleep 30'], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=seccomp_trap_chdir)
    child = None
    try:
        line = readline(p.stdout)
        check(line and line.isdigit(), "no pid line %r" % line)
        child = int(line)
        rc = p.wait(timeout=5)
        check(rc not in (97, 98), "seccomp filter not installed (rc %s)" % rc)
        check(rc == -signal.SIGSYS, "procd should die of its own SIGSYS fault, rc %s (stderr %r)" % (
            rc, p.stderr.read().decode(errors="replace")))
    finally:
        finish(p, [child] if child else [])


def test_job_control_stop_and_continue():
    """SIGTSTP/SIGTTIN/SIGTTOU stop the child, then procd; SIGCONT resumes both."""
    for sig in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        p = popen(["--", "sleep", "30"])
        child = None
        try:
            child = child_of(p.pid)
            p.send_signal(sig)
            both = lambda: proc_state(child) == "T" and proc_state(p.pid) == "T"  # noqa: E731
            check(wait_until(both, 3), "%s: child %s, procd %s (want T T)" % (sig, proc_state(child),
                                                                              proc_state(p.pid)))
            p.send_signal(signal.SIGCONT)
            running = lambda: proc_state(child) in ("S", "R") and proc_state(p.pid) in ("S", "R")  # noqa: E731
            check(wait_until(running, 3), "SIGCONT: child %s, procd %s" % (proc_state(child), proc_state(p.pid)))
            p.send_signal(signal.SIGTERM)
            check(p.wait(timeout=5) == 143, "rc %s" % p.returncode)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
            finish(p, [child] if child else [])


def test_chdir_root_after_start():
    with tempfile.TemporaryDirectory(prefix="procd-cwd-") as d:
        p = subprocess.Popen([PROCD, "exec", "--", "sleep", "30"], cwd=d, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        child = None
        try:
            child = child_of(p.pid)
            real = os.path.realpath(d)
            check(wait_until(lambda: os.readlink("/proc/%d/cwd" % p.pid) == "/", 3),
                  "procd's cwd %s, want /" % os.readlink("/proc/%d/cwd" % p.pid))
            check(os.readlink("/proc/%d/cwd" % child) == real, "child cwd %s, want %s" % (
                os.readlink("/proc/%d/cwd" % child), real))
        finally:
            finish(p, [child] if child else [])


def test_kill_group_term_on_child_exit():
    """--kill-group: when the child exits, the rest of its group gets SIGTERM."""
    for kill_group in (True, False):
        with tempfile.NamedTemporaryFile(prefix="procd-grp-") as f:
            pid = None
            try:
                rc, dt, err = timed((["--kill-group"] if kill_group else []) +
                                    ["--", "sh", "-c", 'sleep 30 & echo $! > "$0"; exit 3', f.name])
                check(rc == 3, "rc %s %s" % (rc, err))
                pid = int(open(f.name).read())
                gone = wait_until(lambda: not alive(pid), 2.0 if kill_group else 0.3)
                if kill_group:
                    check(gone, "--kill-group: the group member %d survived the child's exit" % pid)
                else:
                    check(not gone, "without --kill-group the group is left alone")
            finally:
                if pid:
                    kill_pids([pid])


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
        test_fault_numbers_sent_from_outside_forwarded,
        test_real_fault_still_kills_procd,
        test_job_control_stop_and_continue,
        test_chdir_root_after_start,
        test_kill_group_term_on_child_exit,
    ])
