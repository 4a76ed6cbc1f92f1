"""cgroup v2 per service (SPEC Part 2 "cgroups"), against the real kernel.

On a host where procd can create cgroups (root, cgroup2 mounted: also the
hybrid layout with /sys/fs/cgroup/unified and no controllers), a service's
double-forked setsid() daemon is gone after `procd stop NAME` and after a
shutdown; a stop waits for `populated 0` by an event, not by polling; a
SIGKILLed procd's orphaned service is killed by the next procd, never run
twice. Where cgroups are not usable (and always, with PROCD_CGROUP_ROOT
pointing at a missing directory) the documented fallback is checked: no
cgroup in status, limits are one warning 10004, a setsid() daemon outlives
its stop. Every cgroup a test leaves is removed in a finally.
"""
import json
import os
import pwd
import signal
import socket
import subprocess
import time

from procdtest import PROCD, Procd, check, proc_state, run_tests

# Main process: double-forks a setsid() daemon (argv MARKER-daemon), then
# waits; exits on SIGTERM. The daemon keeps the output pipes open, as a
# careless daemon does. Mode "ignore": the daemon ignores SIGTERM; "slow":
# it exits 0.5 s after it; "none": no daemon.
SERVICE_PY = r'''
import os, sys, signal, time
marker, mode = sys.argv[1], sys.argv[2]
if mode == "none":
    pass
elif os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("python3", ["python3", "-c", DAEMON, marker + "-daemon", mode])
    os._exit(0)
else:
    os.wait()
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("main up", flush=True)
while True:
    time.sleep(1)
'''
DAEMON_PY = r'''
import signal, sys, time
if sys.argv[2] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.5), sys.exit(0)))
print("daemon up", flush=True)
while True:
    time.sleep(1)
'''
SCRIPT = "DAEMON = %r\n%s" % (DAEMON_PY, SERVICE_PY)


def service(name="d", mode="ignore", extra=""):
    return '''
[services.%s]
command = ["python3", "-c", %s, "MARKER-%s", "%s"]
stop_timeout_ms = 3000
%s
''' % (name, json.dumps(SCRIPT), name, mode, extra)


def cgroup2_mount():
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            if right.split(" ")[0] == "cgroup2":
                return left.split(" ")[4]
    return None


def cgroups_usable():
    """Can procd create cgroups here? (what it will find out itself)."""
    mount = cgroup2_mount()
    if not mount or os.geteuid() != 0:
        return False
    with open("/proc/self/cgroup") as fh:
        own = [l.strip()[3:] for l in fh if l.startswith("0::")]
    if not own:
        return False
    probe = os.path.join(mount + own[0].rstrip("/"), "procd-it-probe-%d" % os.getpid())
    try:
        os.mkdir(probe)
    except OSError:
        return False
    os.rmdir(probe)
    return True


USABLE = cgroups_usable()


def cli(p, *args, timeout=20):
    return subprocess.run([PROCD, "-c", p.config] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, text=True)


def status(p):
    r = cli(p, "status", "--json")
    check(r.returncode == 0, "status: %s" % (r.stdout + r.stderr))
    return {s["name"]: s for s in json.loads(r.stdout)["services"]}


def daemon_up(p, name="d"):
    """PID of the service's daemon once it has set up its SIGTERM handling."""
    p.wait_for(lambda: any(e.get("service") == name and e.get("msg") == "daemon up" for e in p.events()), 10,
               "%s's daemon up" % name)
    return p.wait_for(lambda: daemons(p, name), 10, "%s's daemon" % name)[0]


def daemons(p, name="d"):
    tag = (p.marker + "-" + name + "-daemon").encode()
    out = []
    for pid in p.live_marked_pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as fh:
                if tag in fh.read():
                    out.append(pid)
        except OSError:
            pass
    return out


def alive(pid):
    return proc_state(pid) not in (None, "Z")


def cgroup_of(pid):
    with open("/proc/%d/cgroup" % pid) as fh:
        return [l.strip()[3:] for l in fh if l.startswith("0::")][0]


