"""Issue 27: procd says why. `procd status` (REASON column, completed /
waiting / blocked), `status --json` (`condition`, `reason`, `reason_code`)
and `procd events --json` (exit code, signal, reason) for a mistyped
command, a crash loop stopped by the default start limit, a waiting and a
blocked dependent, a completed one-shot and a service stopped by request;
the repeated spawn error is logged once, then counted."""
import http.client
import json
import socket
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests


def cli(p, *args):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=20)


def status_of(p, name):
    # bounded: procd may not answer yet right after it was started
    r = p.wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(cli(p, "status", "--json")), 5, "status")
    return [s for s in json.loads(r.stdout)["services"] if s["name"] == name][0]


def table_row(p, name):
    rows = [l for l in cli(p, "status").stdout.splitlines() if l.split()[:1] == [name]]
    return rows[0] if rows else ""


def wait_status(p, name, pred, what, timeout=10):
    return p.wait_for(lambda: (lambda s: s if pred(s) else None)(status_of(p, name)), timeout, what)


def test_command_not_found_gives_up_with_reason():
    with Procd('''
[services.typo]
command = ["slep-MARKER", "1"]
restart = "on-failure"
''') as p:
        p.wait_state("typo", "failed")
        st = status_of(p, "typo")
        want = "command not found: slep-%s; giving up after 5 starts in 10 s" % p.marker
        check(st["state"] == "failed" and st["reason"] == want and st["reason_code"] == "start-limit", st)
        check(st["condition"] == "failed", st)
        check("REASON" in cli(p, "status").stdout.splitlines()[0], "no REASON column")
        check(table_row(p, "typo").endswith(want), table_row(p, "typo"))
        spawn_errors = [e["msg"] for e in p.events() if e.get("service") == "typo" and e.get("code") == 4002]
        check(len(spawn_errors) == 2 and spawn_errors[1].endswith("(repeated 4 times)"), spawn_errors)


def test_crash_loop_hits_default_start_limit():
    with Procd('''
[services.crash]
command = ["sh", "-c", "exit 3", "MARKER"]
restart = "always"
autostart = false
''') as p:
        p.wait_for(lambda: cli(p, "status").returncode == 0, 5, "procd answering")
        ev = subprocess.Popen([PROCD, "-c", p.config, "events", "--json"], stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)  # bounded: the stream is open before the start
            cli(p, "start", "crash")
            p.wait_state("crash", "failed", timeout=10)
            st = status_of(p, "crash")
            check(st["reason"] == "exited 3; giving up after 5 starts in 10 s", st)
            check(st["reason_code"] == "start-limit", st)
            check(p.states("crash").count("starting") == 5, p.states("crash"))
        finally:
            ev.terminate()
            out = ev.communicate(timeout=5)[0]
        items = [json.loads(l) for l in out.splitlines() if l.startswith("{") and '"service"' in l]
        restarting = [i for i in items if i["state"] == "restarting"]
        failed = [i for i in items if i["state"] == "failed"]
        check(restarting and restarting[0]["exit_code"] == 3 and restarting[0]["signal"] is None, restarting)
        check(restarting[0]["reason"].startswith("exited 3; restarting in "), restarting[0])
        check(failed and failed[0]["reason"] == "exited 3; giving up after 5 starts in 10 s", failed)
        check(failed[0]["reason_code"] == "start-limit" and failed[0]["exit_code"] == 3, failed)


def test_waiting_then_blocked_dependent():
    with Procd('''
[services.migrate]
command = ["sh", "-c", "sleep 1.5; exit 1", "MARKER"]
[services.web]
command = ["sleep", "1000"]
depends_on = { migrate = "completed" }
''') as p:
        st = wait_status(p, "web", lambda s: s.get("condition") == "waiting", "web waiting")
        check(st["state"] == "stopped" and st["reason"] == "waiting for migrate (completed)", st)
        check(st["reason_code"] == "waiting", st)
        check(" waiting " in table_row(p, "web") and table_row(p, "web").endswith("waiting for migrate (completed)"),
              table_row(p, "web"))
        st = wait_status(p, "web", lambda s: s.get("condition") == "blocked", "web blocked")
        check(st["state"] == "stopped" and st["reason"] == "blocked: migrate failed", st)
        check(st["reason_code"] == "blocked", st)
        check(table_row(p, "web").endswith("blocked: migrate failed"), table_row(p, "web"))
        st = status_of(p, "migrate")
        check(st["reason"] == "exited 1" and st["reason_code"] == "exited", st)


