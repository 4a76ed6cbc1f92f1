"""A service whose dependency goes down for good (stopped by request, or
failed: gave up its restarts) is stopped too, with stop reason `dependency`
(issue 28, SPEC "stop reasons include ... dependency"), in `procd events
--json`, status and procd's log. A "completed" dependency ending, or a
dependency restarted by its policy, stops nothing."""
import json
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests


def cli(p, *args):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def status_of(p, name):
    r = cli(p, "status", "--json", name)
    check(r.returncode == 0, r.stdout + r.stderr)
    return json.loads(r.stdout)["services"][0]


SERVICES = '''
[services.db]
command = %s
[services.web]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
depends_on = { db = "ready" }
[services.side]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
depends_on = { init = "completed" }
[services.init]
command = ["true", "MARKER"]
'''
SLEEPER = '["sh", "-c", "sleep 1000 & wait", "MARKER"]'


def stopping_items(out, name):
    items = [json.loads(l) for l in out.splitlines() if l.startswith("{") and '"service"' in l]
    return [(i.get("stop_reason"), i["reason"]) for i in items if i["service"] == name and i["state"] == "stopping"]


def test_stopping_a_dependency_stops_its_dependents():
    with Procd(SERVICES % SLEEPER) as p:
        for n in ("db", "web", "side"):
            p.wait_state(n, "running")
        ev = subprocess.Popen([PROCD, "-c", p.config, "events", "--json"], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)  # bounded: the stream is open before the stop
            check(cli(p, "stop", "db").returncode == 0)
            p.wait_for(lambda: status_of(p, "web")["state"] == "stopped", 10, "web stopped after db")
        finally:
            ev.terminate()
            out = ev.communicate(timeout=10)[0]
        check(stopping_items(out, "web")[:1] == [("dependency", "stopping: dependency")], stopping_items(out, "web"))
        st = status_of(p, "web")
        check(st.get("stop_reason") == "dependency", st)
        check(p.first_ts("web", "stopping web: dependency") is not None, p.tail())
        check(p.first_ts("web", "dependency db stopped") is not None, p.tail())
        check(status_of(p, "side")["state"] == "running", "a completed dependency stops nothing")
        # Starting web again brings db back first (its stopped dependency).
        check(cli(p, "start", "web").returncode == 0)
        check(status_of(p, "db")["state"] == "running" and status_of(p, "web")["state"] == "running", "back up")


def test_a_dependency_failed_for_good_stops_its_dependents():
    failing = '["sh", "-c", "sleep 1; exit 3", "MARKER"]\nrestart = "never"'
    with Procd(SERVICES % failing) as p:
        p.wait_state("web", "running")
        p.wait_state("db", "failed", timeout=15)
        p.wait_for(lambda: status_of(p, "web")["state"] == "stopped", 10, "web stopped after db failed")
        check(status_of(p, "web").get("stop_reason") == "dependency", status_of(p, "web"))
        check(p.first_ts("web", "dependency db failed") is not None, p.tail())


if __name__ == "__main__":
    run_tests([test_stopping_a_dependency_stops_its_dependents, test_a_dependency_failed_for_good_stops_its_dependents])
