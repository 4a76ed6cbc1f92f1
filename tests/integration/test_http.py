"""The HTTP endpoint ([control].http) against a live procd over real
sockets: every route, keep-alive and HEAD, /readyz 503 -> 200, metrics
(promtool where installed), SSE for a restart, bearer-token POSTs, 300
connections plus a slowloris client, bad requests, address in use, a live
rebind on reload, IPv6, the dashboard in headless Chromium; a followed-logs
client that stops reading under a 120 MB flood (HTTP and control socket:
dropped, procd unhurt), a reload that moves the address (the POST /reload
gets its reply, old streams end, a non-reader is cut), HEAD and a pipeline."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from procdtest import ANSWER_S, PROCD, Procd, check, run_tests

SERVICES = '''
[services.web]
command = ["bash", "-c", "echo web-up; exec -a MARKER-web sleep 1000", "MARKER"]
[services.worker]
command = ["bash", "-c", "echo worker-up; exec -a MARKER-worker sleep 1000", "MARKER"]
[services.idle]
command = ["sleep", "1000"]
autostart = false
'''


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_top(port, host="127.0.0.1", extra=""):
    return '[control]\nhttp = "%s:%d"\n%s' % (host, port, extra)


def get(port, path, method="GET", headers=None, host="127.0.0.1", timeout=5, body=None):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def wait_http(p, port, host="127.0.0.1"):
    def answers():
        try:
            return get(port, "/healthz", host=host, timeout=1)[0] == 200
        except OSError:
            return False
    p.wait_for(answers, 10, "HTTP endpoint answering")


def start(services=SERVICES, extra="", env=None, track=False):
    port = free_port()
    p = Procd(services, top=http_top(port, extra=extra), track=track)
    p.start(extra_env=env)
    p.start = lambda *a, **k: p  # started here; `with p:` only cleans up
    wait_http(p, port)
    return p, port


def cli(p, *args, timeout=20):
    return subprocess.run([PROCD, "-c", p.config] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, text=True)


def test_read_only_endpoints():
    p, port = start()
    with p:
        p.wait_state("web", "running")
        p.wait_state("worker", "running")
        status, hdr, body = get(port, "/healthz")
        check(status == 200 and body == b"ok\n", (status, body))
        # HEAD: the same headers, no body
        status, hdr, body = get(port, "/healthz", method="HEAD")
        check(status == 200 and body == b"" and hdr["Content-Length"] == "3", (status, hdr, body))
        # /status is `procd status --json`, but for the clocks
        status, hdr, body = get(port, "/status")
        check(status == 200 and hdr["Content-Type"] == "application/json", (status, hdr))
        mine = json.loads(body)
        theirs = json.loads(cli(p, "status", "--json").stdout)
        check(sorted(mine.keys()) == sorted(theirs.keys()), (mine.keys(), theirs.keys()))
        strip = lambda d: [{k: v for k, v in s.items() if k not in ("uptime_ms", "cpu_percent", "cpu_seconds", "rss_bytes")}
                           for s in d["services"]]
        check(strip(mine) == strip(theirs), (mine, theirs))
        status, _, body = get(port, "/status/web")
        one = json.loads(body)
        check(status == 200 and [s["name"] for s in one["services"]] == ["web"], body)
        status, _, body = get(port, "/status/nope")
        check(status == 404 and json.loads(body)["error"]["code"] == 4009, (status, body))
        # logs: recent lines as JSON lines
        status, hdr, body = get(port, "/logs?service=web&n=5")
        lines = [json.loads(l) for l in body.decode().splitlines()]
        check(status == 200 and any(l["line"] == "web-up" for l in lines), (status, body))
        check(all(l["service"] == "web" for l in lines), lines)
        check(get(port, "/logs?service=nope")[0] == 404)
        check(get(port, "/logs?n=-1")[0] == 400)
        # ?stream= keeps the chosen streams (n counts those): procd's own lines only
        status, _, body = get(port, "/logs?service=web&n=1&stream=procd")
        own = [json.loads(l) for l in body.decode().splitlines()]
        check(status == 200 and len(own) == 1 and own[0]["stream"] == "procd", (status, body))
        check(get(port, "/logs?stream=stdout")[0] == 400)
        # routes that do not exist, methods that do not apply
        check(get(port, "/nope")[0] == 404)
        status, hdr, _ = get(port, "/metrics", method="POST")
        check(status == 405 and hdr.get("Allow") == "GET, HEAD", (status, hdr))
        check(get(port, "/reload")[0] == 405)
        status, _, body = get(port, "/history")
        check(status == 200 and "web" in json.loads(body)["services"], body)
        status, hdr, body = get(port, "/")
        check(status == 200 and hdr["Content-Type"].startswith("text/html") and b"<table" in body, (status, hdr))
        # keep-alive: several requests on one connection
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for path in ("/healthz", "/status", "/metrics", "/healthz"):
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            check(r.status == 200, (path, r.status))
        c.close()
        # no [monitoring] track_resources: no cpu/memory series rather than a misleading 0
        status, _, body = get(port, "/metrics")
        check(status == 200 and b"procd_service_cpu_seconds_total" not in body
              and b"procd_service_memory_bytes" not in body, body)
        # HEAD of the shared (zero-copy) body: its length, no bytes
        status, hdr, none = get(port, "/metrics", method="HEAD")
        check(status == 200 and none == b"" and abs(int(hdr["Content-Length"]) - len(body)) < 100, (hdr, len(body)))


def test_logs_follow_stream():
    services = SERVICES + '''
[services.ticker]
command = ["bash", "-c", "i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.2; done", "MARKER"]
'''
    p, port = start(services)
    with p:
        p.wait_state("ticker", "running")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        # stream=out: procd's own lines (spawned, running) are not ticks
        s.sendall(b"GET /logs?service=ticker&n=1&follow=1&stream=out HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        f = s.makefile("rb")
        head = f.readline()
        check(head.startswith(b"HTTP/1.1 200"), head)
        headers = []
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            headers.append(line.lower())
        check(not any(h.startswith(b"content-length") for h in headers), headers)
        seen = []
        deadline = time.monotonic() + 10
        while len(seen) < 4 and time.monotonic() < deadline:
            item = json.loads(f.readline())
            check(item["service"] == "ticker", item)
            seen.append(int(item["line"].split("-")[1]))
        check(len(seen) == 4 and seen == sorted(seen) and seen[-1] - seen[0] == 3, seen)  # recent, then new, in order
        s.close()
        check(get(port, "/healthz")[0] == 200)


def test_readyz_turns_ready():
    services = '''
[services.fast]
command = ["bash", "-c", "exec -a MARKER-fast sleep 1000", "MARKER"]
[services.slow]
command = ["bash", "-c", "exec -a MARKER-slow sleep 1000", "MARKER"]
ready = { min_uptime_ms = 2500 }
[services.manual]
command = ["sleep", "1000"]
autostart = false
'''
    p, port = start(services)
    with p:
        status, _, body = get(port, "/readyz")
        doc = json.loads(body)
        check(status == 503 and doc["ready"] is False, (status, body))
        names = [s["name"] for s in doc["not_ready"]]
        check(names == ["slow"], doc)
        p.wait_for(lambda: get(port, "/readyz")[0] == 200, 10, "/readyz 200")
        check(json.loads(get(port, "/readyz")[2]) == {"ready": True})


def test_metrics_names_and_promtool():
    p, port = start(track=True)
    with p:
        p.wait_state("web", "running")
        p.wait_state("worker", "running")
        check(cli(p, "restart", "worker").returncode == 0)
        p.wait_state("worker", "running", count=2)
        time.sleep(0.5)  # a resource sample or two
        status, hdr, body = get(port, "/metrics")
        text = body.decode()
        check(status == 200 and hdr["Content-Type"].startswith("text/plain; version=0.0.4"), hdr)
        for family, kind in [("procd_build_info", "gauge"), ("procd_service_up", "gauge"),
                             ("procd_service_state", "gauge"), ("procd_service_restarts_total", "counter"),
                             ("procd_service_spawns_total", "counter"), ("procd_service_last_exit_code", "gauge"),
                             ("procd_service_uptime_seconds", "gauge"), ("procd_service_cpu_seconds_total", "counter"),
                             ("procd_service_memory_bytes", "gauge"),
                             ("procd_service_start_duration_seconds", "histogram"),
                             ("procd_service_stop_duration_seconds", "histogram"),
                             ("process_cpu_seconds_total", "counter"), ("process_resident_memory_bytes", "gauge"),
                             ("process_open_fds", "gauge"), ("process_start_time_seconds", "gauge")]:
            check("# TYPE %s %s\n" % (family, kind) in text, "%s missing\n%s" % (family, text))
            check("# HELP %s " % family in text, family)
        check('procd_service_spawns_total{service="worker"} 2' in text, text)
        check('procd_service_stop_duration_seconds_count{service="worker"} 1' in text, text)
        check('procd_service_start_duration_seconds_bucket{service="web",le="+Inf"} 1' in text, text)
        check('procd_service_state{service="web",state="running"} 1' in text, text)
        # `procd metrics` prints the same families
        out = cli(p, "metrics").stdout
        check([l for l in out.splitlines() if l.startswith("# ")] == [l for l in text.splitlines() if l.startswith("# ")])
        promtool = shutil.which("promtool")
        if not promtool:
            print("SKIP promtool check: promtool not installed (Debian package prometheus)")
            return
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", (r.returncode, r.stdout, r.stderr))


def test_metrics_disabled():
    p, port = start(env={"PROCD_MONITORING__ENABLE_METRICS": "false"})
    with p:
        status, _, body = get(port, "/metrics")
        check(status == 404 and json.loads(body)["error"]["code"] == 6012, (status, body))
        r = cli(p, "metrics")
        check(r.returncode != 0 and "6012" in r.stderr, (r.returncode, r.stdout, r.stderr))
        check(get(port, "/healthz")[0] == 200)


def read_sse_until(sock_file, predicate, deadline):
    """Reads `data:` events until one satisfies predicate; returns it or None."""
    while time.monotonic() < deadline:
        line = sock_file.readline()
        if not line:
            return None
        line = line.decode().rstrip("\r\n")
        if line.startswith("data: "):
            ev = json.loads(line[6:])
            if predicate(ev):
                return ev
    return None


def test_token_posts_and_sse_restart():
    d = tempfile.mkdtemp(prefix="procd-token-")
    try:
        token_path = os.path.join(d, "token")
        with open(token_path, "w") as fh:
            fh.write("  s3cret-token\n")
        os.chmod(token_path, 0o600)  # procd refuses a token file others can read
        p, port = start(extra='http_token_file = "%s"\n' % token_path)
        with p:
            p.wait_state("web", "running")
            pid = p.running_pid("web")
            check(get(port, "/services/web/restart", method="POST")[0] == 403)
            check(get(port, "/services/web/restart", method="POST", headers={"Authorization": "Bearer wrong"})[0] == 403)
            check(get(port, "/services/web/restart", method="POST",
                      headers={"Authorization": "Bearer s3cret-token-and-more"})[0] == 403)
            # follow events, then restart with the right token
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /events?service=web HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            f = s.makefile("rb")
            head = f.readline()
            check(head.startswith(b"HTTP/1.1 200"), head)
            while f.readline() not in (b"\r\n", b""):
                pass
            auth = {"Authorization": "Bearer s3cret-token"}
            status, _, body = get(port, "/services/web/restart", method="POST", headers=auth)
            check(status == 200 and json.loads(body)["ok"] is True, (status, body))
            ev = read_sse_until(f, lambda e: e["service"] == "web" and e["state"] == "running", time.monotonic() + 10)
            check(ev is not None and ev["pid"] != pid, ev)
            s.close()
            check(get(port, "/services/nope/stop", method="POST", headers=auth)[0] == 404)
            status, _, body = get(port, "/reload", method="POST", headers=auth)
            check(status == 200 and "kept" in json.loads(body), (status, body))
            status, _, _ = get(port, "/services/idle/start", method="POST", headers=auth)
            check(status == 200)
            p.wait_state("idle", "running")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_post_forbidden_without_token_file():
    p, port = start()
    with p:
        for path in ("/services/web/stop", "/reload"):
            status, _, body = get(port, path, method="POST", headers={"Authorization": "Bearer x"})
            check(status == 403, (path, status, body))
        status, _, body = get(port, "/status/web")
        check(json.loads(body)["services"][0]["state"] == "running", body)


def test_many_connections_and_slowloris():
    p, port = start()
    with p:
        socks = []
        try:
            for _ in range(300):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            slow = socket.create_connection(("127.0.0.1", port), timeout=5)
            socks.append(slow)
            slow.sendall(b"GET /status HTTP/1.1\r\nX-Slow: ")
            t0 = time.monotonic()
            for i in range(5):
                slow.sendall(b"a")
                status, _, body = get(port, "/healthz", timeout=3)
                check(status == 200, (i, status, body))
            check(time.monotonic() - t0 < 5, "healthz slow under load")
            # the slowloris gets nothing but a close once its 10 s are over
            slow.settimeout(15)
            check(slow.recv(100) == b"", "slowloris connection still open")
            check(time.monotonic() - t0 < 14, "slowloris not cut at 10 s")
        finally:
            for s in socks:
                s.close()
        check(get(port, "/healthz")[0] == 200)


def test_bad_requests():
    p, port = start()
    with p:
        for raw in (b"GARBAGE\r\n\r\n", b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", b"\x00\x01\x02\r\n\r\n"):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(raw)
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
            s.close()
            check(out.startswith(b"HTTP/1.1 400") or out.startswith(b"HTTP/1.1 431"), (raw[:20], out[:80]))
        check(p.proc.poll() is None, "procd died")
        check(get(port, "/healthz")[0] == 200)
        check(json.loads(get(port, "/status/web")[2])["services"][0]["name"] == "web")


def test_address_in_use_is_an_error():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        p = Procd(SERVICES, top=http_top(port))
        with p:
            rc = p.wait_exit(15)
            with open(p.stderr_path) as fh:
                err = fh.read()
            check(rc == 2 and "error[5007]" in err and str(port) in err, (rc, err))
            check(p.live_marked_pids() == [], "services left running")
    finally:
        blocker.close()


def test_reload_rebinds_live():
    port = free_port()
    p = Procd(SERVICES, top=http_top(port))
    with p:
        wait_http(p, port)
        new_port = free_port()
        p.rewrite(SERVICES, top=http_top(new_port))
        check(cli(p, "reload").returncode == 0)
        wait_http(p, new_port)
        try:
            get(port, "/healthz", timeout=1)
            check(False, "old port still answering")
        except OSError:
            pass
        # a port in use: the reload keeps the listener it has and says why
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        busy = blocker.getsockname()[1]
        try:
            p.rewrite(SERVICES, top=http_top(busy))
            cli(p, "reload")
            p.wait_for(lambda: "5007" in p.log_text() and str(busy) in p.log_text(), 5, "rebind error logged")
            check(get(port=new_port, path="/healthz")[0] == 200)
        finally:
            blocker.close()


def test_ipv6_loopback():
    if not socket.has_ipv6:
        print("SKIP ipv6: no IPv6 support")
        return
    try:
        port = free_port(socket.AF_INET6, "::1")
    except OSError as e:
        print("SKIP ipv6: ::1 not usable (%s)" % e)
        return
    p = Procd(SERVICES, top='[control]\nhttp = "[::1]:%d"\n' % port)
    with p:
        wait_http(p, port, host="::1")
        check(get(port, "/status/web", host="::1")[0] == 200)


def test_probe_command():
    p, port = start()
    with p:
        ok = subprocess.run([PROCD, "probe", "http://127.0.0.1:%d/healthz" % port], capture_output=True, text=True,
                            timeout=20)
        check(ok.returncode == 0 and ok.stderr == "", (ok.returncode, ok.stderr))
        for url in ("http://127.0.0.1:%d/nope" % port, "http://127.0.0.1:%d/healthz" % free_port()):
            bad = subprocess.run([PROCD, "probe", url], capture_output=True, text=True, timeout=20)
            check(bad.returncode == 1 and "error[6013]" in bad.stderr, (url, bad.returncode, bad.stderr))
    # a server that accepts and never answers: the timeout bounds the probe
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(1)
    try:
        t0 = time.monotonic()
        r = subprocess.run([PROCD, "probe", "--timeout", "500", "http://127.0.0.1:%d/" % mute.getsockname()[1]],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "no answer within 500 ms" in r.stderr, (r.returncode, r.stderr))
        check(time.monotonic() - t0 < 5, "probe not bounded")
    finally:
        mute.close()


def chromium_run(argv, timeout=120):
    """Chromium in its own process group, ended as a group (it forks helpers)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # helpers that outlived the browser
        except ProcessLookupError:
            pass
    return out, err


