"""Regressions of the daemon layer (issue 10), each against a live procd:
a reload removing idle services, WATCHDOG=1 keeping a notify service
alive, a health check failing from its first probe, `procd restart` on a
stopped service with dependencies, no respawn once shutdown began, and
a reload that drops a forwarded signal stops relaying it."""
import json
import signal
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests

# READY=1, then WATCHDOG=1 every 100 ms for as long as it runs.
PINGER_PY = r'''
import os, socket, time
def send(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"): addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(msg.encode(), addr); s.close()
send("READY=1")
while True:
    time.sleep(0.1); send("WATCHDOG=1")
'''


def sleeper(name, extra=""):
    return '''
[services.%s]
command = ["bash", "-c", "exec -a MARKER-%s sleep 1000", "MARKER"]
%s
''' % (name, name, extra)


def cli(p, *args):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def status(p):
    r = cli(p, "status", "--json")
    check(r.returncode == 0, "status: %d %s" % (r.returncode, r.stdout + r.stderr))
    return {s["name"]: s for s in json.loads(r.stdout)["services"]}


def test_reload_removes_idle_services():
    idle = "autostart = false"
    with Procd(sleeper("i1", idle) + sleeper("a") + sleeper("i2", idle) + sleeper("i3", idle) + sleeper("b")) as p:
        p.wait_state("a", "running")
        p.wait_state("b", "running")
        pa = p.running_pid("a")
        p.rewrite(sleeper("a") + sleeper("b"))
        r = cli(p, "reload")
        check(r.returncode == 0, "reload: %d %s" % (r.returncode, r.stdout + r.stderr))
        check(p.proc.poll() is None, "procd died on the reload\n" + p.tail())
        st = status(p)
        check(sorted(st) == ["a", "b"], "services left: %s" % sorted(st))
        check(st["a"]["pid"] == pa, "a kept its pid")


def test_watchdog_pings_keep_the_service():
    with Procd('''
[services.wd]
command = ["python3", "-c", %s, "MARKER"]
ready = "notify"
watchdog_ms = 500
restart = { policy = "always", delay_ms = 100 }
''' % json.dumps(PINGER_PY)) as p:
        p.wait_state("wd", "running")
        pid = p.running_pid("wd")
        time.sleep(2.0)  # four watchdog periods, pinged every 100 ms
        check(p.states("wd").count("running") == 1, "restarted: %s\n%s" % (p.states("wd"), p.tail()))
        check('"code":8003' not in p.log_text().replace(" ", ""), "watchdog fired\n" + p.tail())
        check(status(p)["wd"]["pid"] == pid, "same pid")


def test_health_judges_a_service_once_it_runs():
    # Failing checks while min_uptime holds it in starting do not end the
    # start (start_timeout_ms bounds it); once running, they restart it.
    with Procd('''
[services.sick]
command = ["bash", "-c", "exec -a MARKER-sick sleep 1000", "MARKER"]
ready = { min_uptime_ms = 1500 }
restart = { policy = "always", delay_ms = 100 }
[services.sick.health]
command = ["false"]
interval_ms = 100
retries = 1
''') as p:
        p.wait_state("sick", "restarting", timeout=6)
        states = p.states("sick")
        check(states[:3] == ["starting", "running", "stopping"], states)
        started, running = p.first_ts("sick", "state starting"), p.first_ts("sick", "state running")
        check(running - started >= 1.4, "running after %.2fs, before min_uptime" % (running - started))


def test_restart_starts_stopped_dependencies():
    with Procd(sleeper("db", "autostart = false") + sleeper("web", 'autostart = false\ndepends_on = { db = "started" }')) as p:
        p.wait_for(lambda: cli(p, "status").returncode == 0, 5, "procd answering")
        r = cli(p, "restart", "web")
        check(r.returncode == 0, r.stdout + r.stderr)
        p.wait_state("web", "running")
        check(p.states("db")[:2] == ["starting", "running"], "db: %s" % p.states("db"))
        st = status(p)
        check(st["db"]["state"] == "running" and st["web"]["state"] == "running", st)


def test_no_respawn_once_shutdown_began():
    with Procd('''
[services.db]
command = ["bash", "-c", "sleep 0.4; exit 1", "MARKER"]
restart = { policy = "always", delay_ms = 50 }
[services.web]
command = ["bash", "-c", "trap 'sleep 2; exit 0' TERM; (exec -a MARKER-web sleep 1000) & wait", "MARKER"]
depends_on = { db = "started" }
''') as p:
        p.wait_state("web", "running")
        p.wait_state("db", "starting", count=2)  # db crash-loops while web runs
        p.signal(signal.SIGTERM)
        check(p.wait_exit(10) == 0, p.tail())
        events = p.events()
        begun = next(i for i, e in enumerate(events) if e.get("msg", "").startswith("shutting down"))
        late = [e for e in events[begun:] if e.get("service") == "db" and e.get("msg") in ("state starting", "spawned")]
        check(not late, "db respawned during shutdown: %s\n%s" % (late, p.tail()))


def test_reload_stops_forwarding_dropped_signal():
    top = '[signals]\nforward = ["SIGUSR2"]\n'
    with Procd(sleeper("a"), top=top) as p:
        p.wait_state("a", "running")
        pid = p.running_pid("a")
        p.rewrite(sleeper("a"), top='[signals]\nforward = []\n')
        r = cli(p, "reload")
        check(r.returncode == 0, r.stdout + r.stderr)
        # As a procd started without that forward: SIGUSR2 is neither relayed
        # (sleep would die of it) nor fatal to procd; it is logged and ignored.
        p.signal(signal.SIGUSR2)
        p.wait_log("ignoredsignalSIGUSR2", 5)
        check(p.proc.poll() is None, "SIGUSR2 killed procd (%s)" % p.proc.returncode)
        check(p.running_pid("a") == pid and pid in p.live_marked_pids(), "SIGUSR2 reached the service")


if __name__ == "__main__":
    run_tests([
        test_reload_removes_idle_services,
        test_watchdog_pings_keep_the_service,
        test_health_judges_a_service_once_it_runs,
        test_restart_starts_stopped_dependencies,
        test_no_respawn_once_shutdown_began,
        test_reload_stops_forwarding_dropped_signal,
    ])
