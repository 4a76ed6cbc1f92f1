"""Combinations of events that no single-scenario test walked (issue "Daemon
layer 2", its defect list): each test here failed on 0.2's binary first.

- a zero restart delay x a spawn that fails synchronously (env_file gone):
  procd keeps serving its socket and SIGTERM;
- a reload that re-adds a service x its removed copy still stopping: the
  new copy starts once the old one has stopped (never lost);
- `procd start/restart NAME` x a removal in progress: refused, the removed
  service never comes back;
- health checks x a service still starting (notify/log/min_uptime): failed
  checks do not end the start; start_timeout_ms bounds it;
- the shutdown ladder x a dependent that uses the whole graceful window: its
  dependency still gets its stop signal before any SIGKILL;
- no cgroups x a stop or `procd signal` in the drain window after the
  leader was reaped: a reused group id is never signalled;
- a service's spawn request x its health command's: one builder, so the
  health command runs with the service's cpu_affinity (0.2 dropped it) and
  never sees the NOTIFY_SOCKET of procd's own manager.
"""
import json
import os
import signal
import subprocess
import time

from procdtest import ANSWER_S, PROCD, Procd, check, run_tests


def cli(p, *args, timeout=20):
    return subprocess.run([PROCD, "-c", p.config] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def status_json(p, timeout=5):
    r = cli(p, "status", "--json", timeout=timeout)
    check(r.returncode == 0, "status: %d %s" % (r.returncode, r.stderr))
    return {s["name"]: s for s in json.loads(r.stdout)["services"]}


def test_zero_delay_restart_of_a_synchronous_spawn_failure_keeps_procd_responsive():
    # The first run reads env_file, removes it and fails: every later spawn
    # fails before fork (env_file missing), and the restart delay is 0.
    p = Procd('''
[services.loop]
command = ["sh", "-c", "rm -f TMPDIR/svc.env; exit 1", "MARKER"]
env_file = "TMPDIR/svc.env"
restart = { policy = "on-failure", delay_ms = 0 }
''', level="info")
    with open(os.path.join(p.dir, "svc.env"), "w") as fh:
        fh.write("A=1\n")
    with p:
        p.wait_for(lambda: "env_file" in p.log_text() or "svc.env" in p.log_text(), 10 * ANSWER_S,
                   "a spawn failure on the missing env_file")
        t0 = time.monotonic()
        st = status_json(p, timeout=5 * ANSWER_S)
        check(st["loop"]["state"] in ("restarting", "starting", "failed"), st["loop"])
        check(time.monotonic() - t0 < 5 * ANSWER_S, "status took %.1fs" % (time.monotonic() - t0))
        p.signal(signal.SIGTERM)
        rc = p.wait_exit(timeout=10 * ANSWER_S)
        check(rc == 0, "procd exited %s" % rc)


# A service that takes ~1 s to stop (TERM trapped), so a removal is in progress
# while the test acts.
SLOW_STOP = '''
[services.slow]
command = ["sh", "-c", "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.05; done", "MARKER-slow"]
stop_timeout_ms = 5000
'''
KEEP = '''
[services.keep]
command = ["sleep", "1000", "MARKER-keep"]
'''


def marked(p, tag):
    return [pid for pid in p.live_marked_pids() if tag.encode() in open("/proc/%d/cmdline" % pid, "rb").read()]


def test_reload_re_adding_a_service_whose_removed_copy_is_still_stopping():
    with Procd(SLOW_STOP + KEEP, level="info") as p:
        p.wait_state("slow", "running")
        old = status_json(p)["slow"]["pid"]
        p.rewrite(KEEP)
        r = cli(p, "reload")
        check(r.returncode == 0, r.stdout + r.stderr)
        p.wait_state("slow", "stopping")
        p.rewrite(SLOW_STOP + KEEP)  # back before the old copy stopped
        r = cli(p, "reload")
        check(r.returncode == 0, r.stdout + r.stderr)
        check("slow" in r.stdout, r.stdout)
        # the old copy ends, then the re-added one runs
        p.wait_for(lambda: p.log_text().count('"removed"') >= 1 or "removed" in p.log_text(), 10 * ANSWER_S,
                   "the old copy removed")
        p.wait_state("slow", "running", count=2, timeout=10 * ANSWER_S)
        st = status_json(p)
        check("slow" in st, "slow lost after the re-add: %s" % sorted(st))
        check(st["slow"]["state"] == "running" and st["slow"]["pid"] not in (0, old), st["slow"])
        check(len(marked(p, p.marker + "-slow")) == 1, "one copy runs")
        # a later reload calls it kept, and it is still there
        r = cli(p, "reload")
        check(r.returncode == 0, r.stdout + r.stderr)
        check(status_json(p)["slow"]["state"] == "running")


def test_start_or_restart_of_a_service_being_removed_is_refused():
    with Procd(SLOW_STOP + KEEP, level="info") as p:
        p.wait_state("slow", "running")
        p.rewrite(KEEP)
        r = cli(p, "reload")
        check(r.returncode == 0, r.stdout + r.stderr)
        p.wait_state("slow", "stopping")
        for verb in ("start", "restart"):
            r = cli(p, verb, "slow")
            check(r.returncode != 0, "%s of a removed service succeeded: %s" % (verb, r.stdout))
            check("removed" in r.stderr, r.stderr)
        # once the old copy has stopped it is gone, and nothing of it runs
        p.wait_for(lambda: "slow" not in status_json(p), 10 * ANSWER_S, "slow forgotten")
        p.wait_for(lambda: not marked(p, p.marker + "-slow"), 5 * ANSWER_S, "no process of slow")
        time.sleep(0.3)
        check(not marked(p, p.marker + "-slow"), "the removed service came back")
        r = cli(p, "start", "slow")
        check(r.returncode != 0 and "no service" in r.stderr, r.stderr)


def test_failing_health_checks_do_not_end_a_start_that_start_timeout_still_allows():
    # Ready (by its log line) after ~1.5 s; the health check passes only from
    # then on and fails every 100 ms before.
    with Procd('''
[services.web]
command = ["sh", "-c", "sleep 1.5; touch TMPDIR/up; echo ready now; exec sleep 1000", "MARKER"]
ready = { log = "ready now" }
start_timeout_ms = 10000
restart = "on-failure"
[services.web.health]
command = ["test", "-f", "TMPDIR/up"]
interval_ms = 100
retries = 2
''', level="info") as p:
        p.wait_state("web", "running", timeout=10 * ANSWER_S)
        check(p.states("web").count("starting") == 1, "restarted during its start: %s" % p.states("web"))
        check("stopping" not in p.states("web"), p.states("web"))
        time.sleep(0.5)  # checks now pass: it stays running
        check(p.states("web")[-1] == "running", p.states("web"))


def test_dependency_gets_its_stop_signal_when_a_dependent_used_the_graceful_window():
    with Procd('''
[services.db]
command = ["sh", "-c", "trap 'echo term > TMPDIR/db-term; exit 0' TERM; while :; do sleep 0.05; done", "MARKER-db"]
[services.web]
command = ["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done", "MARKER-web"]
depends_on = ["db"]
''', shutdown=(1000, 4000, 5000), level="info") as p:
        p.wait_state("web", "running")
        p.signal(signal.SIGTERM)
        rc = p.wait_exit(timeout=10 * ANSWER_S)
        check(os.path.exists(os.path.join(p.dir, "db-term")),
              "db never got its stop signal (SIGKILLed with web at the graceful deadline)\n" + p.tail())
        check(rc == 0, "procd exited %s" % rc)


def take_pid(pid):
    """Starts `sleep 30` in a new session with exactly PID (root + ns_last_pid), or None."""
    for _ in range(20):
        with open("/proc/sys/kernel/ns_last_pid", "w") as fh:
            fh.write(str(pid - 1))
        c = subprocess.Popen(["sleep", "30"], start_new_session=True)
        if c.pid == pid:
            return c
        c.kill()
        c.wait()
    return None


def test_stop_and_signal_in_the_drain_window_spare_a_reused_group_id():
    if os.geteuid() != 0 or not os.access("/proc/sys/kernel/ns_last_pid", os.W_OK):
        print("  (skipped: needs root and ns_last_pid)")
        return
    # The leader exits; its stdout is held by a process that left the group
    # (setsid), so the run drains for its stop timeout; the group id is then
    # free and an unrelated session takes it.
    cmd = "setsid python3 -c 'import time; time.sleep(4)' MARKER & sleep 0.3; exit 0"
    # Without cgroups (a cgroup would end the run with the holder in it).
    p = Procd('[services.g]\ncommand = ["sh", "-c", %s, "MARKER"]\nrestart = "never"\nstop_timeout_ms = 3000\n'
              % json.dumps(cmd), level="info")
    p.start(extra_env={"PROCD_CGROUP_ROOT": "/nonexistent/procd-cgroup-root"})
    try:
        pgid = p.wait_for(lambda: p.running_pid("g"), timeout=10, what="g running")
        p.wait_for(lambda: not os.path.exists("/proc/%d" % pgid), timeout=5, what="leader reaped")
        innocent = take_pid(pgid)
        if innocent is None:
            print("  (skipped: could not take pid %d)" % pgid)
            return
        try:
            for args in (("signal", "USR1", "g"), ("signal", "KILL", "g"), ("stop", "g")):
                cli(p, *args, timeout=10)
            time.sleep(0.3)
            check(innocent.poll() is None, "procd signalled an unrelated group that reused id %d" % pgid)
        finally:
            innocent.kill()
            innocent.wait()
    finally:
        p.cleanup()


def test_health_command_runs_with_the_services_cpu_affinity_and_no_manager_socket():
    if len(os.sched_getaffinity(0)) < 2 or 1 not in os.sched_getaffinity(0):
        print("  (skipped: needs CPUs 0 and 1)")
        return
    probe = "grep Cpus_allowed_list /proc/self/status > TMPDIR/hc.txt; env > TMPDIR/hc.env"
    p = Procd('''
[services.web]
command = ["sh", "-c", "exec sleep 1000", "MARKER"]
cpu_affinity = [1]
ready = "health"
[services.web.health]
command = ["sh", "-c", %s]
interval_ms = 100
''' % json.dumps(probe), level="info")
    # as under systemd: procd's own manager socket must reach no service process
    p.start(extra_env={"NOTIFY_SOCKET": "/run/nonexistent/manager.sock", "WATCHDOG_USEC": "5000000"})
    try:
        p.wait_state("web", "running", timeout=10 * ANSWER_S)
        with open(os.path.join(p.dir, "hc.txt")) as fh:
            allowed = fh.read().split(":", 1)[1].strip()
        check(allowed == "1", "the health command ran on CPUs %s, not the service's [1]" % allowed)
        with open(os.path.join(p.dir, "hc.env")) as fh:
            env = fh.read()
        check("NOTIFY_SOCKET=" not in env and "WATCHDOG_USEC=" not in env, env)
        check("PROCD_SERVICE=web" in env, env)
    finally:
        p.cleanup()


if __name__ == "__main__":
    run_tests([v for k, v in sorted(globals().items()) if k.startswith("test_")])
