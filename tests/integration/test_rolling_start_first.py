"""issue 28, rolling = "start-first": 3 replicas of a python server sharing
one port through SO_REUSEPORT. `procd restart web --rolling` starts each
instance's new run (status: web@i+) beside its old one and stops the old one
only once the new one is ready: status sampled every 20 ms never shows fewer
than 3 instances with a ready run, and the shared port answers at every
sample. A new run that fails is stopped and the old process (same pid)
keeps serving; the CLI exits 1 with the instance's own reason."""
import os
import signal
import socket
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests
from test_rolling import cli, status
from test_rolling_reload import cmdline

N = 3
SERVER = r'''
import os, socket, sys, time
if not os.path.exists(sys.argv[2]):
    sys.exit(3)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
time.sleep(0.3)  # a start that takes a moment: the old run serves meanwhile
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"ok\n")
    c.close()
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(port):
    return '''
[services.web]
command = ["python3", "TMPDIR/server.py", "%d", "TMPDIR/ok"]
replicas = %d
rolling = "start-first"
ready = { log = "listening" }
start_timeout_ms = 5000
restart = { policy = "never" }
health = { tcp = "127.0.0.1:%d", interval_ms = 200 }
''' % (port, N, port)


def ready_instances(st):
    """Instance -> pids of its ready runs (web@i and its new run web@i+)."""
    out = {}
    for name, v in st.items():
        if name.startswith("web@") and v["state"] == "running":
            out.setdefault(name.rstrip("+~"), []).append(v["pid"])
    return out


def served(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            return c.recv(8) == b"ok\n"
    except OSError:
        return False


def make(port):
    """procd with the server script and its ok file in place before it starts."""
    p = Procd(config(port))
    with open(os.path.join(p.dir, "server.py"), "w") as fh:
        fh.write(SERVER)
    open(os.path.join(p.dir, "ok"), "w").close()
    return p


def setup(p, port):
    def up():
        try:
            r = {k: v["pid"] for k, v in status(p).items() if k.startswith("web@") and v["state"] == "running"}
        except OSError:
            return None
        return r if len(r) == N and served(port) else None
    return p.wait_for(up, 20, "3 running")


def test_start_first_never_fewer_than_n_ready():
    port = free_port()
    with make(port) as p:
        before = setup(p, port)
        proc = subprocess.Popen([PROCD, "-c", p.config, "restart", "web", "--rolling"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        counts, refused, surged = [], 0, False
        end = time.monotonic() + 60
        while time.monotonic() < end:
            st = status(p)
            surged = surged or any(k.endswith("+") for k in st)
            counts.append(len(ready_instances(st)))
            refused += 0 if served(port) else 1
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 0, out + err)
        check(min(counts) >= N, "a sample with fewer than %d ready instances: %s" % (N, counts))
        check(refused == 0, "the shared port refused %d of %d samples" % (refused, len(counts)))
        check(surged, "no new run was seen beside an old one")
        after = p.wait_for(lambda: (lambda st: st if sorted(st) == ["web@%d" % i for i in range(N)] and all(
            v["state"] == "running" for v in st.values()) else None)(
            {k: v for k, v in status(p).items() if k.startswith("web@")}), 10, "web@0..2 again, no surge left")
        check(all(after[k]["pid"] != before[k] for k in before), "%s %s" % (before, after))
        check(not any(os.path.exists("/proc/%d" % pid) for pid in before.values()), "old runs ended")
        print(out.strip(), "; %d samples, never fewer than %d ready" % (len(counts), min(counts)), flush=True)


def test_start_first_failing_new_run_keeps_the_old():
    port = free_port()
    with make(port) as p:
        before = setup(p, port)
        os.unlink(os.path.join(p.dir, "ok"))  # a new run now exits 3 at once
        r = cli(p, "restart", "web", "--rolling")
        check(r.returncode == 1, r.stdout + r.stderr)
        check("error[4014]" in r.stderr and "web@0" in r.stderr and "exited 3" in r.stderr, r.stdout + r.stderr)
        st = p.wait_for(lambda: (lambda s: s if not any(k.endswith("+") for k in s) else None)(status(p)), 10,
                        "the failed new run forgotten")
        now = {k: v["pid"] for k, v in st.items() if k.startswith("web@") and v["state"] == "running"}
        check(now == before, "the old processes keep serving, same pids: %s %s" % (before, now))
        check(served(port), "the port is served")
        print(r.stderr.strip(), flush=True)


# A run that stops slowly (1 s after SIGTERM); $0 names the config's version.
SLOW = "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.1; done"


def job(version, extra=""):
    return '''