def test_dashboard_in_headless_chromium():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    p, port = start(track=True)
    with p:
        p.wait_state("web", "running")
        p.wait_state("worker", "running")
        art = os.path.join(os.environ.get("PROCD_TEST_ARTIFACTS", tempfile.gettempdir()), "procd-dashboard")
        os.makedirs(art, exist_ok=True)
        profile = tempfile.mkdtemp(prefix="procd-chromium-")
        try:
            # --timeout (real time), not --virtual-time-budget: virtual time
            # stands still while a request is pending, and /events always is.
            # The page carries the state it was served with, and then follows
            # /status and /events.
            base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--user-data-dir=" + profile, "--timeout=5000"]
            url = "http://127.0.0.1:%d/" % port
            dom, err = chromium_run(base + ["--dump-dom", url])
            for name, state in (("web", "running"), ("worker", "running"), ("idle", "stopped")):
                row = dom.find('data-service="%s"' % name)
                check(row >= 0, "no row for %s in\n%s\n%s" % (name, dom[:3000], err[-2000:]))
                check('st-%s">%s</span>' % (state, state) in dom[row:row + 600], (name, dom[row:row + 600]))
            idle = dom[dom.find('data-service="idle"'):][:900]
            check(">not started<" in idle, "no reason for idle in %s" % idle)  # the reason column (issue 27)
            shot = os.path.join(art, "dashboard.png")
            chromium_run(base + ["--window-size=1200,400", "--screenshot=" + shot, url])
            check(os.path.exists(shot) and os.path.getsize(shot) > 1000, "no screenshot")
            print("dashboard screenshot: %s" % shot)
        finally:
            shutil.rmtree(profile, ignore_errors=True)