def remove_tree(base):
    """Kill what is left in a test's own cgroups (only its processes are there) and rmdir them."""
    if not base or not os.path.isdir(base):
        return
    for sub in sorted(os.listdir(base)):
        d = os.path.join(base, sub)
        if os.path.isdir(d):
            remove_tree(d)
    try:
        with open(os.path.join(base, "cgroup.procs")) as fh:
            left = fh.read().split()
        if left and not base.endswith("/supervisor"):
            with open(os.path.join(base, "cgroup.kill"), "w") as fh:
                fh.write("1")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.rmdir(base)
                return
            except OSError:
                time.sleep(0.05)
    except OSError:
        pass


def base_of(p):
    """procd's subtree, from the services' cgroup paths in its log."""
    for e in p.events():
        m = e.get("msg", "")
        if m.startswith("cgroups: ") and "services under " in m:
            return m.split("services under ", 1)[1].split(" (", 1)[0]
    return None


def main_thread_switches(pid):
    with open("/proc/%d/task/%d/status" % (pid, pid)) as fh:
        f = dict(l.split(":", 1) for l in fh if ":" in l)
    return int(f["voluntary_ctxt_switches"]) + int(f["nonvoluntary_ctxt_switches"])


def test_stop_kills_a_setsid_daemon():
    p = Procd(service())
    base = None
    try:
        p.start()
        p.wait_state("d", "running")
        d = daemon_up(p)
        st = status(p)["d"]
        if not USABLE:
            check(st["cgroup"] is None, "fallback: no cgroup: %s" % st)
            return
        base = base_of(p)
        check(st["cgroup"] and st["cgroup"].endswith("/svc-d"), "status cgroup: %s" % st)
        check(st["cgroup"].startswith(base), "under the base %s: %s" % (base, st["cgroup"]))
        check(os.path.basename(base).startswith("procd-it-"), "a subtree per instance: %s" % base)
        check(st["cgroup"].endswith(cgroup_of(d)), "the daemon is in the service's cgroup: %s" % cgroup_of(d))
        check(cgroup_of(p.proc.pid).endswith("/supervisor"), "procd moved itself into supervisor")
        r = cli(p, "stop", "d")
        check(r.returncode == 0, "stop: %s" % (r.stdout + r.stderr))
        p.wait_state("d", "stopped")
        check(p.wait_for(lambda: not alive(d), 2, "the daemon to die"), "daemon %d survived the stop" % d)
        check(status(p)["d"]["state"] == "stopped")
        p.signal(signal.SIGTERM)
        check(p.wait_exit() == 0, "clean exit")
        check(not os.path.exists(base), "the subtree %s is removed on a clean exit" % base)
    finally:
        p.cleanup()
        remove_tree(base)


def test_shutdown_kills_a_setsid_daemon():
    p = Procd(service("a") + service("b", "slow"))
    base = None
    try:
        p.start()
        p.wait_state("a", "running")
        p.wait_state("b", "running")
        ds = [daemon_up(p, "a"), daemon_up(p, "b")]
        base = base_of(p)
        p.signal(signal.SIGTERM)
        check(p.wait_exit() == 0, "clean exit\n" + p.tail())
        left = [d for d in ds if alive(d)]
        if USABLE:
            check(not left, "daemons survived the shutdown: %s\n%s" % (left, p.tail()))
            check(not os.path.exists(base), "subtree removed")
        else:
            check(left, "fallback: a setsid() daemon outlives procd (documented)")
    finally:
        p.cleanup()
        remove_tree(base)


