"""depends_on conditions, readiness modes (notify, health, log, min uptime,
start timeout, watchdog), health checks of every kind going unhealthy and
restarting, memory_limit, reverse-order shutdown — against a live procd."""
import json
import os
import signal
import socket
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests

# A service that speaks sd_notify through NOTIFY_SOCKET (path or @abstract).
NOTIFY_PY = r'''
import os, socket, sys, time
def send(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"): addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(msg.encode(), addr); s.close()
mode = sys.argv[1]
time.sleep(0.3)
if mode in ("ready", "watchdog"):
    send("READY=1\nSTATUS=serving")
if mode == "watchdog":
    for _ in range(3):
        time.sleep(0.1); send("WATCHDOG=1")
time.sleep(1000)
'''

# Serves /healthz (200 while TMPDIR/ok exists, else 503) and keeps a TCP port open while it exists.
HTTP_PY = r'''
import http.server, os, sys
flag = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if os.path.exists(flag) else 503); self.end_headers()
    def log_message(self, *a): pass
open(flag, "w").close()
print("listening on", sys.argv[1], flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli_json(p, *args):
    r = subprocess.run([PROCD, "-c", p.config] + list(args) + ["--json"], capture_output=True, text=True, timeout=20)
    return json.loads(r.stdout)


def svc_status(p, name):
    return [s for s in cli_json(p, "status")["services"] if s["name"] == name][0]


def py(code):
    return json.dumps(code)


def test_ready_condition_waits_for_readiness():
    with Procd('''
[services.web]
command = ["sleep", "1000"]
depends_on = ["db"]
[services.db]
command = ["sleep", "1000"]
ready = { min_uptime_ms = 500 }
''') as p:
        p.wait_state("web", "running", timeout=5)
        check(p.first_ts("web", "state starting") >= p.first_ts("db", "state running"), "web started before db ready")
        check("waiting for db (ready)" in p.log_text(), "waiting reason logged")


def test_completed_and_started_conditions():
    with Procd('''
[services.migrate]
command = ["sh", "-c", "sleep 0.3; exit 0", "MARKER"]
[services.web]
command = ["sleep", "1000"]
depends_on = { migrate = "completed" }
[services.slow]
command = ["python3", "-c", %s, "none"]
ready = "notify"
[services.sidecar]
command = ["sleep", "1000"]
depends_on = { slow = "started" }
''' % py(NOTIFY_PY)) as p:
        p.wait_state("web", "running", timeout=5)
        check(p.first_ts("web", "state starting") >= p.first_ts("migrate", "state stopped"))
        p.wait_state("sidecar", "running", timeout=5)
        check(p.states("slow")[-1] == "starting", "slow never became ready: %s" % p.states("slow"))


def test_dependency_failed_for_good_blocks_dependent():
    with Procd('''
[services.migrate]
command = ["sh", "-c", "exit 1", "MARKER"]
[services.web]
command = ["sleep", "1000"]
depends_on = { migrate = "completed" }
''') as p:
        p.wait_state("migrate", "failed")
        p.wait_for(lambda: '"code":4011' in p.log_text().replace(" ", ""), 5, "blocked logged")
        check(p.states("web") == [], p.states("web"))
        st = svc_status(p, "web")
        check(st["state"] == "stopped" and "migrate failed" in (st.get("reason") or ""), st)


def test_reverse_order_shutdown():
    term = "trap 'echo %s-term; sleep 0.3; exit 0' TERM; while :; do sleep 0.05; done"
    with Procd('''
[services.db]
command = ["bash", "-c", "%s", "MARKER"]
[services.web]
command = ["bash", "-c", "%s", "MARKER"]
depends_on = { db = "started" }
''' % (term % "db", term % "web")) as p:
        p.wait_state("db", "running")
        p.wait_state("web", "running")
        time.sleep(0.2)
        p.signal(signal.SIGTERM)
        check(p.wait_exit(10) == 0)
        web_stopped = p.first_ts("web", "state stopped")
        db_term = [e for e in p.events() if e.get("service") == "db" and e.get("msg") == "db-term"]
        check(db_term, "db got its stop signal")
        h, m, sec = db_term[0]["ts"][11:-1].split(":")
        check(int(h) * 3600 + int(m) * 60 + float(sec) >= web_stopped, "db stopped before web exited")


def test_notify_ready_status_and_unknown_pid():
    with Procd('''
[services.n]
command = ["python3", "-c", %s, "ready"]
ready = "notify"
[services.never]
command = ["python3", "-c", %s, "none"]
ready = "notify"
''' % (py(NOTIFY_PY), py(NOTIFY_PY))) as p:
        p.wait_state("n", "running", timeout=5)
        st = svc_status(p, "n")
        check(st.get("status_text") == "serving", st)
        # A stranger's READY=1 (this test's own pid) must not make `never` ready.
        path = os.path.join(p.dir, ".procd.sock.notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1", path)
        s.close()
        time.sleep(0.5)
        check(p.states("never") == ["starting"], p.states("never"))


def test_start_timeout_fails_service():
    with Procd('''
[services.never]
command = ["python3", "-c", %s, "none"]
ready = "notify"
start_timeout_ms = 600
''' % py(NOTIFY_PY)) as p:
        p.wait_state("never", "failed", timeout=5)
        check('"code":8001' in p.log_text().replace(" ", ""))


def test_watchdog_miss_restarts():
    with Procd('''
[services.wd]
command = ["python3", "-c", %s, "watchdog"]
ready = "notify"
watchdog_ms = 400
restart = { policy = "always", delay_ms = 100 }
''' % py(NOTIFY_PY)) as p:
        p.wait_state("wd", "running", count=2, timeout=8)
        check('"code":8003' in p.log_text().replace(" ", ""))


def test_log_and_health_readiness():
    port = free_port()
    with Procd('''