[services.job]
command = ["sh", "-c", "%s", "%s"]
replicas = 1
rolling = "start-first"
start_timeout_ms = 1500
restart = { policy = "always", delay_ms = 100 }
%s''' % (SLOW, version, extra)


def test_start_first_promoted_run_restarts_with_the_config_it_carries():
    """A reload (notify readiness, command v3) takes over a start-first roll
    whose old run already stops: the new run (v2) is promoted and carries the
    v3 config; its own new run never sends READY=1, so that roll stops and the
    v2 process keeps serving. Once it dies, its restart runs the config the
    user wrote (v3, ready = notify): it stays starting until READY=1, as the
    status of a notify service says, never running at once (seed 48206)."""
    with Procd(job("v1")) as p:
        first = p.wait_for(lambda: p.running_pid("job@0"), 10, "job@0 running")
        p.rewrite(job("v2"))
        check(cli(p, "reload").returncode == 0)
        p.wait_for(lambda: status(p).get("job@0", {}).get("state") == "stopping", 10, "v1 retired by the roll")
        p.rewrite(job("v3", 'ready = "notify"'))  # within the 1 s the v1 run takes to stop
        check(cli(p, "reload").returncode == 0)
        # 4016 (taken over), then the reload's roll: its v3 new run is never ready; the v2 one keeps serving
        p.wait_for(lambda: p.log_text().replace(" ", "").count("rollingrestartstopped") >= 2, 10, "both rolls stopped")
        st = p.wait_for(lambda: (lambda s: s if list(s) == ["job@0"] and s["job@0"]["state"] == "running" else None)(
            {k: v for k, v in status(p).items() if k.startswith("job@")}), 10, "the surge forgotten")
        serving = st["job@0"]["pid"]
        check(serving != first and "v2" in cmdline(serving), "the promoted v2 run serves: %s" % st)
        os.kill(serving, signal.SIGKILL)
        seen = []
        end = time.monotonic() + 1.2  # within its start_timeout_ms
        while time.monotonic() < end:
            v = status(p).get("job@0", {})
            if v.get("pid") and v["pid"] != serving:
                seen.append((v["state"], cmdline(v["pid"])))
            time.sleep(0.02)
        check(seen, "job@0 was restarted")
        check(all("v3" in c for _, c in seen if c), "the restart runs v3: %s" % seen[:3])
        check(all(s == "starting" for s, _ in seen), "no READY=1 sent, yet: %s" % sorted(set(s for s, _ in seen)))
        print("restarted as v3, %d samples all starting" % len(seen), flush=True)


# $0 names the version; the old run of job@1 takes 2 s to stop, job@0's stops at once.
SLOW_BY_INSTANCE = "trap 'sleep $((PROCD_INSTANCE * 2)); exit 0' TERM; while :; do sleep 0.1; done"


def pair(version, command=None, extra=""):
    return '''
