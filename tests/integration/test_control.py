"""Control socket and CLI verbs against a live procd: status (table, JSON,
exit 3), start/stop/restart, signal, logs, events, metrics, shutdown,
background start; socket safety (mode, symlink, regular file, other uid);
garbage, oversize and half-open requests; 50 concurrent clients."""
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

from test_logs_io import name_color
from procdtest import PROCD, Procd, check, run_tests

SERVICES = '''
[services.web]
command = ["bash", "-c", "echo web-up; exec -a MARKER-web sleep 1000", "MARKER"]
[services.worker]
command = ["bash", "-c", "trap 'echo got-usr2' USR2; while :; do sleep 0.05; done", "MARKER"]
[services.idle]
command = ["sleep", "1000"]
autostart = false
'''


def cli(p, *args, timeout=20, user=None):
    argv = [PROCD, "-c", p.config] + list(args)
    if user:
        argv = ["setpriv", "--reuid=%s" % user, "--regid=nogroup", "--clear-groups"] + argv
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, text=True)


def sock_path(p):
    return os.path.join(p.dir, ".procd.sock")


def raw(p, data, read_timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(read_timeout)
    s.connect(sock_path(p))
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        out += b"<timeout>"
    s.close()
    return out


def up(p):
    p.wait_state("web", "running")
    p.wait_state("worker", "running")
    p.wait_for(lambda: os.path.exists(sock_path(p)), 5, "socket")


def test_status_table_and_json():
    with Procd(SERVICES) as p:
        up(p)
        r = cli(p, "status")
        check(r.returncode == 0, r.stderr)
        lines = r.stdout.splitlines()
        check(lines[0].split()[:3] == ["NAME", "STATE", "PID"], lines[0])
        rows = {l.split()[0]: l.split() for l in lines[1:]}
        check(rows["web"][1] == "running" and rows["idle"][1] == "stopped", r.stdout)
        r = cli(p, "status", "--json")
        doc = json.loads(r.stdout)
        check(doc["pid"] == p.proc.pid and doc["name"] == "it" and doc["uptime_ms"] >= 0)
        svc = {s["name"]: s for s in doc["services"]}
        for key in ["name", "state", "pid", "restarts", "uptime_ms", "last_exit", "health", "cpu_percent", "rss_bytes"]:
            check(key in svc["web"], key)
        check(svc["web"]["state"] == "running" and isinstance(svc["web"]["pid"], int))
        check(svc["idle"]["state"] == "stopped" and svc["idle"]["pid"] is None)
        r = cli(p, "status", "nosuch")
        check(r.returncode != 0 and "4009" in r.stderr, r.stderr)


def test_status_exit_3_when_not_running():
    p = Procd(SERVICES)
    try:
        r = cli(p, "status")
        check(r.returncode == 3, "exit %d" % r.returncode)
        check(sock_path(p) in r.stderr, r.stderr)
    finally:
        p.cleanup()


def test_start_stop_restart_names():
    with Procd(SERVICES) as p:
        up(p)
        r = cli(p, "start", "idle")
        check(r.returncode == 0 and "idle: running" in r.stdout, r.stdout + r.stderr)
        old = json.loads(cli(p, "status", "--json", "web").stdout)["services"][0]["pid"]
        r = cli(p, "restart", "web")
        check(r.returncode == 0, r.stdout + r.stderr)
        new = json.loads(cli(p, "status", "--json", "web").stdout)["services"][0]["pid"]
        check(new != old and new, (old, new))
        check(not os.path.exists("/proc/%d" % old) or open("/proc/%d/stat" % old).read().split()[2] == "Z")
        r = cli(p, "stop", "web", "idle")
        check(r.returncode == 0, r.stdout + r.stderr)
        svc = {s["name"]: s for s in json.loads(cli(p, "status", "--json").stdout)["services"]}
        check(svc["web"]["state"] == "stopped" and svc["idle"]["state"] == "stopped", svc)
        time.sleep(0.3)  # a user stop is never followed by a restart
        check(json.loads(cli(p, "status", "--json", "web").stdout)["services"][0]["state"] == "stopped")
        r = cli(p, "restart", "--all")
        check(r.returncode == 0, r.stdout + r.stderr)
        svc = {s["name"]: s for s in json.loads(cli(p, "status", "--json").stdout)["services"]}
        check(all(s["state"] == "running" for s in svc.values()), svc)


def test_signal_logs_and_follow():
    with Procd(SERVICES) as p:
        up(p)
        r = cli(p, "signal", "USR2", "worker")
        check(r.returncode == 0, r.stderr)
        p.wait_for(lambda: "got-usr2" in cli(p, "logs", "worker").stdout, 5, "USR2 echo in logs")
        r = cli(p, "signal", "NOPE", "worker")
        check(r.returncode == 2 and "2003" in r.stderr, r.stderr)
        r = cli(p, "logs", "-n", "5")
        check("web | web-up" in r.stdout.replace("  ", " ") or "web-up" in r.stdout, r.stdout)
        f = subprocess.Popen([PROCD, "-c", p.config, "logs", "-f", "worker"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)
            cli(p, "signal", "SIGUSR2", "worker")
            deadline = time.time() + 5
            seen = 0
            while time.time() < deadline and seen < 2:
                line = f.stdout.readline()
                seen += "got-usr2" in line
            check(seen >= 2, "follow saw the old and the new line")
        finally:
            f.kill()
            f.wait(timeout=5)


def logs_on_pty(p, *args):
    """`procd logs ARGS` with its stdout on a pseudo-terminal: what it wrote."""
    import pty
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([PROCD, "-c", p.config, "logs"] + list(args), stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        slave = -1
        out = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536)  # EIO once the writer is gone
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        check(proc.wait(timeout=10) == 0, proc.stderr.read())
        proc.stderr.close()
        return out
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


EVIL = r'''
[services.evil]
command = ["bash", "-c", "printf 'a\\033]0;title\\007b\\033[2Jc\\302\\233d\\177e\\tf\\n'; exec -a MARKER-evil sleep 1000"]
'''
EVIL_LINE = b"a\x1b]0;title\x07b\x1b[2Jc\xc2\x9bd\x7fe\tf"


def test_logs_escape_control_characters_on_a_terminal():
    with Procd(EVIL) as p:
        p.wait_state("evil", "running")
        piped = lambda: subprocess.run([PROCD, "-c", p.config, "logs", "evil"], capture_output=True, timeout=20).stdout
        p.wait_for(lambda: b"title" in piped(), 10, "the line in the ring")
        check(EVIL_LINE + b"\n" in piped(), "a pipe gets the exact bytes: %r" % piped())
        shown = logs_on_pty(p, "evil")
        check(rb"a\x1b]0;title\x07b\x1b[2Jc\xc2\x9bd\x7fe" + b"\tf" in shown, shown)
        # Only the service name's own colour (issue 27) reaches the terminal raw.
        bare = shown.replace(b"\x1b[0m", b"").replace(name_color("evil"), b"")
        check(b"\x1b" not in bare and b"\x07" not in shown and b"\x9b" not in shown, shown)
        check(EVIL_LINE in logs_on_pty(p, "evil", "--raw"), "--raw on a terminal")


def test_events_stream():
    with Procd(SERVICES) as p:
        up(p)
        ev = subprocess.Popen([PROCD, "-c", p.config, "events", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)
            cli(p, "restart", "web")
            got = []
            deadline = time.time() + 5
            while time.time() < deadline and "running" not in [g["state"] for g in got]:
                got.append(json.loads(ev.stdout.readline()))
            states = [g["state"] for g in got if g["service"] == "web"]
            check(states[:3] == ["stopping", "stopped", "starting"] and "running" in states, states)
            check(all(set(g) >= {"ts", "service", "state", "pid"} for g in got), got)
        finally:
            ev.kill()
            ev.wait(timeout=5)


def test_metrics_and_reload_stub():
    with Procd(SERVICES) as p:
        up(p)
        r = cli(p, "metrics")
        check(r.returncode == 0, r.stderr)
        check('procd_service_up{service="web"} 1' in r.stdout, r.stdout[:2000])
        check('procd_service_up{service="idle"} 0' in r.stdout, r.stdout[:2000])
        check("procd_uptime_seconds" in r.stdout)


def test_shutdown_via_stop():
    with Procd(SERVICES) as p:
        up(p)
        p._allow_exit = True
        r = cli(p, "stop")
        check(r.returncode == 0, r.stdout + r.stderr)
        check(p.proc.poll() is not None, "procd has exited when stop returns")
        check(p.proc.returncode == 0)
        check(not os.path.exists(sock_path(p)), "socket removed")
        check(p.live_marked_pids() == [])


def test_socket_mode_and_group_mode():
    with Procd(SERVICES) as p:
        up(p)
        check(stat.S_IMODE(os.stat(sock_path(p)).st_mode) == 0o600, oct(os.stat(sock_path(p)).st_mode))
    with Procd(SERVICES, top='[control]\nmode = "0660"\n') as p:
        up(p)
        check(stat.S_IMODE(os.stat(sock_path(p)).st_mode) == 0o660)


def test_socket_mode_and_group_set_without_following_the_path():
    """After bind, mode and group go through a descriptor checked to be our
    socket: no chmod/chown by path (which would follow a symlink planted
    there in the meantime). Seen in the syscalls, under strace."""
    import grp
    import shutil
    if not shutil.which("strace") or os.geteuid() != 0:
        print("skip: needs strace and root (to chown to a group)")
        return
    gid = grp.getgrnam("nogroup").gr_gid
    p = Procd(SERVICES, top='[control]\nmode = "0660"\ngroup = "nogroup"\n')
    trace = os.path.join(p.dir, "strace.txt")
    try:
        p.start(prefix=["strace", "-f", "-qq", "-o", trace, "-e", "trace=chmod,fchmod,fchmodat,chown,lchown,fchown,fchownat"])
        up(p)
        st = os.lstat(sock_path(p))
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid, oct(st.st_mode))
        daemon = json.loads(cli(p, "status", "--json").stdout)["pid"]
        os.kill(daemon, signal.SIGTERM)
        p.wait_exit(15)
        by_path = [l for l in open(trace).read().splitlines()
                   if sock_path(p) in l and "AT_SYMLINK_NOFOLLOW" not in l and "lchown(" not in l]
        check(not by_path, "socket changed by a path that follows symlinks: %s" % by_path)
    finally:
        p.cleanup()


def test_refuses_symlink_and_regular_file_replaces_stale():
    for kind in ["symlink", "file"]:
        p = Procd(SERVICES)
        try:
            target = os.path.join(p.dir, "precious")
            with open(target, "w") as fh:
                fh.write("keep me")
            if kind == "symlink":
                os.symlink(target, sock_path(p))
            else:
                os.rename(target, sock_path(p))
            p._allow_exit = True
            p.start()
            check(p.wait_exit(10) == 2, "exit %s" % p.proc.returncode)
            err = open(p.stderr_path).read()
            check(sock_path(p) in err and "6009" in err, err)
            if kind == "symlink":
                check(os.path.islink(sock_path(p)) and open(target).read() == "keep me")
            else:
                check(open(sock_path(p)).read() == "keep me")
        finally:
            p.cleanup()
    p = Procd(SERVICES)
    try:
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(sock_path(p))
        stale.close()  # a socket file nobody listens on
        p.start()
        up(p)
        check(cli(p, "status").returncode == 0)
    finally:
        p.cleanup()


def test_other_uid_refused():
    if os.geteuid() != 0:
        print("skip: needs root to run a client as nobody")
        return
    with Procd(SERVICES, top='[control]\nmode = "0666"\n') as p:
        up(p)
        os.chmod(p.dir, 0o755)
        os.chmod(p.config, 0o644)
        r = cli(p, "status", user="nobody")
        check(r.returncode != 0 and "6008" in r.stderr, r.stdout + r.stderr)
        p.wait_log('"code":6008')  # refusal logged
        check(cli(p, "status").returncode == 0, "root still allowed")


def test_garbage_oversize_and_half_open():
    with Procd(SERVICES) as p:
        up(p)
        for payload, code in [(b"garbage\n", 6005), (b"[1,2]\n", 6005), (b'{"cmd":"fly"}\n', 6006),
                              (b'{"cmd":"status","names":"web"}\n', 6005), (b"\xff\xfe\n", 6005)]:
            out = raw(p, payload)
            reply = json.loads(out.splitlines()[0])
            check(reply["ok"] is False and reply["error"]["code"] == code, (payload, out))
        out = raw(p, b"x" * 200000, read_timeout=5)
        check(b"6007" in out, out[:200])
        half = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        half.connect(sock_path(p))
        half.sendall(b'{"cmd":"sta')  # never finished
        t0 = time.time()
        r = cli(p, "status")
        check(r.returncode == 0 and time.time() - t0 < 2, "supervisor not blocked by a half-open client")
        half.settimeout(15)
        data = half.recv(4096)  # the server closes it after its idle bound
        check(b"6005" in data or data == b"", data)
        half.close()
        check(p.proc.poll() is None and cli(p, "status").returncode == 0)


def test_fifty_concurrent_clients():
    with Procd(SERVICES) as p:
        up(p)
        results = []

        def one():
            r = cli(p, "status", "--json", timeout=30)
            results.append(r.returncode == 0 and json.loads(r.stdout)["pid"] == p.proc.pid)

        threads = [threading.Thread(target=one) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        check(len(results) == 50 and all(results), "%d ok of %d" % (sum(results), len(results)))


def test_background_start_and_stop():
    p = Procd(SERVICES)
    try:
        r = cli(p, "start", timeout=40)
        check(r.returncode == 0, r.stdout + r.stderr)
        check("running" in r.stdout, r.stdout)
        pid = int(open(os.path.join(p.dir, ".procd.pid")).read())
        r = cli(p, "start")
        check(r.returncode == 0 and "already running" in r.stdout, r.stdout)
        check(cli(p, "status").returncode == 0)
        r = cli(p, "stop", timeout=40)
        check(r.returncode == 0, r.stdout + r.stderr)
        check(not os.path.exists("/proc/%d" % pid), "procd gone")
        check(cli(p, "status").returncode == 3)
    finally:
        try:
            pid = int(open(os.path.join(p.dir, ".procd.pid")).read())
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        p.cleanup()


def test_background_start_failure_reports_reason():
    p = Procd('''
[services.bad]
command = ["sleep", "1000"]
user = "no-such-user-procd"
''')
    try:
        r = cli(p, "start", timeout=40)
        check(r.returncode != 0, r.stdout + r.stderr)
        check("no-such-user-procd" in r.stderr or "4004" in r.stderr or "1021" in r.stderr, r.stderr)
    finally:
        p.cleanup()


if __name__ == "__main__":
    run_tests([
        test_status_table_and_json,
        test_status_exit_3_when_not_running,
        test_start_stop_restart_names,
        test_signal_logs_and_follow,
        test_logs_escape_control_characters_on_a_terminal,
        test_events_stream,
        test_metrics_and_reload_stub,
        test_shutdown_via_stop,
        test_socket_mode_and_group_mode,
        test_socket_mode_and_group_set_without_following_the_path,
        test_refuses_symlink_and_regular_file_replaces_stale,
        test_other_uid_refused,
        test_garbage_oversize_and_half_open,
        test_fifty_concurrent_clients,
        test_background_start_and_stop,
        test_background_start_failure_reports_reason,
    ])