[services.logready]
command = ["sh", "-c", "sleep 0.4; echo server listening now; sleep 1000", "MARKER"]
ready = { log = "listening" }
[services.web]
command = ["python3", "-c", %s, "%d", "TMPDIR/ok"]
ready = "health"
[services.web.health]
http = "http://127.0.0.1:%d/healthz"
interval_ms = 100
''' % (py(HTTP_PY), port, port)) as p:
        p.wait_state("logready", "running", timeout=5)
        check(p.first_ts("logready", "state running") >= p.first_ts("logready", "server listening"))
        p.wait_state("web", "running", timeout=5)
        st = svc_status(p, "web")
        check(st["health"] == "healthy", st)


def health_restart_case(kind_toml, extra=""):
    port = free_port()
    with Procd('''
[services.web]
command = ["python3", "-c", %s, "%d", "TMPDIR/ok"]
restart = { policy = "always", delay_ms = 100 }
%s
[services.web.health]
%s
interval_ms = 150
timeout_ms = 500
retries = 2
''' % (py(HTTP_PY), port, extra, kind_toml.replace("PORT", str(port)))) as p:
        p.wait_state("web", "running", timeout=5)
        p.wait_for(lambda: svc_status(p, "web")["health"] == "healthy", 5, "healthy")
        os.remove(os.path.join(p.dir, "ok"))
        p.wait_state("web", "running", count=2, timeout=8)  # unhealthy -> restarted (the new run recreates ok)
        check('"code":8004' in p.log_text().replace(" ", ""), "unhealthy logged")
        return p


def test_http_health_unhealthy_restarts():
    health_restart_case('http = "http://127.0.0.1:PORT/healthz"')


def test_command_health_unhealthy_restarts():
    health_restart_case('command = ["test", "-f", "TMPDIR/ok"]')


# Each step exits with its own code, so a failure names what leaked from procd.
HEALTH_AS_SERVICE_SH = (
    '[ "$(id -u)" = 65534 ] || exit 3; [ "$(id -g)" != 0 ] || exit 4; [ "$(umask)" = 0027 ] || exit 5; '
    '[ "$(ulimit -n)" = 123 ] || exit 6; [ "$(pwd)" = /tmp ] || exit 7; [ "$SERVICE_ONLY" = yes ] || exit 8; '
    '[ -z "$NOTIFY_SOCKET" ] || exit 9; exit 0')


def test_command_health_runs_as_the_service():
    """SPEC Part 2: a health command gets the service's user, umask, rlimits,
    working_dir and env, never procd's root or its manager's NOTIFY_SOCKET."""
    if os.geteuid() != 0:
        print("skip: needs root to run a service as nobody")
        return
    p = Procd('''
[services.web]
command = ["sh", "-c", "exec sleep 1000", "MARKER"]
user = "nobody"
umask = "0027"
working_dir = "/tmp"
env = { SERVICE_ONLY = "yes" }
rlimits = { nofile = 123 }
ready = "health"
[services.web.health]
command = ["sh", "-c", %s, "MARKER"]
interval_ms = 100
retries = 1
''' % json.dumps(HEALTH_AS_SERVICE_SH))
    try:
        p.start(extra_env={"NOTIFY_SOCKET": "@procd-test-manager-" + p.marker})
        try:
            p.wait_state("web", "running", timeout=5)
        except Exception:
            check(False, "health command did not pass as the service: %s" % [
                e.get("msg") for e in p.events() if "health" in e.get("msg", "")][:3])
    finally:
        p.cleanup()


def test_tcp_health_unhealthy_restarts():
    # the tcp check follows the port: the test kills the listener's socket by stopping the server thread
    port = free_port()
    tcp_py = r'''
import os, socket, sys, time
flag = sys.argv[2]; open(flag, "w").close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
s.settimeout(0.05)
while os.path.exists(flag):
    try: s.accept()[0].close()
    except socket.timeout: pass
s.close(); time.sleep(1000)
'''
    with Procd('''
[services.db]
command = ["python3", "-c", %s, "%d", "TMPDIR/ok"]
restart = { policy = "always", delay_ms = 100 }
[services.db.health]
tcp = "127.0.0.1:%d"
interval_ms = 150
retries = 2
''' % (py(tcp_py), port, port)) as p:
        p.wait_state("db", "running", timeout=5)
        p.wait_for(lambda: svc_status(p, "db")["health"] == "healthy", 5, "healthy")
        os.remove(os.path.join(p.dir, "ok"))
        p.wait_state("db", "running", count=2, timeout=8)


def test_memory_limit_restarts():
    hog = "x = bytearray(80 * 1024 * 1024)\nfor i in range(0, len(x), 4096): x[i] = 1\nimport time; time.sleep(1000)"
    with Procd('''
[services.hog]
command = ["python3", "-c", %s]
memory_limit = "40M"
restart = { policy = "always", delay_ms = 100 }
''' % py(hog), track=True) as p:
        p.wait_state("hog", "running", count=2, timeout=10)
        check('"code":7001' in p.log_text().replace(" ", ""))


if __name__ == "__main__":
    run_tests([
        test_ready_condition_waits_for_readiness,
        test_completed_and_started_conditions,
        test_dependency_failed_for_good_blocks_dependent,
        test_reverse_order_shutdown,
        test_notify_ready_status_and_unknown_pid,
        test_start_timeout_fails_service,
        test_watchdog_miss_restarts,
        test_log_and_health_readiness,
        test_http_health_unhealthy_restarts,
        test_command_health_unhealthy_restarts,
        test_command_health_runs_as_the_service,
        test_tcp_health_unhealthy_restarts,
        test_memory_limit_restarts,
    ])
