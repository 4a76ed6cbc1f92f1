"""issue 28, the dashboard's rolling restart: with a bearer token the rows of
a replicated service's instances (NAME@i) carry a "roll" button for NAME
(no such button on a plain service); clicking it POSTs
/services/NAME/restart?rolling=1, the status line says the roll is under
way, then shows its outcome from the roll's event: "done" with every pid
changed, or "stopped" with the error code and the failed instance, the old
instances still serving. Driven in headless Chromium over DevTools."""
import json
import os
import shutil
import tempfile

from procdtest import check, run_tests
from test_dashboard import TOKEN, Cdp, chromium, token_file
from test_http import get, start

WEB = '''
[services.web]
command = ["sh", "-c", "test -f OKFILE && exec sleep 1000"]
replicas = 2
ready = { min_uptime_ms = 300 }
restart = { policy = "never" }
[services.solo]
command = ["sleep", "1000"]
'''

ROLL = """(async () => {
  const t = document.getElementById("token");
  t.value = %s; t.dispatchEvent(new Event("input"));
  const buttons = [...document.querySelectorAll('button[data-action="roll"]')];
  const rows = buttons.map(b => b.closest("tr").dataset.service + "->" + b.dataset.name);
  buttons[0].click();
  const seen = [];
  for (let i = 0; i < 400; i++) {
    const r = document.getElementById("result");
    const text = r.textContent + (r.className === "err" ? " [err]" : "");
    if (!seen.includes(text)) seen.push(text);
    if (text && !text.endsWith("\u2026")) break;
    await new Promise(ok => setTimeout(ok, 50));
  }
  return JSON.stringify({rows, seen});
})()"""


def pids(port):
    st = json.loads(get(port, "/status")[2])
    return {s["name"]: s["pid"] for s in st["services"] if s["name"].startswith("web@")}


def both_running(p, port):
    def ok():
        st = json.loads(get(port, "/status")[2])
        web = [s for s in st["services"] if s["name"].startswith("web@")]
        return len(web) == 2 and all(s["state"] == "running" for s in web)
    p.wait_for(ok, 15, "web@0 and web@1 running")
    return pids(port)


def test_roll_button_shows_the_outcome():
    if not chromium():
        print("SKIP dashboard: chromium not installed (Debian package chromium)")
        return
    d = tempfile.mkdtemp(prefix="procd-dash-roll-")
    cdp = None
    try:
        token_path = token_file(d)
        okfile = os.path.join(d, "ok")
        open(okfile, "w").close()
        p, port = start(WEB.replace("OKFILE", okfile), extra='http_token_file = "%s"\n' % token_path)
        with p:
            before = both_running(p, port)
            cdp = Cdp()
            target = cdp.call("Target.createTarget", {"url": "http://127.0.0.1:%d/" % port})["targetId"]
            session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

            def run(js):
                r = cdp.call("Runtime.evaluate", {"expression": js, "awaitPromise": True, "returnByValue": True},
                             session, timeout=40)
                return r["result"].get("value")
            p.wait_for(lambda: run("document.querySelectorAll('button[data-action=\"roll\"]').length === 2"), 10,
                       "a roll button on each instance row")
            got = json.loads(run(ROLL % json.dumps(TOKEN)))
            print("roll: %s" % got)
            check(got["rows"] == ["web@0->web", "web@1->web"], got)
            check(any(s.startswith("roll web: under way") for s in got["seen"]), got)
            check(got["seen"][-1].startswith("roll web: done"), got)
            after = both_running(p, port)
            check(all(after[k] != before[k] for k in before), "%s %s" % (before, after))

            os.unlink(okfile)  # a new run now exits 1 at once: the roll stops at web@0
            got = json.loads(run(ROLL % json.dumps(TOKEN)))
            print("failing roll: %s" % got)
            last = got["seen"][-1]
            check(last.startswith("roll web: stopped") and "error[4014]" in last and "web@0" in last
                  and last.endswith("[err]"), got)
            check(pids(port)["web@1"] == after["web@1"], "web@1 kept its pid: %s %s" % (after, pids(port)))
    finally:
        if cdp:
            cdp.close()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_roll_button_shows_the_outcome])