def test_stop_waits_for_the_cgroup_by_event_not_polling():
    """The cgroup's last process is not procd's descendant (the test moved
    it there), so no SIGCHLD tells procd it is gone: only the cgroup.events
    watch can end the stop, and procd must not poll meanwhile."""
    if not USABLE:
        return
    p = Procd(service("s", "none"))
    base = None
    outsider = None
    try:
        p.start()
        p.wait_state("s", "running")
        p.wait_for(lambda: any(e.get("msg") == "main up" for e in p.events()), 10, "main up")
        base = base_of(p)
        cg = status(p)["s"]["cgroup"]
        # Exits 0.5 s after its SIGTERM.
        outsider = subprocess.Popen(["python3", "-c", DAEMON_PY, p.marker + "-outsider", "slow"], stdout=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL)
        check(outsider.stdout.readline().startswith(b"daemon up"), "outsider up")
        with open(os.path.join(cg, "cgroup.procs"), "w") as fh:
            fh.write(str(outsider.pid))
        time.sleep(0.3)  # let start-up settle
        before = main_thread_switches(p.proc.pid)
        t0 = time.monotonic()
        # One request on the socket (the CLI would poll `status` until stopped),
        # then the log file tells when the stop is complete.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(os.path.join(p.dir, ".procd.sock"))
        s.sendall(b'{"cmd":"stop","names":["s"]}\n')
        reply = s.recv(65536)
        s.close()
        check(b'"ok":true' in reply.replace(b" ", b""), "stop reply: %r" % reply)
        p.wait_state("s", "stopped")
        took = time.monotonic() - t0
        switches = main_thread_switches(p.proc.pid) - before
        check(outsider.wait(timeout=5) == 0, "the outsider exited on its SIGTERM")
        # It exits 0.5 s after its SIGTERM: the cgroup's `populated 0` event
        # ends the run then, before the 1 s drain deadline would.
        check(took < 0.95, "stop took %.2fs: not ended by the cgroup event\n%s" % (took, p.tail()))
        check("processes left" not in p.log_text(), "nothing had to be killed\n" + p.tail())
        # A poll of even 20 ms over the 0.5 s wait would be 25 wakeups; the
        # stop request, the SIGCHLD, the event and the log need a handful.
        check(switches < 20, "%d wakeups of procd's loop during the stop: polling?" % switches)
        # Idle: with the service stopped and nothing due, procd sleeps.
        time.sleep(0.2)
        before = main_thread_switches(p.proc.pid)
        time.sleep(1.0)
        idle = main_thread_switches(p.proc.pid) - before
        check(idle == 0, "%d wakeups while idle" % idle)
    finally:
        if outsider and outsider.poll() is None:
            outsider.kill()
            outsider.wait(timeout=5)
        p.cleanup()
        remove_tree(base)


def test_health_command_runs_in_the_service_cgroup():
    p = Procd(service("h", "none", '[services.h.health]\ncommand = ["sh", "-c", "cat /proc/self/cgroup > TMPDIR/hc.txt"]\n'
                                   'interval_ms = 200\n'))
    try:
        p.start()
        p.wait_state("h", "running")
        out = os.path.join(p.dir, "hc.txt")
        p.wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 10, "a health check run")
        with open(out) as fh:
            where = [l.strip()[3:] for l in fh if l.startswith("0::")][0]
        cg = status(p)["h"]["cgroup"]
        if USABLE:
            check(cg.endswith(where) and where.endswith("/svc-h"), "health command in %s, service cgroup %s" % (where, cg))
        else:
            check(cg is None, "fallback: no cgroup")
    finally:
        p.cleanup()


def test_crash_recovery_never_two_copies():
    p = Procd(service("c"))
    base = None
    try:
        p.start()
        p.wait_state("c", "running")
        old_main = p.running_pid("c")
        old_daemon = daemon_up(p, "c")
        base = base_of(p)
        p.proc.kill()  # SIGKILL: no cleanup at all
        p.proc.wait(timeout=5)
        check(alive(old_main) and alive(old_daemon), "the service outlives a SIGKILLed procd")
        os.unlink(p.log_path)
        p._stderr.close()
        p.start()
        p.wait_state("c", "running")
        new_main = p.running_pid("c")
        if not USABLE:
            check(alive(old_main), "fallback: the orphan is not known to the new procd")
            return
        p.wait_log('"code":4012')
        check(p.wait_for(lambda: not alive(old_main) and not alive(old_daemon), 3, "the orphans to die"))
        # The new run forks its daemon (fork, setsid, fork, exec): until that
        # exec the intermediate processes carry the main's command line.
        daemon_up(p, "c")

        def mains():
            return [x for x in p.live_marked_pids() if x not in daemons(p, "c")]
        p.wait_for(lambda: mains() == [new_main], 3, "exactly one copy: %s (new %s)" % (mains(), new_main))
        check(base_of(p) == base, "the same subtree after the restart: %s %s" % (base_of(p), base))
    finally:
        p.cleanup()
        remove_tree(base)


