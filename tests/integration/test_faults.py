"""Fault injection against the real binary: procd out of file descriptors
(accept and pipe fail), fork failing under RLIMIT_NPROC, a SIGSTOPped
service being stopped, a notify-socket flood during crash/restart, a
`logs -f` client that stops reading while procd shuts down, and 200
garbage control connections at once. In every case procd stays up (or
exits promptly when told to), answers `status`, logs what failed with its
code, and gets back to normal once the fault is gone."""
import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time

from procdtest import ANSWER_S, PROCD, Procd, check, run_tests


def cli(p, *args, timeout=20, prefix=()):
    # prefix: run the CLI as procd's user (it trusts only root's or its own user's server).
    return subprocess.run(list(prefix) + [PROCD, "-c", p.config] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, text=True)


def sock_path(p):
    return os.path.join(p.dir, ".procd.sock")


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_status(p, timeout=5, prefix=()):
    t0 = time.monotonic()
    r = cli(p, "status", "--json", timeout=timeout, prefix=prefix)
    return r, time.monotonic() - t0


def connect(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path(p))
    return s


def status_of(p, name):
    r = cli(p, "status", "--json")
    check(r.returncode == 0, r.stdout + r.stderr)
    return next(s for s in json.loads(r.stdout)["services"] if s["name"] == name)


# --- a. out of file descriptors ---------------------------------------------

def probe(p, held):
    """Connect while procd is out of fds: the reply it sends a client it
    cannot accept, or None when an fd was free (the last run of a service
    freed its pipes) and the client was accepted. An accepted client shows
    it is served (a status answer) and joins `held`, keeping that fd."""
    s = connect(p)
    s.settimeout(ANSWER_S)  # "answers within a second", scaled for sanitizer builds
    try:
        return s.recv(4096)  # a refused client is told at once
    except socket.timeout:
        pass
    s.settimeout(5)
    try:
        s.sendall(b'{"cmd":"status"}\n')
        line = s.makefile("rb").readline()
    except ConnectionResetError:  # refused after all, and the request unread
        s.close()
        return None
    if b'"code":7002' in line.replace(b" ", b""):
        s.close()
        return line
    check(b'"services"' in line, "an accepted client is served: %r" % line[:200])
    held.append(s)
    return None


FLAPPY = '''
[services.flappy]
command = ["bash", "-c", "sleep 0.2; exit 1", "MARKER"]
[services.flappy.restart]
policy = "always"
delay_ms = 100
start_limit = { burst = 0 }  # restarts for as long as the test runs (no default start limit)
# Its spawn fails at once, before the fd limit: under UBSan the failure
# facts' shared_ptr control block is then not first vptr-checked while no fd
# is free (the check needs a pipe(); with none it reports a false "invalid
# vptr" and halts procd; it is cached per type).
[services.warmup]
command = ["procd-test-no-such-command"]
restart = "never"
'''