# --- a streaming client that stops reading ----------------------------------

LINGER_S = 10  # StreamConnection::kLingerMs: how long a close waits for the peer to read
FLOOD_LINE = 1000  # bytes per line, newline included
FLOOD_N = 120000   # 120 MB: far past every queue bound (4 MiB HTTP, 8 MiB control) and the RSS bound
# procd's RSS may grow this much beside a stalled client (without the drop
# bound it grows by the whole flood); under ASan (slowdown > 1) freed memory
# sits in its 256 MB quarantine, so only the drop and the close are checked.
RSS_SLACK = (64 << 20) if ANSWER_S <= 1.0 else (1 << 40)


def flood_services(n=FLOOD_N):
    """`flood` waits for TMPDIR/go, then writes n numbered lines and a sentinel
    as fast as it can, into its own log file (not procd's log)."""
    script = ("import os, sys, time\n"
              "while not os.path.exists('TMPDIR/go'): time.sleep(0.02)\n"
              "w = sys.stdout.write\n"
              "pad = 'y' * %d\n"
              "for i in range(%d): w('%%08d %%s\\n' %% (i, pad))\n"
              "w('FLOOD-DONE %%d\\n' %% %d)\n"
              "sys.stdout.flush()\n"
              "time.sleep(1000)\n") % (FLOOD_LINE - 10, n, n)
    return SERVICES + (
        '[services.flood]\ncommand = ["python3", "-c", %s, "MARKER"]\n'
        '[services.flood.log]\nfile = "TMPDIR/flood.log"\nmax_file_size = "4G"\n' % json.dumps(script))


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def drop_warnings(p, prefix):
    return [e for e in p.events() if e.get("code") == 5006 and e.get("msg", "").startswith(prefix)
            and "is not reading" in e["msg"]]


