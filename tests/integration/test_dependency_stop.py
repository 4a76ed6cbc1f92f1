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
        check(p.first_ts("web", "dependency db stopping (requested); stopping web first") is not None, p.tail())
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


# Each records when the stop signal reached it and when it exited (after
# 500 ms of cleanup), in one file: the order procd stopped them in. base is
# held for a second or so: long enough for status to see it under ASan.
ORDERED = '''
[services.base]
command = ["sh", "-c", %(rec)s, "base"]
[services.db]
command = ["sh", "-c", %(rec)s, "db"]
depends_on = { base = "ready" }
[services.web]
command = ["sh", "-c", %(rec)s, "web"]
depends_on = { db = "ready" }
stop_timeout_ms = 5000
'''
RECORDER = "trap 'echo $0 term >> %s; sleep 0.5; echo $0 exit >> %s; exit 0' TERM; sleep 1000 & wait"


def test_a_requested_stop_stops_its_dependents_first():
    """`procd stop base` stops web, then db, then base (as systemd and s6-rc
    do): each gets its stop signal only once every service that needs it
    has exited; meanwhile it runs on, and its reason says what it waits for."""
    order = "TMPDIR/order.txt"
    rec = json.dumps(RECORDER % (order, order))
    with Procd(ORDERED % {"rec": rec}) as p:
        for n in ("base", "db", "web"):
            p.wait_state(n, "running")
        ev = subprocess.Popen([PROCD, "-c", p.config, "events", "--json"], stdout=subprocess.PIPE, text=True)
        stop = None
        try:
            time.sleep(0.3)  # bounded: the stream is open before the stop
            stop = subprocess.Popen([PROCD, "-c", p.config, "stop", "base"], stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
            held = p.wait_for(lambda: (lambda s: s if s["state"] == "running" and s.get("condition") == "stopping" else None)(
                status_of(p, "base")), 10, "base's stop held")
            check(held["reason"] == "stop requested; waiting for db to stop first", held)
            check(held.get("reason_code") == "stop-held", held)
            out = stop.communicate(timeout=20)[0]
        finally:
            if stop and stop.poll() is None:
                stop.kill()
                stop.wait(timeout=10)
            ev.terminate()
            events = ev.communicate(timeout=10)[0]
        said = [(i["state"], i.get("condition"), i["reason"]) for i in
                (json.loads(l) for l in events.splitlines() if l.startswith("{")) if i.get("service") == "base"]
        check(said[:1] == [("running", "stopping", "stop requested; waiting for db to stop first")], said)
        check(p.first_ts("db", "stopping: dependency; waiting for web to stop first") is not None, p.tail())
        check(stop.returncode == 0 and "base: stopped" in out, out)
        with open(order.replace("TMPDIR", p.dir)) as f:
            words = f.read().split()
        seen = [" ".join(words[i:i + 2]) for i in range(0, len(words), 2)]
        check(seen == ["web term", "web exit", "db term", "db exit", "base term", "base exit"], seen)
        for n in ("db", "web"):
            check(status_of(p, n).get("stop_reason") == "dependency", status_of(p, n))
        check(status_of(p, "base").get("stop_reason") == "requested", status_of(p, "base"))


def test_starting_a_dependent_takes_back_a_held_stop():
    """While base's stop waits for db and web, `procd start web` (the newer
    request) brings web back up and takes back the held stops of db and
    base: all three run, base and db with the same pids."""
    order = "TMPDIR/order.txt"
    rec = json.dumps(RECORDER.replace("sleep 0.5", "sleep 2") % (order, order))
    with Procd(ORDERED % {"rec": rec}) as p:
        for n in ("base", "db", "web"):
            p.wait_state(n, "running")
        pids = {n: status_of(p, n)["pid"] for n in ("base", "db")}
        stop = subprocess.Popen([PROCD, "-c", p.config, "stop", "base"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            p.wait_for(lambda: status_of(p, "base").get("condition") == "stopping", 10, "base's stop held")
            check(cli(p, "start", "web").returncode == 0)
            for n in ("base", "db", "web"):
                p.wait_for(lambda: status_of(p, n)["state"] == "running" and status_of(p, n).get("condition") == "running",
                           15, "%s running" % n)
        finally:
            stop.kill()  # it waits for a stop the start took back
            stop.wait(timeout=10)
        check({n: status_of(p, n)["pid"] for n in ("base", "db")} == pids, "base and db kept their runs")
        with open(order.replace("TMPDIR", p.dir)) as f:
            check(f.read().split() == ["web", "term", "web", "exit"], "only web was stopped")


if __name__ == "__main__":
    run_tests([test_stopping_a_dependency_stops_its_dependents, test_a_dependency_failed_for_good_stops_its_dependents,
               test_a_requested_stop_stops_its_dependents_first, test_starting_a_dependent_takes_back_a_held_stop])