def test_out_of_fds_accept_and_pipe_fail_then_recover():
    with Procd(FLAPPY, shutdown=(1000, 1500, 2000)) as p:
        p.wait_state("flappy", "running", count=2)
        p.wait_for(lambda: os.path.exists(sock_path(p)), 5, "socket")
        pid = p.proc.pid
        # One round trip first: it answers, and under UBSan it is not the
        # first check of a connection's dynamic type. That check needs a
        # pipe() (IsAccessibleMemoryRange) and, with no fd free, reports an
        # "invalid vptr" that is not there; it is done once per type.
        r, _ = timed_status(p)
        check(r.returncode == 0, "status before the limit: %s" % r.stderr)
        p.wait_state("warmup", "failed")
        # A second start steps the machine with the facts of the first failure: their shared_ptr is copied (checked).
        subprocess.run([PROCD, "-c", p.config, "start", "warmup"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        p.wait_state("warmup", "failed", count=2)
        time.sleep(0.3)
        baseline = fd_count(pid)
        limit = baseline + 20
        subprocess.run(["prlimit", "--pid", str(pid), "--nofile=%d:%d" % (limit, limit)], check=True)
        # Streaming clients hold one procd fd each and never time out.
        held = []
        for _ in range(40):
            try:
                s = connect(p)
                s.sendall(b'{"cmd":"events"}\n')
                held.append(s)
            except OSError:
                break
        p.wait_for(lambda: fd_count(pid) >= limit - 3, 5, "procd's fds used up (%d of %d)" % (fd_count(pid), limit))
        p.wait_for(lambda: '"code":7002' in p.log_text().replace(" ", ""), 5, "an out-of-fds error with its code")
        failed_starts = lambda: [e for e in p.events() if e.get("service") == "flappy" and e.get("level") in ("error", "warn")
                                 and e.get("code") in (7002, 5003, 4001, 5002)]
        p.wait_for(failed_starts, 5, "a failed start of flappy for lack of pipes")
        # procd keeps running and does not spin on the failing accept/spawn.
        c0, t0 = cpu_seconds(pid), time.monotonic()
        told = 0
        for _ in range(30):  # clients procd cannot accept are told why
            reply = probe(p, held)
            if reply is not None:
                check(b'"code":7002' in reply.replace(b" ", b""), reply)
                told += 1
                if told == 3:
                    break
        check(told == 3, "%d clients told they cannot be accepted" % told)
        time.sleep(1.0)
        used = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        check(p.proc.poll() is None, "procd exited\n" + p.tail())
        check(used < 0.3, "procd used %.0f%% CPU while out of fds" % (used * 100))
        refused = lambda: [e for e in p.events() if e.get("code") == 7002 and "control" in e.get("msg", "")]
        p.wait_for(refused, 5, "the failing accept logged with its code")
        check(len(refused()) <= 2, "logged once per episode, not per client: %s" % refused())
        for s in held:
            s.close()
        p.wait_for(lambda: fd_count(pid) <= baseline + 2, 10, "fds freed (%d, baseline %d)" % (fd_count(pid), baseline))
        r, took = timed_status(p)
        check(r.returncode == 0 and took < ANSWER_S,
              "status after recovery: %s %.2fs, procd exit %s\n%s" % (r.stderr, took, p.proc.poll(), p.tail()))
        runs = p.states("flappy").count("running")
        p.wait_state("flappy", "running", count=runs + 2, timeout=10)


# --- b. fork failing under RLIMIT_NPROC -------------------------------------

def tasks_of_uid(uid):
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/status" % d) as fh:
                    real = next(l for l in fh if l.startswith("Uid:")).split()[1]
                if int(real) == uid:
                    n += len(os.listdir("/proc/%s/task" % d))
            except (OSError, StopIteration):
                pass
    return n


def test_fork_fails_under_nproc_is_a_failed_start():
    if os.geteuid() != 0:
        print("skip: needs root to run procd as nobody")
        return
    nobody = pwd.getpwnam("nobody").pw_uid
    svc = '''
[services.later]
command = ["bash", "-c", "exec -a MARKER-later sleep 1000"]
autostart = false
'''
    p = Procd(svc, shutdown=(1000, 1500, 2000))
    try:
        os.chmod(p.dir, 0o777)
        os.chmod(p.config, 0o644)
        p.start(prefix=["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        p.wait_for(lambda: os.path.exists(sock_path(p)), 5, "socket")
        pid = p.proc.pid
        time.sleep(0.3)
        # Every task of uid nobody counts: at the current count, the next fork fails.
        limit = tasks_of_uid(nobody)
        with open("/proc/%d/limits" % pid) as fh:
            soft_before = next(l for l in fh if l.startswith("Max processes")).split()[2]
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "prlimit", "--pid", str(pid)]
        subprocess.run(as_nobody + ["--nproc=%d:" % limit], check=True)  # soft limit only: it can go back up
        as_procd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]  # procd's user
        r = cli(p, "start", "later", prefix=as_procd)
        p.wait_for(lambda: [e for e in p.events() if e.get("service") == "later" and e.get("code") == 7004],
                   5, "a failed start with its code")
        check(p.proc.poll() is None, "procd exited\n" + p.tail())
        r, took = timed_status(p, prefix=as_procd)
        check(r.returncode == 0 and took < ANSWER_S, "status while fork fails: %s %.2fs" % (r.stderr, took))
        check(not p.live_marked_pids(), "no service process")
        subprocess.run(as_nobody + ["--nproc=%s:" % soft_before], check=True)
        r = cli(p, "start", "later", prefix=as_procd)
        p.wait_for(lambda: p.live_marked_pids(), 10, "later running once fork works again (%s)" % r.stderr)
    finally:
        p.cleanup()


# --- c. a SIGSTOPped service being stopped ------------------------------------

def test_stopped_process_is_killed_at_stop_timeout():
    svc = '''
[services.frozen]
command = ["bash", "-c", "exec -a MARKER-frozen sleep 1000"]
stop_timeout_ms = 500
'''
    with Procd(svc) as p:
        p.wait_state("frozen", "running")
        pid = p.wait_for(lambda: p.running_pid("frozen"), 5, "pid")
        os.kill(pid, signal.SIGSTOP)
        p.wait_for(lambda: open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "T", 5, "stopped")
        t0 = time.monotonic()
        r = cli(p, "stop", "frozen")
        p.wait_state("frozen", "stopped", timeout=5)
        took = time.monotonic() - t0
        check(r.returncode == 0, r.stderr)
        check(0.4 < took < 3.0, "stopped after %.2fs (SIGKILL at the 500 ms stop timeout)" % took)
        p.wait_for(lambda: not os.path.exists("/proc/%d" % pid), 5, "the pid gone (reaped)")
        check(not p.live_marked_pids(), "nothing left")


# --- d. notify-socket flood ----------------------------------------------------

def test_notify_flood_while_a_service_crashes_and_restarts():
    svc = '''
[services.crashy]
command = ["bash", "-c", "echo sock=$NOTIFY_SOCKET; sleep 0.3; exit 3", "MARKER"]
ready = "notify"
start_timeout_ms = 5000
[services.crashy.restart]
policy = "always"
delay_ms = 50
'''
    with Procd(svc) as p:
        line = p.wait_for(lambda: next((e["msg"] for e in p.events() if "sock=" in e.get("msg", "")), None), 10,
                          "the notify socket path")
        addr = line.split("sock=", 1)[1].strip()
        if addr.startswith("@"):
            addr = "\0" + addr[1:]
        stop = threading.Event()
        sent = [0]

        def flood():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.setblocking(False)
            while not stop.is_set():
                try:
                    s.sendto(b"STATUS=flood\nWATCHDOG=1\nREADY=1", addr)
                    sent[0] += 1
                except (BlockingIOError, ConnectionRefusedError):
                    pass
            s.close()

        threads = [threading.Thread(target=flood) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            starts_before = p.states("crashy").count("starting")
            worst = 0.0
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                r, took = timed_status(p)
                check(r.returncode == 0, r.stderr)
                worst = max(worst, took)
            check(worst < ANSWER_S, "status took %.2fs under a notify flood" % worst)
            p.wait_for(lambda: p.states("crashy").count("starting") >= starts_before + 3, 10,
                       "restarts during the flood (%d datagrams sent)" % sent[0])
            check(p.proc.poll() is None, "procd exited")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=5)
        check(sent[0] > 1000, "the flood reached procd (%d datagrams)" % sent[0])


# --- e. a follow client that stops reading, then shutdown ---------------------

def test_stalled_follow_client_does_not_hold_shutdown():
    svc = '''
[services.chatty]
command = ["bash", "-c", "exec -a MARKER-chatty python3 -c 'import sys\\nwhile True: sys.stdout.write(\\"x\\" * 200 + \\"\\\\n\\")'"]
'''
    with Procd(svc, shutdown=(1000, 1500, 2000), level="info") as p:
        p.wait_state("chatty", "running")
        p.wait_for(lambda: os.path.exists(sock_path(p)), 5, "socket")
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(sock_path(p))
        stalled.sendall(b'{"cmd":"logs","follow":true,"lines":0}\n')  # and never read
        try:
            time.sleep(1.0)
            for _ in range(5):
                r, took = timed_status(p)
                check(r.returncode == 0 and took < ANSWER_S, "status beside a stalled follower: %s %.2fs" % (r.stderr, took))
            t0 = time.monotonic()
            p.signal(signal.SIGTERM)
            p.wait_exit(10)
            took = time.monotonic() - t0
            check(took < 4.0, "procd took %.2fs to exit with a stalled follower" % took)
            check(not p.live_marked_pids(), "nothing left")
        finally:
            stalled.close()


# --- f. 200 garbage control connections at once -----------------------------

def test_two_hundred_garbage_connections():
    svc = '''
[services.web]
command = ["bash", "-c", "exec -a MARKER-web sleep 1000"]
'''
    with Procd(svc) as p:
        p.wait_state("web", "running")
        p.wait_for(lambda: os.path.exists(sock_path(p)), 5, "socket")
        pid = p.proc.pid
        time.sleep(0.3)
        baseline = fd_count(pid)
        conns = []
        for i in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(sock_path(p))
            except BlockingIOError:
                pass
            try:
                if i % 3 == 0:
                    s.send(os.urandom(512))          # random bytes
                elif i % 3 == 1:
                    s.send(b'{"cmd":"status","na')   # half a request
                    s.shutdown(socket.SHUT_WR)       # half-open
            except OSError:
                pass  # procd already answered and closed it: fine
            conns.append(s)                          # i % 3 == 2: connected, silent, never closing
        for _ in range(5):
            r, took = timed_status(p)
            check(r.returncode == 0 and took < ANSWER_S, "status beside 200 garbage connections: %s %.2fs" % (r.stderr, took))
        check(fd_count(pid) > baseline + 20, "the silent ones are held (%d fds, baseline %d)" % (fd_count(pid), baseline))
        for s in conns:
            s.close()
        p.wait_for(lambda: fd_count(pid) == baseline, 5, "fds back to baseline %d (now %d)" % (baseline, fd_count(pid)))
        r, took = timed_status(p)
        check(r.returncode == 0 and took < ANSWER_S)


def test_reused_group_id_is_not_signalled():
    """The run's leader exits while its output pipe is still held (by a
    process that left the group), so procd drains for up to 1 s; meanwhile
    the now empty group id is reused by an unrelated new session (forced
    through ns_last_pid). The drain's deadline must not SIGKILL it."""
    if os.geteuid() != 0 or not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        print("  (skipped: needs root and ns_last_pid)")
        return
    cmd = "setsid python3 -c 'import time; time.sleep(3)' MARKER & sleep 0.3; echo started; exit 0"
    innocent = None
    with Procd('[services.g]\ncommand = ["sh", "-c", %s, "MARKER"]\nrestart = "never"\nstop_timeout_ms = 1000\n'
               % json.dumps(cmd)) as p:
        pgid = p.wait_for(lambda: p.running_pid("g"), timeout=10, what="g running")  # the pipe holder is marked: cleanup ends it
        p.wait_for(lambda: not os.path.exists("/proc/%d" % pgid), timeout=5, what="leader reaped")
        for _ in range(20):  # take the id: the next pid is pgid
            with open("/proc/sys/kernel/ns_last_pid", "w") as fh:
                fh.write(str(pgid - 1))
            c = subprocess.Popen(["sleep", "30"], start_new_session=True)
            if c.pid == pgid:
                innocent = c
                break
            c.kill()
            c.wait()
        if innocent is None:
            print("  (skipped: could not take pid %d)" % pgid)
            return
        try:
            time.sleep(1.8)  # past the drain deadline (1 s after the exit)
            check(innocent.poll() is None, "procd killed an unrelated group that reused id %d" % pgid)
        finally:
            innocent.kill()
            innocent.wait()


if __name__ == "__main__":
    run_tests([
        test_out_of_fds_accept_and_pipe_fail_then_recover,
        test_fork_fails_under_nproc_is_a_failed_start,
        test_stopped_process_is_killed_at_stop_timeout,
        test_notify_flood_while_a_service_crashes_and_restarts,
        test_stalled_follow_client_does_not_hold_shutdown,
        test_two_hundred_garbage_connections,
        test_reused_group_id_is_not_signalled,
    ])