def flood_lines(p):
    try:
        with open(os.path.join(p.dir, "flood.log"), "rb") as fh:
            return fh.read().splitlines()
    except FileNotFoundError:
        return []


def stall_then_check_dropped(p, port, stalled, prefix):
    """`stalled` has asked for the flood's followed logs and never reads. While
    the flood runs: procd drops it (warning 5006), /healthz answers promptly,
    procd's RSS stays bounded; then `stalled` reads to its end (EOF or reset:
    closed by procd, far short of the flood) and the flood's file has every line."""
    pid = p.proc.pid
    stalled.settimeout(10)
    check(len(stalled.recv(1, socket.MSG_PEEK)) == 1, "no stream head")  # following before the flood starts
    base = vm_rss(pid)
    bound = base + RSS_SLACK
    open(os.path.join(p.dir, "go"), "w").close()
    worst = peak = 0
    deadline = time.monotonic() + 90 * ANSWER_S
    while not drop_warnings(p, prefix):
        check(time.monotonic() < deadline, "no drop warning in time\n" + p.tail())
        t0 = time.monotonic()
        check(get(port, "/healthz", timeout=5)[0] == 200, "healthz")
        worst = max(worst, time.monotonic() - t0)
        peak = max(peak, vm_rss(pid))
        check(peak < bound, "procd RSS %d MB (base %d MB) beside a stalled client" % (peak >> 20, base >> 20))
        time.sleep(0.05)
    check(worst < ANSWER_S, "healthz took %.2fs beside a stalled client" % worst)
    drained = drain_until_closed(stalled, "the stalled socket")
    check(drained < FLOOD_N * FLOOD_LINE // 2, "the stalled client got %d bytes: not dropped" % drained)
    # the service's output is not lost, and procd stays light and answering until it is all written
    while not (flood_lines(p)[-1:] == [b"FLOOD-DONE %d" % FLOOD_N]):
        check(time.monotonic() < deadline, "flood sentinel not in its file in time\n" + p.tail())
        check(get(port, "/healthz", timeout=5)[0] == 200, "healthz")
        peak = max(peak, vm_rss(pid))
        check(peak < bound, "procd RSS %d MB (base %d MB) during the flood" % (peak >> 20, base >> 20))
        time.sleep(0.1)
    lines = flood_lines(p)
    check(len(lines) == FLOOD_N + 1 and lines[FLOOD_N - 1].startswith(b"%08d " % (FLOOD_N - 1)), len(lines))
    check(len(drop_warnings(p, prefix)) == 1, drop_warnings(p, prefix))
    print("  stalled %s: %d bytes drained after the drop, RSS %d -> peak %d MB, healthz worst %.3fs"
          % (prefix, drained, base >> 20, peak >> 20, worst))


def test_stalled_http_logs_follower_is_dropped():
    p, port = start(flood_services())
    with p:
        p.wait_state("flood", "running")
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", port))
            stalled.sendall(b"GET /logs?service=flood&n=0&follow=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never read
            stall_then_check_dropped(p, port, stalled, "HTTP client")
        finally:
            stalled.close()


def test_stalled_control_logs_follower_is_dropped():
    p, port = start(flood_services())
    with p:
        p.wait_state("flood", "running")
        sock = os.path.join(p.dir, ".procd.sock")
        p.wait_for(lambda: os.path.exists(sock), 5, "control socket")
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(sock)
            stalled.sendall(b'{"cmd":"logs","follow":true,"lines":0,"names":["flood"]}\n')  # and never read
            stall_then_check_dropped(p, port, stalled, "control client")
        finally:
            stalled.close()


# --- a reload that moves the address ------------------------------------------

def open_sse(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    f = s.makefile("rb")
    check(f.readline().startswith(b"HTTP/1.1 200"), "SSE head")
    while f.readline() not in (b"\r\n", b""):
        pass
    return s, f


def check_closed_cleanly(sock_file, what, timeout=5):
    """The stream ends in EOF (procd shut it down after its queued bytes), within timeout."""
    deadline = time.monotonic() + timeout
    try:
        while sock_file.readline():
            check(time.monotonic() < deadline, "%s still open" % what)
    except socket.timeout:
        check(False, "%s still open after %ss" % (what, timeout))
    except ConnectionResetError:
        check(False, "%s reset, not closed" % what)


def check_refused(port):
    try:
        get(port, "/healthz", timeout=1)
        check(False, "old port %d still answering" % port)
    except ConnectionRefusedError:
        pass


def test_post_reload_moving_the_address_gets_its_reply():
    d = tempfile.mkdtemp(prefix="procd-token-")
    try:
        token_path = os.path.join(d, "token")
        with open(token_path, "w") as fh:
            fh.write("s3cret\n")
        os.chmod(token_path, 0o600)
        extra = 'http_token_file = "%s"\n' % token_path
        p, port = start(extra=extra)
        with p:
            sse, sse_f = open_sse(port)
            idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # keep-alive, idle at the rebind
            idle.request("GET", "/healthz")
            check(idle.getresponse().read() == b"ok\n")
            new_port = free_port()
            p.rewrite(SERVICES, top=http_top(new_port, extra=extra))
            try:
                status, hdr, body = get(port, "/reload", method="POST", headers={"Authorization": "Bearer s3cret"})
            except (http.client.HTTPException, OSError) as e:
                raise AssertionError("POST /reload that moves the address got no reply: %r" % e)
            doc = json.loads(body)
            check(status == 200 and doc["ok"] is True and sorted(doc["kept"]) == ["idle", "web", "worker"], (status, body))
            check(hdr.get("Connection") == "close", hdr)
            wait_http(p, new_port)
            check_refused(port)
            check_closed_cleanly(sse_f, "SSE stream on the old address")
            check(idle.sock.recv(1) == b"", "idle keep-alive connection on the old address still open")
            sse.close()
            idle.close()
            # and back again, through the new address: the retired server of the first move goes
            p.rewrite(SERVICES, top=http_top(port, extra=extra))
            status, _, body = get(new_port, "/reload", method="POST", headers={"Authorization": "Bearer s3cret"})
            check(status == 200 and json.loads(body)["ok"] is True, (status, body))
            wait_http(p, port)
            check_refused(new_port)
            # and off: the POST that closes the endpoint gets its answer too
            p.rewrite(SERVICES, top='[control]\n' + extra)
            status, _, body = get(port, "/reload", method="POST", headers={"Authorization": "Bearer s3cret"})
            check(status == 200 and json.loads(body)["ok"] is True, (status, body))
            p.wait_log("HTTPendpointclosed")
            check_refused(port)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_hot_reload_moving_the_address_closes_old_streams():
    port = free_port()
    p = Procd(SERVICES, top=http_top(port), hot_reload=True)
    with p:
        wait_http(p, port)
        sse, sse_f = open_sse(port)
        try:
            new_port = free_port()
            p.rewrite(SERVICES, top=http_top(new_port), how="rename")
            wait_http(p, new_port)
            check_refused(port)
            check_closed_cleanly(sse_f, "SSE stream on the old address")
        finally:
            sse.close()
        # the new address streams
        sse, sse_f = open_sse(new_port)
        try:
            check(cli(p, "restart", "web").returncode == 0)
            ev = read_sse_until(sse_f, lambda e: e["service"] == "web" and e["state"] == "running", time.monotonic() + 10)
            check(ev is not None, "no event on the new address")
        finally:
            sse.close()


def drain_until_closed(sock, who):
    """Reads sock to its end (EOF or reset); fails when procd still holds it
    open: more bytes keep coming for 30 s, or none come for 10 s."""
    sock.settimeout(10)
    drained, t0 = 0, time.monotonic()
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            drained += len(chunk)
            check(time.monotonic() - t0 < 30, "%s is still open after 30 s of reading" % who)
    except ConnectionResetError:
        pass
    except socket.timeout:
        check(False, "%s is still connected (%d bytes read)" % (who, drained))
    return drained


def test_retired_address_cuts_a_client_that_does_not_read():
    """A follower on the old address that does not read keeps unsent bytes in
    procd (3.5 MB: more than the kernel holds for it — its window and a
    64 KB piece, TCP_NOTSENT_LOWAT — less than the 4 MiB drop bound): the
    retired server waits for them 10 s, then cuts it."""
    n = 3500
    port = free_port()
    p = Procd(flood_services(n), top=http_top(port), hot_reload=True)
    with p:
        wait_http(p, port)
        p.wait_state("flood", "running")
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", port))
            stalled.sendall(b"GET /logs?service=flood&n=0&follow=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            stalled.settimeout(10)
            check(len(stalled.recv(1, socket.MSG_PEEK)) == 1, "no stream head")
            open(os.path.join(p.dir, "go"), "w").close()
            p.wait_for(lambda: flood_lines(p)[-1:] == [b"FLOOD-DONE %d" % n], 30 * ANSWER_S, "the flood written")
            check(not drop_warnings(p, "HTTP client"), "dropped at 3.5 MB: procd held more than expected")
            new_port = free_port()
            p.rewrite(flood_services(n), top=http_top(new_port), how="rename")
            wait_http(p, new_port)
            time.sleep(LINGER_S + 1)
            drained = drain_until_closed(stalled, "the old address's stalled client")
            check(drained < n * FLOOD_LINE, "the stalled client got all %d bytes: not cut" % drained)
            print("  cut after the retire: %d bytes read of the stream" % drained)
            check(get(new_port, "/healthz")[0] == 200)
        finally:
            stalled.close()


def test_close_cuts_a_client_that_does_not_read_its_reply():
    """A reply with Connection: close, bigger than the socket buffers, to a
    client that never reads: procd waits LINGER_S for it to be taken, then
    cuts the connection instead of holding it and its bytes for ever."""
    width, lines = 5500, 1000  # ~5.6 MB of JSON: more than the kernel buffers, less than the drop bound
    script = ("import sys, time\n"
              "for i in range(%d): sys.stdout.write('%%06d ' %% i + 'z' * %d + '\\n')\n"
              "sys.stdout.write('BIG-DONE\\n')\n"
              "sys.stdout.flush()\n"
              "time.sleep(1000)\n") % (lines - 1, width)
    services = SERVICES + ('[services.big]\ncommand = ["python3", "-c", %s]\n'
                           '[services.big.log]\nfile = "TMPDIR/big.log"\n' % json.dumps(script))
    p, port = start(services)
    with p:
        def ring_full():
            status, _, body = get(port, "/logs?service=big&n=1")
            return status == 200 and b"BIG-DONE" in body
        p.wait_for(ring_full, 30 * ANSWER_S, "the big service's lines in the ring")
        request = b"GET /logs?service=big&n=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % lines
        _, _, whole = get(port, "/logs?service=big&n=%d" % lines, timeout=30)
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", port))
            stalled.sendall(request)
            time.sleep(LINGER_S + 2 * ANSWER_S)
            drained = drain_until_closed(stalled, "the client that did not read")
            check(not drop_warnings(p, "HTTP client"), "dropped: the kernel buffered less than expected")
            check(drained < len(whole), "the client got the whole %d-byte reply: the connection was not cut" % len(whole))
            print("  cut after %.0f s: %d of %d bytes read" % (LINGER_S, drained, len(whole)))
            check(get(port, "/healthz")[0] == 200)
        finally:
            stalled.close()


# --- HEAD and a pipeline on one connection -------------------------------------

def read_responses(raw, methods):
    """Split a byte string of back-to-back responses (Content-Length framed;
    no body for HEAD) into [(status, headers, body)]; the rest must be empty."""
    out = []
    for method in methods:
        end = raw.find(b"\r\n\r\n")
        check(end > 0, "response %d of %d missing: %r" % (len(out) + 1, len(methods), raw[:200]))
        head = raw[:end].decode().split("\r\n")
        raw = raw[end + 4:]
        headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:])}
        n = int(headers["content-length"])
        body = b"" if method == "HEAD" else raw[:n]
        raw = raw[len(body):]
        out.append((int(head[0].split()[1]), headers, body))
    check(raw == b"", "bytes after the last response: %r" % raw[:200])
    return out


def test_head_metrics_and_a_pipeline_answered_in_order():
    p, port = start()
    with p:
        p.wait_state("web", "running")
        p.wait_state("worker", "running")
        # 20 requests in one write (more than the 16 answered per loop turn), the last closes
        names = ["web", "worker", "idle"]
        reqs = []
        for i in range(20):
            if i == 7:
                reqs.append(("HEAD", "/metrics"))
            elif i == 12:
                reqs.append(("GET", "/metrics"))
            else:
                reqs.append(("GET", "/status/%s" % names[i % 3]))
        wire = b"".join(b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (m.encode(), path.encode(),
                        b"Connection: close\r\n" if i == len(reqs) - 1 else b"") for i, (m, path) in enumerate(reqs))
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            s.sendall(wire)
            raw = b""
            while True:
                try:
                    chunk = s.recv(1 << 16)
                except socket.timeout:
                    check(False, "pipeline: no more after %d responses" % raw.count(b"HTTP/1.1 "))
                if not chunk:
                    break
                raw += chunk
        finally:
            s.close()
        answers = read_responses(raw, [m for m, _ in reqs])
        for i, ((method, path), (status, hdr, body)) in enumerate(zip(reqs, answers)):
            check(status == 200, (i, path, status))
            if path == "/metrics":
                check(hdr["content-type"].startswith("text/plain; version=0.0.4") and int(hdr["content-length"]) > 100,
                      (i, method, hdr))
                if method == "GET":
                    check(b"# TYPE procd_service_up gauge" in body, body[:200])
            else:
                svc = json.loads(body)["services"]
                check([x["name"] for x in svc] == [path.rsplit("/", 1)[1]], (i, path, body))
            want = "close" if i == len(reqs) - 1 else "keep-alive"
            check(hdr.get("connection") == want, (i, hdr))
        # HEAD /metrics announces the length GET sends (the figures may move in between: same families)
        head_len, get_len = int(answers[7][1]["content-length"]), len(answers[12][2])
        check(abs(head_len - get_len) < 200, (head_len, get_len))


if __name__ == "__main__":
    run_tests([
        test_read_only_endpoints,
        test_logs_follow_stream,
        test_readyz_turns_ready,
        test_metrics_names_and_promtool,
        test_metrics_disabled,
        test_token_posts_and_sse_restart,
        test_post_forbidden_without_token_file,
        test_many_connections_and_slowloris,
        test_bad_requests,
        test_address_in_use_is_an_error,
        test_reload_rebinds_live,
        test_ipv6_loopback,
        test_probe_command,
        test_dashboard_in_headless_chromium,
        test_stalled_http_logs_follower_is_dropped,
        test_stalled_control_logs_follower_is_dropped,
        test_post_reload_moving_the_address_gets_its_reply,
        test_hot_reload_moving_the_address_closes_old_streams,
        test_retired_address_cuts_a_client_that_does_not_read,
        test_close_cuts_a_client_that_does_not_read_its_reply,
        test_head_metrics_and_a_pipeline_answered_in_order,
    ])
