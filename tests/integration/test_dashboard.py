"""The dashboard (GET /) in headless Chromium against a live procd: with
[control].http_token_file the page has start/stop/restart buttons per service
and a reload button (wired by data attributes to the POST endpoints, which
are driven here with the bearer header, and clicked over Chromium's
DevTools pipe); without it, none. A stopped service
shows '-' for CPU and memory (no stale figures of its last process) and its
reason. Each row's logs button opens a pane that follows that service's
/logs (stderr lines marked). A screenshot per state is saved (its path
printed)."""
import base64
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

from procdtest import ARTIFACTS, check, run_tests
from test_http import SERVICES, chromium_run, cli, get, start
from procdtest import PROCD, Procd

TOKEN = "dash-s3cret"


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(port, shot_name):
    """The page's DOM after its scripts ran, and a screenshot of it."""
    art = os.path.join(ARTIFACTS, "procd-dashboard")
    os.makedirs(art, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="procd-chromium-")
    try:
        base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--timeout=4000"]
        url = "http://127.0.0.1:%d/" % port
        dom, err = chromium_run(base + ["--dump-dom", url])
        shot = os.path.join(art, shot_name)
        chromium_run(base + ["--window-size=1400,400", "--screenshot=" + shot, url])
        check(os.path.exists(shot) and os.path.getsize(shot) > 1000, "no screenshot " + shot)
        print("dashboard screenshot: %s" % shot)
        return dom, err
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def row_of(dom, name):
    at = dom.find('<tr data-service="%s"' % name)
    check(at >= 0, "no row for %s in\n%s" % (name, dom[:3000]))
    return dom[at:dom.find("</tr>", at)]


def token_file(d):
    """TOKEN in d/token, mode 0600 (as http_token_file wants it)."""
    path = os.path.join(d, "token")
    with open(path, "w") as fh:
        fh.write(TOKEN + "\n")
    os.chmod(path, 0o600)
    return path


def post(port, path, token=TOKEN):
    status, _, body = get(port, path, method="POST", headers={"Authorization": "Bearer " + token})
    return status, json.loads(body) if body else None