def test_limits_applied_or_one_warning():
    p = Procd(service("l", extra='memory_max = "64M"\ncpu_max = "50%"\npids_max = 64\ncpu_weight = 50'))
    base = None
    try:
        p.start()
        p.wait_state("l", "running")
        base = base_of(p)
        text = p.log_text().replace(" ", "")
        if not USABLE:
            check(text.count('"code":10004') == 1, "one limits warning\n" + p.tail())
            return
        cg = status(p)["l"]["cgroup"]
        offered = open(os.path.join(os.path.dirname(cg), "cgroup.controllers")).read().split()
        for controller, key, f, want in (("memory", "memory_max", "memory.max", "67108864"),
                                         ("cpu", "cpu_max", "cpu.max", "50000 100000"),
                                         ("pids", "pids_max", "pids.max", "64")):
            if controller in offered:
                check(open(os.path.join(cg, f)).read().strip() == want, "%s written" % f)
            else:
                check(key in p.log_text() and '"code":10004' in text, "%s: a 10004 warning\n%s" % (key, p.tail()))
    finally:
        p.cleanup()
        remove_tree(base)


def test_fallback_without_usable_cgroups():
    p = Procd(service("f", extra='memory_max = "64M"'))
    left = []
    try:
        p.start(extra_env={"PROCD_CGROUP_ROOT": "/nonexistent/procd-cgroup-root"})
        p.wait_state("f", "running")
        d = daemon_up(p, "f")
        text = p.log_text().replace(" ", "")
        check('"code":10002' in text and "processgroup" in text, "fallback logged\n" + p.tail())
        check(text.count('"code":10004') == 1, "limits: one warning\n" + p.tail())
        check(status(p)["f"]["cgroup"] is None, "no cgroup in status")
        r = cli(p, "stop", "f")
        check(r.returncode == 0, "stop: %s" % (r.stdout + r.stderr))
        p.wait_state("f", "stopped")
        left = [d] if alive(d) else []
        check(left, "the documented fallback: a setsid() daemon leaves the group and survives the stop")
    finally:
        for d in left:
            os.kill(d, signal.SIGKILL)
        p.cleanup()


# Runs argv[2:] under a seccomp filter that fails clone3 with errno argv[1]
# (docker's default profile answers ENOSYS). glibc itself falls back to
# clone for its threads and posix_spawn on ENOSYS only: under a filter
# answering EPERM, pthread_create fails and procd cannot start at all, so
# EPERM (handled like ENOSYS by procd's spawn) is not tested here.
SECCOMP_WRAPPER = r"""
import ctypes, os, platform, sys
err = int(sys.argv[1])
arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[platform.machine()]
nr = 435  # clone3: the same number on x86_64 and aarch64
class Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Insn))]
code = [(0x20, 0, 0, 4),             # A = arch
        (0x15, 0, 3, arch),          # other arch: allow
        (0x20, 0, 0, 0),             # A = syscall nr
        (0x15, 0, 1, nr),
        (0x06, 0, 0, 0x00050000 | err),  # SECCOMP_RET_ERRNO
        (0x06, 0, 0, 0x7FFF0000)]    # SECCOMP_RET_ALLOW
insns = (Insn * len(code))(*[Insn(*c) for c in code])
prog = Prog(len(code), insns)
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
    sys.exit("seccomp: %s" % os.strerror(ctypes.get_errno()))
os.execv(sys.argv[2], sys.argv[2:])
"""


def printed(p, name):
    """The service's output lines once it printed its cgroup and its uid."""
    out = [e["msg"] for e in p.events() if e.get("service") == name and not e.get("msg", "").startswith("state ")]
    return out if any(m.startswith("0::") for m in out) and any(m.isdigit() for m in out) else None


