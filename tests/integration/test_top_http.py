"""Issue 29 item 4, `procd top --http URL [--token-file F]`: the TUI watches a
real procd through its HTTP endpoint (GET /status, /events, /logs?follow=1;
POST verbs with the bearer token), driven in tmux: the table and the
selected service's followed logs show, `r` `y` restarts web by POST and the
table shows its new pid, a wrong or missing token shows the 403 with code
6017 and says the token was refused, the endpoint going away and back is
said and reconnected, `S` says the endpoint has no signal route (6003), and no endpoint at the start is error 6016 (exit 3)."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

from procdtest import PROCD, Procd, check, run_tests
from test_http import free_port, get, start, wait_http
from test_top import Tui


def write_token(d, text):
    path = os.path.join(d, "token-%d" % len(os.listdir(d)))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, text.encode())
    os.close(fd)
    return path


def status(p):
    r = subprocess.run([PROCD, "-c", p.config, "status", "--json"], capture_output=True, text=True, timeout=20)
    return {s["name"]: s for s in json.loads(r.stdout)["services"]} if r.returncode == 0 else {}


def with_procd(test):
    d = tempfile.mkdtemp(prefix="procd-top-http-")
    try:
        token = write_token(d, "  s3cret-token\n")
        p, port = start(extra='http_token_file = "%s"\n' % token)
        with p:
            p.wait_state("web", "running")
            p.wait_state("worker", "running")
            test(p, port, d, token)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_table_logs_and_r_restarts_by_post_with_the_token():
    def body(p, port, d, token):
        old = status(p)["web"]["pid"]
        t = Tui(p, 100, 30, "http-restart", args="--http http://127.0.0.1:%d --token-file %s" % (port, token))
        try:
            text = t.wait(lambda s: re.search(r"web +running +%d " % old, s) and "worker" in s and "web-up" in s,
                          "the table over HTTP and web's followed log")
            check("logs: web" in text, text)
            t.keys("r")
            t.wait(lambda s: "restart web? y/n" in s, "the question")
            t.keys("y")
            new = p.wait_for(lambda: (status(p)["web"].get("pid") or old) != old and status(p)["web"]["pid"], 15,
                             "web restarted")
            text = t.wait(lambda s: re.search(r"web +running +%d " % new, s), "the new pid, from /events")
            check("restart web: asked" in text, text)
            t.keys("S")
            t.wait(lambda s: "Send which signal to web?" in s, "the signal list")
            t.keys("2")
            text = t.wait(lambda s: "error[6003]" in s, "no signal route over HTTP")
            check("signals cannot be sent over HTTP" in text, text)
            code, _, body = get(port, "/status")
            check(code == 200 and all(s["depends_on"] == [] for s in json.loads(body)["services"]), body)
            t.keys("q")
            t.wait(lambda s: "AFTER-TOP rc=0" in s, "q quits")
        finally:
            t.close()
    with_procd(body)


def test_a_wrong_or_missing_token_shows_the_403_with_its_code():
    def body(p, port, d, token):
        old = status(p)["web"]["pid"]
        wrong = write_token(d, "not-the-token\n")
        for name, args in (("wrong", "--token-file %s" % wrong), ("none", "")):
            t = Tui(p, 160, 30, "http-" + name, args="--http http://127.0.0.1:%d %s" % (port, args))
            try:
                t.wait(lambda s: "worker" in s, "the table")
                t.keys("r")
                t.wait(lambda s: "restart web? y/n" in s, "the question")
                t.keys("y")
                text = t.wait(lambda s: "error[6017]" in s, "the refusal with its code")
                line = [l for l in text.split("\n") if "error[6017]" in l][0]
                check("HTTP 403" in line and "token was refused" in line, line)
                check(("check --token-file" if name == "wrong" else "none given") in line, line)
                check(status(p)["web"]["pid"] == old, "web was restarted with a wrong token")
            finally:
                t.close()
    with_procd(body)


def test_the_endpoint_going_away_and_back():
    def body(p, port, d, token):
        t = Tui(p, 100, 30, "http-away", args="--http http://127.0.0.1:%d" % port)
        try:
            t.wait(lambda s: "worker" in s, "the table")
            p.signal(signal.SIGTERM)
            p.wait_exit()
            t.wait(lambda s: "procd went away; reconnecting" in s, "it says procd went away")
            Procd.start(p)
            wait_http(p, port)
            p.wait_state("web", "running")
            pid = status(p)["web"]["pid"]
            t.wait(lambda s: re.search(r"web +running +%d " % pid, s), "the table of the new procd")
        finally:
            t.close()
    with_procd(body)


def test_no_endpoint_is_error_6016():
    port = free_port()
    r = subprocess.run([PROCD, "top", "--http", "http://127.0.0.1:%d" % port], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    check(r.returncode == 3 and "error[6016]" in r.stderr and "connect" in r.stderr, (r.returncode, r.stderr))
    r = subprocess.run([PROCD, "top", "--http", "https://127.0.0.1:%d" % port], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    check(r.returncode == 2 and "error[6004]" in r.stderr, (r.returncode, r.stderr))


if __name__ == "__main__":
    if not shutil.which("tmux"):
        print("SKIP test_top_http: tmux is not installed (apt-get install tmux)")
        raise SystemExit(0)
    run_tests([test_table_logs_and_r_restarts_by_post_with_the_token, test_a_wrong_or_missing_token_shows_the_403_with_its_code,
               test_the_endpoint_going_away_and_back, test_no_endpoint_is_error_6016])