def test_buttons_with_token_and_stopped_service():
    if not chromium():
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    d = tempfile.mkdtemp(prefix="procd-token-")
    try:
        token_path = token_file(d)
        p, port = start(extra='http_token_file = "%s"\n' % token_path, track=True)
        with p:
            p.wait_state("web", "running")
            p.wait_state("worker", "running")

            def sampled():
                return len(json.loads(get(port, "/history")[2])["services"].get("worker", [])) > 0
            p.wait_for(sampled, 10, "a resource sample of worker")
            # the buttons' endpoints, with the header the page sends
            check(post(port, "/services/worker/stop")[0] == 200)
            p.wait_state("worker", "stopped")
            check(post(port, "/services/worker/stop", token="wrong")[0] == 403)
            reason = [s for s in json.loads(get(port, "/status")[2])["services"] if s["name"] == "worker"][0]["reason"]
            check(reason, "worker stopped with no reason")
            dom, err = render(port, "dashboard-token.png")
            check('id="token"' in dom, "no token field:\n%s\n%s" % (dom[:3000], err[-1500:]))
            check('data-action="reload"' in dom, "no reload button:\n%s" % dom[:3000])
            for name in ("web", "worker", "idle"):
                row = row_of(dom, name)
                for action in ("start", "stop", "restart"):
                    check('data-action="%s" data-name="%s"' % (action, name) in row, (name, action, row))
            worker = row_of(dom, "worker")
            check('st-stopped">stopped<' in worker, worker)
            check('data-col="cpu">-</td>' in worker and 'data-col="mem">-</td>' in worker,
                  "stale CPU/RSS for stopped worker: %s" % worker)
            check(">%s<" % reason in worker, "no reason %r in %s" % (reason, worker))
            check('data-col="cpu"><svg' in row_of(dom, "web"), "no chart for running web")
            check(post(port, "/services/worker/start")[0] == 200)
            p.wait_state("worker", "running")
            check(post(port, "/reload")[0] == 200)
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Cdp:
    """Chromium driven over --remote-debugging-pipe (fd 3 in, fd 4 out,
    NUL-separated JSON), in its own process group, ended as a group."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="procd-chromium-")
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()

        def fds():
            os.dup2(cmd_r, 3)
            os.dup2(out_w, 4)
        self.proc = subprocess.Popen([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--disable-background-networking", "--disable-component-update",
                                      "--disable-sync", "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
                                      "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=fds,
                                     start_new_session=True)
        os.close(cmd_r)
        os.close(out_w)
        self.next_id, self.buf = 0, b""

    def call(self, method, params=None, session=None, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                m = json.loads(raw)
                if m.get("id") == self.next_id:
                    check("error" not in m, (method, m))
                    return m["result"]
            left = deadline - time.monotonic()
            check(left > 0, "no CDP answer to %s" % method)
            if select.select([self.out_r], [], [], left)[0]:
                chunk = os.read(self.out_r, 65536)
                check(chunk, "chromium closed the pipe")
                self.buf += chunk

    def close(self):
        for fd in (self.cmd_w, self.out_r):
            os.close(fd)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


CLICK = """(async () => {
  const t = document.getElementById("token");
  t.value = %s; t.dispatchEvent(new Event("input"));
  document.querySelector('button[data-action="%s"]%s').click();
  for (let i = 0; i < 100; i++) {
    const r = document.getElementById("result").textContent;
    if (r && !r.endsWith("\u2026")) return r + " | stored=" + sessionStorage.getItem("procd-token");
    await new Promise(ok => setTimeout(ok, 50));
  }
  return "no result";
})()"""


def test_clicks_post_with_the_bearer_token():
    if not chromium():
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    d = tempfile.mkdtemp(prefix="procd-token-")
    cdp = None
    try:
        token_path = token_file(d)
        p, port = start(extra='http_token_file = "%s"\n' % token_path)
        with p:
            p.wait_state("web", "running")
            cdp = Cdp()
            target = cdp.call("Target.createTarget", {"url": "http://127.0.0.1:%d/" % port})["targetId"]
            session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

            def run(js):
                r = cdp.call("Runtime.evaluate", {"expression": js, "awaitPromise": True, "returnByValue": True},
                             session)
                return r["result"].get("value")
            p.wait_for(lambda: run("!!document.getElementById('token')"), 10, "the page loaded")
            got = run(CLICK % (json.dumps("wrong"), "stop", '[data-name="web"]'))
            print("wrong token: " + got)
            check(got.startswith("stop web: HTTP 403 error[") and "stored=wrong" in got, got)
            check([s for s in json.loads(get(port, "/status")[2])["services"] if s["name"] == "web"][0]["pid"])
            got = run(CLICK % (json.dumps(TOKEN), "stop", '[data-name="web"]'))
            check(got == "stop web: ok | stored=" + TOKEN, got)
            p.wait_state("web", "stopped")
            got = run(CLICK % (json.dumps(TOKEN), "reload", ""))
            check(got == "reload: ok | stored=" + TOKEN, got)
            art = os.path.join(ARTIFACTS, "procd-dashboard")
            os.makedirs(art, exist_ok=True)
            shot = os.path.join(art, "dashboard-after-clicks.png")
            with open(shot, "wb") as fh:
                fh.write(base64.b64decode(cdp.call("Page.captureScreenshot", {}, session)["data"]))
            print("dashboard screenshot: %s" % shot)
    finally:
        if cdp:
            cdp.close()
        shutil.rmtree(d, ignore_errors=True)


NOISY = SERVICES + '''
[services.noisy]
command = ["bash", "-c", "echo to-out; echo to-err >&2; exec sleep 1000"]
'''

PANE = """(() => {
  const pane = document.getElementById("logpane");
  if (!pane) return null;
  return {title: document.getElementById("logtitle").textContent,
          out: [...pane.querySelectorAll("#loglines > div:not(.stderr):not(.procd)")].map(d => d.textContent),
          err: [...pane.querySelectorAll("#loglines > div.stderr")].map(d => d.textContent)};
})()"""


def test_log_pane_follows_a_service():
    if not chromium():
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    p, port = start(services=NOISY)
    cdp = None
    with p:
        try:
            p.wait_state("noisy", "running")
            cdp = Cdp()
            target = cdp.call("Target.createTarget", {"url": "http://127.0.0.1:%d/" % port})["targetId"]
            session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

            def run(js):
                r = cdp.call("Runtime.evaluate", {"expression": js, "awaitPromise": True, "returnByValue": True},
                             session)
                return r["result"].get("value")
            p.wait_for(lambda: run("!!document.querySelector('button[data-logs=\"noisy\"]')"), 10,
                       "a logs button for noisy")
            run("document.querySelector('button[data-logs=\"noisy\"]').click()")

            def pane_has(n):
                got = run(PANE)
                return got and sum("to-err" in t for t in got["err"]) >= n and sum("to-out" in t for t in got["out"]) >= n
            p.wait_for(lambda: pane_has(1), 10, "noisy's recent lines in the pane")
            got = run(PANE)
            check("noisy" in got["title"] and not any("to-err" in t for t in got["out"]), got)
            # followed: a restart's new lines arrive without a reload of the page
            check(cli(p, "restart", "noisy").returncode == 0)
            p.wait_for(lambda: pane_has(2), 10, "noisy's new lines followed into the pane")
            art = os.path.join(ARTIFACTS, "procd-dashboard")
            os.makedirs(art, exist_ok=True)
            shot = os.path.join(art, "dashboard-logs.png")
            with open(shot, "wb") as fh:
                fh.write(base64.b64decode(cdp.call("Page.captureScreenshot", {}, session)["data"]))
            print("dashboard screenshot: %s" % shot)
            # procd restarted on the same port: the pane reconnects by itself
            # (backing off) and follows the new procd's lines.
            p.proc.send_signal(signal.SIGTERM)
            p.proc.wait(timeout=20)
            deadline = time.monotonic() + 10  # procd is down: no p.wait_for (it stops on procd's exit)
            while "reconnecting" not in (run(PANE) or {}).get("title", "") and time.monotonic() < deadline:
                time.sleep(0.1)
            check("reconnecting" in run(PANE)["title"], "the pane saying it reconnects: %r" % run(PANE))
            Procd.start(p)
            p.wait_state("noisy", "running")
            p.wait_for(lambda: "(following)" in run(PANE)["title"] and pane_has(1), 20,
                       "the pane following the new procd")
            procd_lines = run("[...document.querySelectorAll('#loglines > div.procd')].map(d => d.textContent)")
            check(procd_lines and any("spawned pid" in t for t in procd_lines), procd_lines)
        finally:
            if cdp:
                cdp.close()


def test_no_buttons_without_token_file():
    if not chromium():
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    p, port = start()
    with p:
        p.wait_state("web", "running")
        dom, err = render(port, "dashboard-readonly.png")
        row_of(dom, "web")
        check('data-action="' not in dom and 'id="token"' not in dom, "buttons without a token file:\n%s" % dom[:3000])


STATES = '''
[services.web]
command = ["bash", "-c", "exec -a MARKER-web sleep 1000", "MARKER"]
[services.worker]
command = ["bash", "-c", "exec -a MARKER-worker sleep 1000", "MARKER"]
[services.broken]
command = ["sh", "-c", "exit 4", "MARKER"]
autostart = false
[services.flaky]
command = ["sh", "-c", "exit 1", "MARKER"]
autostart = false
restart = { policy = "on-failure", delay_ms = 60000 }
'''


def reason_of(port, name):
    return [s for s in json.loads(get(port, "/status")[2])["services"] if s["name"] == name][0]["reason"]


def test_a_screenshot_per_state():
    """The page in three states, each kept as a screenshot: all running, one
    failed (its reason in its row), one restarting (its reason too)."""
    if not chromium():
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    p, port = start(services=STATES)
    with p:
        p.wait_state("web", "running")
        p.wait_state("worker", "running")
        dom, _ = render(port, "dashboard-all-running.png")
        for name in ("web", "worker"):
            check('st-running">running<' in row_of(dom, name), row_of(dom, name))
        check(cli(p, "start", "broken").returncode != 0, "broken fails to start")
        p.wait_state("broken", "failed")
        dom, _ = render(port, "dashboard-one-failed.png")
        row = row_of(dom, "broken")
        check('st-failed">failed<' in row and "exited 4" in row, row)
        check('st-running">running<' in row_of(dom, "web"), row_of(dom, "web"))
        # `procd start flaky` waits for an outcome a 60 s restart delay does not give: ended by pid here.
        starter = subprocess.Popen([PROCD, "-c", p.config, "start", "flaky"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            p.wait_state("flaky", "restarting")
        finally:
            starter.kill()
            starter.wait(timeout=10)
        dom, _ = render(port, "dashboard-one-restarting.png")
        row = row_of(dom, "flaky")
        reason = reason_of(port, "flaky")
        check('st-restarting">restarting<' in row and "restarting in" in row, (reason, row))


if __name__ == "__main__":
    run_tests([
        test_buttons_with_token_and_stopped_service,
        test_clicks_post_with_the_bearer_token,
        test_log_pane_follows_a_service,
        test_no_buttons_without_token_file,
        test_a_screenshot_per_state,
    ])
