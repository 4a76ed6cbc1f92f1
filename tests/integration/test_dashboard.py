"""The dashboard (GET /) in headless Chromium against a live procd: with
[control].http_token_file the page has start/stop/restart buttons per service
and a reload button (wired by data attributes to the POST endpoints, which
are driven here with the bearer header); without it, none. A stopped service
shows '-' for CPU and memory (no stale figures of its last process) and its
reason. A screenshot per state is saved (its path printed)."""
import json
import os
import shutil
import tempfile

from procdtest import check, run_tests
from test_http import chromium_run, get, start

TOKEN = "dash-s3cret"


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(port, shot_name):
    """The page's DOM after its scripts ran, and a screenshot of it."""
    art = os.path.join(os.environ.get("PROCD_TEST_ARTIFACTS", tempfile.gettempdir()), "procd-dashboard")
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


def post(port, path, token=TOKEN):
    status, _, body = get(port, path, method="POST", headers={"Authorization": "Bearer " + token})
    return status, json.loads(body) if body else None


def test_buttons_with_token_and_stopped_service():
    if not chromium():
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    d = tempfile.mkdtemp(prefix="procd-token-")
    try:
        token_path = os.path.join(d, "token")
        with open(token_path, "w") as fh:
            fh.write(TOKEN + "\n")
        os.chmod(token_path, 0o600)
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


if __name__ == "__main__":
    run_tests([
        test_buttons_with_token_and_stopped_service,
        test_no_buttons_without_token_file,
    ])
