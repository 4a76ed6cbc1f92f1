"""Lifecycle hooks (issue 28) on real processes: pre_start, stop_command,
post_stop and `procd reload NAME` (reload_signal, reload_command, restart),
their order, environment, failure reasons and output in `procd logs`."""
import json
import os
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests


def cli(p, *args, timeout=30):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def status(p, name):
    r = cli(p, "status", "--json", name)
    check(r.returncode == 0, r.stdout + r.stderr)
    return json.loads(r.stdout)["services"][0]


def lines(path):
    try:
        with open(path) as fh:
            return fh.read().split()
    except FileNotFoundError:
        return []


def sh(script):
    """A command running `script` under bash, marked for the harness's cleanup."""
    return json.dumps(["bash", "-c", script, "MARKER"])


ORDERED = '''
[services.w]
command = %s
pre_start = %s
stop_command = %s
post_stop = %s
stop_timeout_ms = 5000
''' % (sh('echo main >> TMPDIR/order; trap "echo term >> TMPDIR/order; exit 7" TERM; while :; do sleep 0.05; done'),
       sh('echo pre_start >> TMPDIR/order'),
       sh('echo stop_command >> TMPDIR/order; kill -TERM $PROCD_MAINPID'),
       sh('echo post_stop:$PROCD_EXIT_CODE:$PROCD_EXIT_SIGNAL: >> TMPDIR/order'))


def test_hook_order_and_exit_code():
    with Procd(ORDERED) as p:
        order = os.path.join(p.dir, "order")
        p.wait_state("w", "running")
        p.wait_for(lambda: "main" in lines(order), 5, "main ran")
        r = cli(p, "stop", "w")
        check(r.returncode == 0, r.stdout + r.stderr)
        p.wait_for(lambda: any(l.startswith("post_stop") for l in lines(order)), 10, "post_stop ran")
        check(lines(order) == ["pre_start", "main", "stop_command", "term", "post_stop:7::"], lines(order))
        s = status(p, "w")
        check(s["state"] == "stopped", s)


def test_pre_start_failure_is_a_failed_start():
    cfg = '''
[services.f]
command = %s
pre_start = %s
restart = "never"
''' % (sh('touch TMPDIR/main-ran; sleep 100'), sh('echo preparing; exit 3'))
    with Procd(cfg) as p:
        p.wait_state("f", "failed")
        s = status(p, "f")
        check(s["reason"] == "pre_start exited 3", s)
        check(s["reason_code"] == "pre-start-failed", s)
        check(not os.path.exists(os.path.join(p.dir, "main-ran")), "the main command ran")
        r = cli(p, "logs", "f")
        check(r.returncode == 0, r.stderr)
        check(any("* preparing" in l for l in r.stdout.splitlines()), r.stdout)
        r = cli(p, "logs", "--json", "f")
        items = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        check(any(i["stream"] == "hook" and i["line"] == "preparing" for i in items), r.stdout)


def test_stop_command_replaces_the_signal():
    cfg = '''
[services.s]
command = %s
stop_command = %s
stop_timeout_ms = 8000
''' % (sh('trap "" TERM; while :; do sleep 0.05; done'), sh('touch TMPDIR/stop-ran; kill -KILL $PROCD_MAINPID'))
    with Procd(cfg) as p:
        p.wait_state("s", "running")
        t0 = time.monotonic()
        r = cli(p, "stop", "s")
        check(r.returncode == 0, r.stdout + r.stderr)
        p.wait_state("s", "stopped", timeout=10)
        check(time.monotonic() - t0 < 5, "stopped only after %.1fs" % (time.monotonic() - t0))
        check(os.path.exists(os.path.join(p.dir, "stop-ran")), "stop_command did not run")
        check("sendingSIGKILL" not in p.log_text().replace(" ", ""), p.tail())


def test_reload_signal_keeps_the_pid():
    cfg = '''
[services.h]
command = %s
reload_signal = "SIGHUP"
''' % sh('trap "echo hup >> TMPDIR/hups" HUP; while :; do sleep 0.05; done')
    with Procd(cfg) as p:
        p.wait_state("h", "running")
        pid = status(p, "h")["pid"]
        r = cli(p, "reload", "h")
        check(r.returncode == 0, r.stdout + r.stderr)
        p.wait_for(lambda: lines(os.path.join(p.dir, "hups")) == ["hup"], 5, "HUP seen")
        check(status(p, "h")["pid"] == pid, "pid changed")


def test_reload_command_runs_and_its_failure_fails_the_verb():
    cfg = '''
[services.c]
command = %s
reload_command = %s
''' % (sh('sleep 1000'), sh('echo reloading $PROCD_MAINPID; test -e TMPDIR/fail && exit 2; touch TMPDIR/reloaded'))
    with Procd(cfg) as p:
        p.wait_state("c", "running")
        pid = status(p, "c")["pid"]
        r = cli(p, "reload", "c")
        check(r.returncode == 0, r.stdout + r.stderr)
        check(os.path.exists(os.path.join(p.dir, "reloaded")), r.stdout)
        open(os.path.join(p.dir, "fail"), "w").close()
        r = cli(p, "reload", "c")
        check(r.returncode == 1 and "reload_command exited 2" in r.stderr, r.stdout + r.stderr)
        check(status(p, "c")["pid"] == pid, "pid changed")
        r = cli(p, "logs", "c")
        check("* reloading %d" % pid in r.stdout, r.stdout)


def test_reload_without_either_restarts():
    cfg = '''
[services.r]
command = %s
''' % sh('sleep 1000')
    with Procd(cfg) as p:
        p.wait_state("r", "running")
        pid = status(p, "r")["pid"]
        r = cli(p, "reload", "r")
        check(r.returncode == 0, r.stdout + r.stderr)
        check("restarted" in r.stdout, r.stdout)
        check(status(p, "r")["pid"] not in (None, pid), "no new pid")


def test_check_refuses_reload_command_and_signal():
    cfg = '''
[services.b]
command = "sleep 1"
reload_command = ["true"]
reload_signal = "HUP"
'''
    p = Procd(cfg)
    try:
        r = cli(p, "check")
        check(r.returncode != 0 and "1053" in r.stdout + r.stderr, r.stdout + r.stderr)
    finally:
        p.cleanup()


if __name__ == "__main__":
    run_tests([
        test_hook_order_and_exit_code,
        test_pre_start_failure_is_a_failed_start,
        test_stop_command_replaces_the_signal,
        test_reload_signal_keeps_the_pid,
        test_reload_command_runs_and_its_failure_fails_the_verb,
        test_reload_without_either_restarts,
        test_check_refuses_reload_command_and_signal,
    ])