def test_children_start_in_their_cgroup_on_every_path():
    """clone3(CLONE_INTO_CGROUP) where the kernel allows it; fork + cgroup.procs
    with PROCD_NO_CLONE3, or where a seccomp filter fails clone3 (remembered:
    said once, with clone3's errno), or once the kernel killed a clone3 child
    in a cgroup that was killed. Either way each service, also one that
    switches user, prints its own cgroup as its first act."""
    if not USABLE:
        return
    import errno
    nobody = 'user = "nobody"\nworking_dir = "/"\n'
    paths = [
        ("clone3", {}, (), "(clone3 CLONE_INTO_CGROUP)"),
        ("PROCD_NO_CLONE3", {"PROCD_NO_CLONE3": "1"}, (), "is off (PROCD_NO_CLONE3)"),
        ("seccomp ENOSYS", {}, ("python3", "-c", SECCOMP_WRAPPER, str(errno.ENOSYS)),
         "failed (%s)" % os.strerror(errno.ENOSYS)),
    ]
    for label, env, prefix, said in paths:
        names = ["c%d" % i for i in range(4)]
        toml = "".join('[services.%s]\ncommand = ["sh", "-c", "cat /proc/self/cgroup; id -u; exec sleep 3600"]\n%s'
                       % (n, nobody if n == "c3" else "") for n in names)
        p = Procd(toml)
        base = None
        try:
            p.start(extra_env=env, prefix=prefix)
            for n in names:
                p.wait_state(n, "running")
            base = base_of(p)
            st = status(p)
            uid = str(pwd.getpwnam("nobody").pw_uid)
            for n in names:
                out = p.wait_for(lambda: printed(p, n), 10, n + "'s cgroup and uid")
                where = [m[3:] for m in out if m.startswith("0::")][0]
                check(st[n]["cgroup"].endswith(where) and where.endswith("/svc-" + n),
                      "%s: %s printed %s, its cgroup is %s\n%s" % (label, n, where, st[n]["cgroup"], p.tail()))
                check((uid if n == "c3" else "0") in out, "%s: %s's uid: %s" % (label, n, out))
            told = [e["msg"] for e in p.events() if e.get("msg", "").startswith("cgroups: each child")]
            check(len(told) == 1 and told[0].endswith(said), "%s: spawn path said once, %r: %s" % (label, said, told))
            # A cgroup killed through cgroup.kill: the kernel (6.18 here)
            # SIGKILLs every child clone3 creates in it before it runs; procd
            # redoes that spawn by fork and keeps to fork from then on.
            with open(os.path.join(st["c0"]["cgroup"], "cgroup.kill"), "w") as fh:
                fh.write("1")
            p.wait_state("c0", "failed")
            r = cli(p, "start", "c0")
            check(r.returncode == 0, "%s: start c0: %s" % (label, r.stdout + r.stderr))
            p.wait_state("c0", "running", count=2)
            again = p.wait_for(lambda: [m[3:] for m in printed(p, "c0") or [] if m.startswith("0::")][1:], 10, "c0 again")
            check(st["c0"]["cgroup"].endswith(again[0]), "%s: c0 restarted in %s, not in its cgroup" % (label, again))
            time.sleep(0.3)
            check(status(p)["c0"]["state"] == "running", "%s: c0 runs after its cgroup was killed\n%s" % (label, p.tail()))
            told = [e["msg"] for e in p.events() if e.get("msg", "").startswith("cgroups: each child")]
            if label == "clone3":
                check(len(told) == 2 and told[1].endswith("killed by the kernel before it ran"),
                      "clone3 given up once the kernel killed its child: %s" % told)
            else:
                check(len(told) == 1, "%s: the path did not change: %s" % (label, told))
            p.signal(signal.SIGTERM)
            check(p.wait_exit() == 0, "%s: clean exit\n%s" % (label, p.tail()))
        finally:
            p.cleanup()
            remove_tree(base)


if __name__ == "__main__":
    run_tests([
        test_stop_kills_a_setsid_daemon,
        test_shutdown_kills_a_setsid_daemon,
        test_stop_waits_for_the_cgroup_by_event_not_polling,
        test_health_command_runs_in_the_service_cgroup,
        test_crash_recovery_never_two_copies,
        test_limits_applied_or_one_warning,
        test_fallback_without_usable_cgroups,
        test_children_start_in_their_cgroup_on_every_path,
    ])
