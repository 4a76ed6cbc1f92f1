"""issue 28, rolling restarts: `procd restart web --rolling` restarts the
instances one at a time, each once the previous new one is ready: status
sampled every 20 ms never shows zero running (= ready) instances, and every
pid changed at the end; the same run measures the longest window with fewer
than N running instances for the roll and for a plain `procd restart web`.
A new instance that fails stops the roll (non-zero exit, code and reason)
and the remaining old instances keep their pids."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from procdtest import PROCD, Procd, check, run_tests

N = 3
WEB = '''
[services.web]
command = ["sh", "-c", "test -f TMPDIR/ok && exec sleep 1000"]
replicas = %d
ready = { min_uptime_ms = 500 }
restart = { policy = "never" }
''' % N


def cli(p, *args, timeout=60):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def status(p):
    """The status body `procd status --json` prints, asked on the control socket
    directly (a CLI process per sample would stretch the 20 ms period)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(os.path.join(p.dir, ".procd.sock"))
        s.sendall(b'{"v":1,"cmd":"status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    body = json.loads(buf)
    return {x["name"]: x for x in body["services"]}


def running(st):
    return {k: v["pid"] for k, v in st.items() if k.startswith("web@") and v["state"] == "running"}


def all_running(p):
    def ready():
        try:
            r = running(status(p))
        except OSError:
            return None
        return r if len(r) == N else None
    return p.wait_for(ready, 15, "web@0..%d running" % (N - 1))


def sample_while(p, proc):
    """(t, running count, pids) every 20 ms until proc exits (bounded by 60 s)."""
    out = []
    end = time.monotonic() + 60
    while time.monotonic() < end:
        st = status(p)
        out.append((time.monotonic(), len(running(st)), running(st)))
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    return out


def longest_below(samples, n):
    """Longest stretch (ms) from a sample with fewer than n running to the next one with n."""
    best, since = 0.0, None
    for t, count, _ in samples:
        if count < n and since is None:
            since = t
        elif count >= n and since is not None:
            best, since = max(best, t - since), None
    if since is not None:
        best = max(best, samples[-1][0] - since)
    return int(best * 1000)


def test_rolling_versus_plain():
    with Procd(WEB) as p:
        open(os.path.join(p.dir, "ok"), "w").close()
        before = all_running(p)
        proc = subprocess.Popen([PROCD, "-c", p.config, "restart", "web", "--rolling"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        samples = sample_while(p, proc)
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 0, out + err)
        check(min(c for _, c, _ in samples) >= 1, "a sample with no instance running: %s" % samples)
        after = all_running(p)
        check(all(after[k] != before[k] for k in before), "%s %s" % (before, after))
        rolling_ms = longest_below(samples, N)
        rolling_zero = longest_below(samples, 1)
        rolling_min = min(c for _, c, _ in samples)
        print(out.strip(), flush=True)
        proc = subprocess.Popen([PROCD, "-c", p.config, "restart", "web"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        samples = sample_while(p, proc)
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 0, out + err)
        plain_ms = longest_below(samples, N)
        plain_zero = longest_below(samples, 1)
        plain_min = min(c for _, c, _ in samples)
        print("rolling: %d ms below %d ready (never below %d; %d ms at 0 ready); plain: %d ms (down to %d ready; %d ms at 0)"
              % (rolling_ms, N, rolling_min, rolling_zero, plain_ms, plain_min, plain_zero), flush=True)
        check(rolling_min == N - 1, "max_unavailable = 1: at most one instance down at once: %s" % rolling_min)


def test_failing_new_instance_stops_roll():
    with Procd(WEB) as p:
        ok = os.path.join(p.dir, "ok")
        open(ok, "w").close()
        before = all_running(p)
        os.unlink(ok)  # a new run now exits 1 at once
        r = cli(p, "restart", "web", "--rolling")
        check(r.returncode != 0, r.stdout + r.stderr)
        check("error[4014]" in r.stderr and "web@0" in r.stderr, r.stdout + r.stderr)
        st = status(p)
        check(st["web@0"]["state"] == "failed", str(st))
        check(running(st) == {k: before[k] for k in ("web@1", "web@2")}, "%s %s" % (before, st))
        print(r.stderr.strip(), flush=True)


def test_failed_roll_names_the_instance_reason():
    """The roll's failure carries the failed instance's own reason (as status
    shows it): the CLI's error, procd's log line and the roll-stopped event."""
    with Procd(WEB.replace("exec sleep 1000", "exec sleep 1000; exit 3")) as p:
        ok = os.path.join(p.dir, "ok")
        open(ok, "w").close()
        all_running(p)
        os.unlink(ok)  # a new run now exits 3 at once
        r = cli(p, "restart", "web", "--rolling")
        check(r.returncode != 0, r.stdout + r.stderr)
        check("web@0" in r.stderr and "exited 3" in r.stderr, r.stdout + r.stderr)
        reason = status(p)["web@0"]["reason"]
        check("exited 3" in reason, reason)
        stopped = [e for e in p.events() if "rolling restart stopped" in e.get("msg", "")]
        check(stopped and "exited 3" in stopped[-1]["msg"], str(stopped))
        print(r.stderr.strip(), flush=True)


def test_reload_rolls_changed_instances():
    with Procd(WEB) as p:
        open(os.path.join(p.dir, "ok"), "w").close()
        before = all_running(p)
        p.rewrite(WEB + 'env = { CHANGED = "1" }\n')
        proc = subprocess.Popen([PROCD, "-c", p.config, "reload"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL)
        samples = sample_while(p, proc)
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 0, out + err)
        end = time.monotonic() + 15
        while time.monotonic() < end:  # the roll goes on after the reload's reply
            st = running(status(p))
            samples.append((time.monotonic(), len(st), st))
            if len(st) == N and all(st[k] != before[k] for k in before):
                break
            time.sleep(0.02)
        check(all(samples[-1][2][k] != before[k] for k in before), "%s %s" % (before, samples[-1]))
        check(min(c for _, c, _ in samples) == N - 1, "a reload rolls one instance at a time: %s" % [c for _, c, _ in samples])
        p.wait_log("rollingrestartdone", 10)


def test_http_rolling_restart():
    from test_http import get, start
    from test_http_token import write_token
    tokdir = tempfile.mkdtemp(prefix="procd-roll-tok-")
    token = os.path.join(tokdir, "token")
    write_token(token, "sekrit\n")
    open(os.path.join(tokdir, "ok"), "w").close()  # before the start: restart is never
    p, port = start(WEB.replace("TMPDIR/ok", os.path.join(tokdir, "ok")), extra='http_token_file = "%s"\n' % token)
    with p:
        before = all_running(p)
        code, _, body = get(port, "/services/web/restart?rolling=1", method="POST", headers={"Authorization": "Bearer sekrit"})
        check(code == 200 and b'"rolls"' in body, "%s %s" % (code, body))
        p.wait_log("rollingrestartdone", 15)
        after = all_running(p)
        check(all(after[k] != before[k] for k in before), "%s %s" % (before, after))
    shutil.rmtree(tokdir, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_rolling_versus_plain, test_failing_new_instance_stops_roll, test_failed_roll_names_the_instance_reason,
               test_reload_rolls_changed_instances,
               test_http_rolling_restart])