[services.job]
command = %s
replicas = 2
rolling = "start-first"
max_unavailable = 2
start_timeout_ms = 1500
restart = { policy = "always", delay_ms = 100 }
%s''' % (command or '["sh", "-c", "%s", "%s"]' % (SLOW_BY_INSTANCE, version), extra)


def test_start_first_stopped_roll_starts_no_new_run_after_promotion():
    """A reload (v3: exits at once, ready = notify with a watchdog) takes over
    a start-first roll while job@1's old run still stops: job@0's v3 new run
    fails, so that roll stops. Once job@1's old run is gone its v2 new run is
    promoted and keeps serving, as the old runs a stopped roll leaves do: no
    new run of it is started afterwards (no roll is left to retire or abandon
    it), and the promoted run, never given NOTIFY_SOCKET, is not killed by
    the notify watchdog (seed 3259)."""
    with Procd(pair("v1")) as p:
        p.wait_for(lambda: p.running_pid("job@0") and p.running_pid("job@1"), 10, "job@0, job@1 running")
        p.rewrite(pair("v2"))
        check(cli(p, "reload").returncode == 0)
        p.wait_for(lambda: status(p).get("job@1", {}).get("state") == "stopping", 10, "job@1's v1 run retired")
        p.rewrite(pair("v3", '["sh", "-c", "exit 3", "v3"]', 'ready = "notify"\nwatchdog_ms = 300'))
        check(cli(p, "reload").returncode == 0)
        p.wait_log("rollingrestartstopped:job@0'snewrunfailed", 10)
        st = p.wait_for(lambda: (lambda s: s if s.get("job@1", {}).get("state") == "running" and "job@1+" not in s
                                 and "job@1~" not in s else None)(status(p)), 10, "job@1's v2 run promoted")
        serving = st["job@1"]["pid"]
        check("v2" in cmdline(serving), "the promoted run is v2: %s" % st)
        seen = []
        end = time.monotonic() + 1.5  # beyond the watchdog's 300 ms and the start timeout
        while time.monotonic() < end:
            s = status(p)
            seen.append(sorted(k for k in s if k.startswith("job@1")) + [s.get("job@1", {}).get("pid")])
            time.sleep(0.05)
        check(all(x == ["job@1", serving] for x in seen),
              "job@1 alone, same pid: %s" % [x for x in seen if x != ["job@1", serving]][:5])
        after = p.log_text().replace(" ", "").split("job@1+replacedtheoldrun")[-1]
        check("startinganewrunasjob@1" not in after, "a new run of job@1 started after the roll stopped")
        print("job@1 pid %d serves alone, %d samples" % (serving, len(seen)), flush=True)


OTHER = """
[services.other]
command = ["sleep", "600"]
"""


def test_start_first_surge_goes_with_an_instance_a_reload_removed():
    """A reload removes job while a start-first roll's new run (v2) is ready
    and its old run (v1) still stops; a later reload adds job again (v3).
    The v2 run belonged to the removed service: it is stopped, and job@0
    comes back as a fresh v3 run, never as the v2 run renamed (seed 82704)."""
    slow = SLOW.replace("sleep 1", "sleep 3")
    with Procd(OTHER + job("v1").replace(SLOW, slow)) as p:
        p.wait_for(lambda: p.running_pid("job@0"), 10, "job@0 running")
        p.rewrite(OTHER + job("v2").replace(SLOW, slow))
        check(cli(p, "reload").returncode == 0)
        p.wait_for(lambda: status(p).get("job@0", {}).get("state") == "stopping", 10, "v1 retired by the roll")
        surge = p.wait_for(lambda: status(p).get("job@0+", {}).get("pid"), 10, "the v2 new run")
        p.rewrite(OTHER)
        check(cli(p, "reload").returncode == 0)
        p.rewrite(OTHER + job("v3").replace(SLOW, slow))
        check(cli(p, "reload").returncode == 0)
        st = p.wait_for(lambda: (lambda s: s if s.get("job@0", {}).get("state") == "running" and "v3" in cmdline(
            s["job@0"]["pid"]) and "job@0+" not in s else None)(status(p)), 15, "job@0 back as v3")
        check(st["job@0"]["pid"] != surge, "job@0 is a fresh run: %s" % st)
        p.wait_for(lambda: not os.path.exists("/proc/%d" % surge) or "v2" not in cmdline(surge), 10,
                   "the removed service's v2 run stopped")
        print("job@0 back as v3 (pid %d); the v2 run %d stopped" % (st["job@0"]["pid"], surge), flush=True)


if __name__ == "__main__":
    run_tests([test_start_first_never_fewer_than_n_ready, test_start_first_failing_new_run_keeps_the_old,
               test_start_first_promoted_run_restarts_with_the_config_it_carries,
               test_start_first_stopped_roll_starts_no_new_run_after_promotion,
               test_start_first_surge_goes_with_an_instance_a_reload_removed])