def test_completed_one_shot():
    with Procd('''
[services.once]
command = ["sh", "-c", "exit 0", "MARKER"]
''') as p:
        p.wait_state("once", "stopped")
        st = status_of(p, "once")
        check(st["state"] == "stopped" and st["condition"] == "completed", st)
        check(st["reason"] == "completed" and st["reason_code"] == "completed", st)
        check(" completed " in table_row(p, "once"), table_row(p, "once"))


def test_stopped_by_request():
    with Procd('''
[services.web]
command = ["sh", "-c", "sleep 1000", "MARKER"]
''') as p:
        p.wait_state("web", "running")
        check(status_of(p, "web")["reason"] == "running", status_of(p, "web"))
        r = cli(p, "stop", "web")
        check(r.returncode == 0, r.stderr)
        p.wait_state("web", "stopped")
        st = status_of(p, "web")
        check(st["condition"] == "stopped" and st["reason"] == "stopped by request", st)
        check(st["reason_code"] == "stopped-by-request", st)
        check(table_row(p, "web").endswith("stopped by request"), table_row(p, "web"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: every check is refused
    return port


def test_unhealthy_reason_names_the_check():
    port = free_port()
    with Procd('''
[services.db]
command = ["sh", "-c", "sleep 1000", "MARKER"]
restart = "never"
[services.db.health]
tcp = "127.0.0.1:%d"
interval_ms = 100
timeout_ms = 200
retries = 2
''' % port) as p:
        # "stopping: unhealthy" first (its run is stopped as a failed one), then the reason names the check
        st = wait_status(p, "db", lambda s: (s.get("reason") or "").startswith("unhealthy: "), "db unhealthy", timeout=15)
        check(st["reason"].startswith("unhealthy: ") and "127.0.0.1:%d" % port in st["reason"], st)
        check("refused" in st["reason"], st)
        check(st["reason_code"] == "unhealthy", st)
        check("unhealthy" in table_row(p, "db"), table_row(p, "db"))


def test_memory_limit_reason():
    with Procd('''
[services.hog]
command = ["python3", "-c", "import time; b = bytearray(96 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(1000)", "MARKER"]
memory_limit = "32M"
restart = "never"
''', track=True) as p:
        st = wait_status(p, "hog", lambda s: s["state"] in ("failed", "stopped"), "hog stopped over its limit", timeout=20)
        check(st["reason"] == "over memory_limit" and st["reason_code"] == "memory-limit", st)
        check(table_row(p, "hog").endswith("over memory_limit"), table_row(p, "hog"))


def test_http_status_and_events_carry_the_reason():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with Procd('''
[services.crash]
command = ["sh", "-c", "exit 4", "MARKER"]
restart = { policy = "on-failure", delay_ms = 50, start_limit = { burst = 2, interval_ms = 5000 } }
autostart = false
''', top='[control]\nhttp = "127.0.0.1:%d"\n' % port) as p:
        def connect():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/events")
                return c
            except OSError:
                return None
        c = p.wait_for(connect, 5, "HTTP up")
        r = c.getresponse()
        check(r.status == 200, r.status)
        cli(p, "start", "crash")
        p.wait_state("crash", "failed")
        items = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(i.get("state") == "failed" for i in items):
            line = r.fp.readline().decode()
            if line.startswith("data:"):
                items.append(json.loads(line[5:]))
        c.close()
        failed = [i for i in items if i.get("state") == "failed"]
        check(failed and failed[0]["reason"] == "exited 4; giving up after 2 starts in 5 s", items)
        check(failed[0]["exit_code"] == 4 and failed[0]["reason_code"] == "start-limit", failed)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/status/crash")
        body = json.loads(c.getresponse().read())
        c.close()
        svc = body["services"][0] if "services" in body else body
        check(svc["reason"] == "exited 4; giving up after 2 starts in 5 s", body)


def test_start_limit_opt_out():
    with Procd('''
[services.loop]
command = ["sh", "-c", "exit 2", "MARKER"]
restart = { policy = "always", delay_ms = 10, start_limit = { burst = 0 } }
''') as p:
        p.wait_state("loop", "starting", count=12, timeout=10)
        check("failed" not in p.states("loop"), p.states("loop"))
        st = status_of(p, "loop")
        check(st["state"] in ("starting", "restarting", "running"), st)
        check(st["state"] != "restarting" or st["reason"].startswith("exited 2; restarting in "), st)


if __name__ == "__main__":
    run_tests([
        test_command_not_found_gives_up_with_reason,
        test_crash_loop_hits_default_start_limit,
        test_waiting_then_blocked_dependent,
        test_completed_one_shot,
        test_stopped_by_request,
        test_http_status_and_events_carry_the_reason,
        test_start_limit_opt_out,
        test_unhealthy_reason_names_the_check,
        test_memory_limit_reason,
    ])
