"""procd run: restart policies, spawn failures, shutdown ladder, subreaper,
PID lock, critical services, signal forwarding — with real processes."""
import os
import signal
import time

from procdtest import Procd, check, run_tests, zombies_of


def spawn_times(p, service):
    """Wall-clock seconds of each 'spawned' record of a service."""
    out = []
    for e in p.events():
        if e.get("service") == service and e.get("msg") == "spawned":
            h, m, s = e["ts"][11:-1].split(":")
            out.append(int(h) * 3600 + int(m) * 60 + float(s))
    return out


def test_never_policy_success_and_failure():
    with Procd('''
[services.ok]
command = ["sh", "-c", "exit 0", "MARKER"]
[services.bad]
command = ["sh", "-c", "exit 3", "MARKER"]
''') as p:
        p.wait_state("ok", "stopped")
        p.wait_state("bad", "failed")
        time.sleep(0.3)
        check(p.states("ok").count("starting") == 1, p.states("ok"))
        check(p.states("bad").count("starting") == 1, p.states("bad"))


def test_always_restarts_after_delay():
    with Procd('''
[services.loop]
command = ["sh", "-c", "exit 0", "MARKER"]
restart = { policy = "always", delay_ms = 200 }
''') as p:
        p.wait_for(lambda: len(spawn_times(p, "loop")) >= 4, 5, "4 spawns")
        t = spawn_times(p, "loop")
        gaps = [b - a for a, b in zip(t, t[1:])]
        check(all(0.18 <= g < 1.0 for g in gaps), "gaps %s" % gaps)


def test_always_shorthand_restarts():
    with Procd('''
[services.loop]
command = ["sh", "-c", "exit 1", "MARKER"]
restart = "always"
''') as p:
        p.wait_for(lambda: len(spawn_times(p, "loop")) >= 3, 5, "3 spawns")


def test_on_failure_policy():
    with Procd('''
[services.good]
command = ["sh", "-c", "exit 0", "MARKER"]
restart = { policy = "on-failure", delay_ms = 50 }
[services.code]
command = ["sh", "-c", "exit 4", "MARKER"]
restart = { policy = "on-failure", delay_ms = 50 }
[services.killed]
command = ["sh", "-c", "kill -9 $$$$", "MARKER"]  # $$ is a literal $ in the config (interpolation)
restart = { policy = "on-failure", delay_ms = 50 }
[services.allowed]
command = ["sh", "-c", "exit 4", "MARKER"]
success_exit_codes = [0, 4]
restart = { policy = "on-failure", delay_ms = 50 }
''') as p:
        p.wait_for(lambda: len(spawn_times(p, "code")) >= 3, 5, "code restarts")
        p.wait_for(lambda: len(spawn_times(p, "killed")) >= 3, 5, "killed restarts")
        p.wait_state("good", "stopped")
        p.wait_state("allowed", "stopped")
        time.sleep(0.3)
        check(len(spawn_times(p, "good")) == 1)
        check(len(spawn_times(p, "allowed")) == 1)


def test_exponential_backoff_then_failed():
    with Procd('''
[services.crash]
command = ["sh", "-c", "exit 1", "MARKER"]
[services.crash.restart]
policy = "exponential-backoff"
initial_delay_ms = 100
max_delay_ms = 5000
max_attempts = 4
''') as p:
        p.wait_state("crash", "failed", timeout=10)
        t = spawn_times(p, "crash")
        check(len(t) == 4, "spawns %s" % t)
        gaps = [b - a for a, b in zip(t, t[1:])]
        # 100, 200, 400 ms (+ spawn/exit time): each roughly double the last
        for want, got in zip([0.1, 0.2, 0.4], gaps):
            check(want * 0.9 <= got <= want + 0.5, "gaps %s" % gaps)
        check('"code":4007' in p.log_text().replace(" ", ""), "gave-up code logged")


def test_start_limit_fails_service():
    with Procd('''
[services.burst]
command = ["sh", "-c", "exit 1", "MARKER"]
restart = { policy = "always", delay_ms = 10, start_limit = { burst = 3, interval_ms = 10000 } }
''') as p:
        p.wait_state("burst", "failed")
        check(len(spawn_times(p, "burst")) == 3, spawn_times(p, "burst"))


def test_spawn_failures_are_service_failures():
    with Procd('''
[services.missing]
command = ["/nonexistent/procd-test-binary", "MARKER"]
[services.baddir]
command = ["sh", "-c", "true", "MARKER"]
working_dir = "/nonexistent/dir"
[services.alive]
command = ["sleep", "1000"]
''') as p:
        p.wait_state("missing", "failed")
        p.wait_state("baddir", "failed")
        p.wait_state("alive", "running")
        text = p.log_text().replace(" ", "")
        check('"code":4002' in text, "exec failure code")
        check('"code":4003' in text, "chdir failure code")
        check(p.proc.poll() is None, "procd still running")


def test_min_uptime_readiness():
    with Procd('''
[services.slow]
command = ["sleep", "1000"]
ready = { min_uptime_ms = 600 }
''') as p:
        p.wait_state("slow", "starting")
        t0 = time.monotonic()
        p.wait_state("slow", "running", timeout=5)
        check(time.monotonic() - t0 >= 0.45, "running too early")


def test_shutdown_kills_grandchildren_and_removes_pid_file():
    with Procd('''
[services.tree]
command = ["bash", "-c", "(exec -a MARKER-gc1 sleep 1000) & (exec -a MARKER-gc2 sleep 1000) & wait", "MARKER"]
''') as p:
        p.wait_state("tree", "running")
        p.wait_for(lambda: len(p.live_marked_pids()) >= 3, 5, "tree of 3 processes")
        pid_file = os.path.join(p.dir, ".procd.pid")
        check(open(pid_file).read().strip() == str(p.proc.pid), "pid file holds procd's pid")
        p.signal(signal.SIGTERM)
        check(p.wait_exit(10) == 0, "clean exit code 0")
        check(p.live_marked_pids() == [], "no survivor: %s" % p.live_marked_pids())
        check(not os.path.exists(pid_file), "pid file removed")
        check("signal SIGTERM" in p.log_text(), "reason logged")


def test_sigterm_ignoring_child_killed_at_stop_timeout():
    with Procd('''
[services.stubborn]
command = ["bash", "-c", "trap '' TERM; exec -a MARKER-ign sleep 1000", "MARKER"]
stop_timeout_ms = 500
''') as p:
        p.wait_state("stubborn", "running")
        # SIGTERM is ignored only once bash has set the trap and exec'd (the
        # ASan tier of cold rehearsal 12 stopped it in 0.02 s: bash was still bash).
        pid = p.running_pid("stubborn")
        p.wait_for(lambda: open("/proc/%d/comm" % pid).read().strip() == "sleep", 5, "the trap set and sleep exec'd")
        t0 = time.monotonic()
        p.signal(signal.SIGTERM)
        check(p.wait_exit(10) == 0)
        took = time.monotonic() - t0
        check(0.4 <= took <= 3.0, "stop took %.2fs" % took)
        check('"code":8002' in p.log_text().replace(" ", ""), "stop timeout logged")
        check(p.live_marked_pids() == [])


def test_graceful_ladder_kills_at_graceful():
    # stop_timeout longer than graceful: the ladder's SIGKILL at graceful wins.
    with Procd('''
[services.stubborn]
command = ["bash", "-c", "trap '' TERM; exec -a MARKER-ign sleep 1000", "MARKER"]
stop_timeout_ms = 20000
''', shutdown=(600, 2000, 3000)) as p:
        p.wait_state("stubborn", "running")
        # Running means spawned; SIGTERM is ignored only once bash has set the trap and exec'd.
        pid = p.running_pid("stubborn")
        p.wait_for(lambda: open("/proc/%d/comm" % pid).read().strip() == "sleep", 5, "the trap set and sleep exec'd")
        t0 = time.monotonic()
        p.signal(signal.SIGINT)
        check(p.wait_exit(10) == 0)
        took = time.monotonic() - t0
        check(0.5 <= took <= 2.5, "ladder took %.2fs" % took)
        check('"code":3002' in p.log_text().replace(" ", ""), "forced shutdown logged")


def test_subreaper_reaps_orphans():
    with Procd('''
[services.orphaner]
command = ["bash", "-c", "for i in $(seq 30); do (sleep 0.2 &) ; done; exec -a MARKER-main sleep 1000", "MARKER"]
''') as p:
        p.wait_state("orphaner", "running")
        time.sleep(1.2)
        check(zombies_of(p.proc.pid) == [], "zombies: %s" % zombies_of(p.proc.pid))
        check("reaped orphan" in p.log_text(), "orphans were reparented to procd and reaped")


def test_critical_service_exit_code():
    with Procd('''
[services.other]
command = ["bash", "-c", "exec -a MARKER-other sleep 1000", "MARKER"]
[services.main]
command = ["sh", "-c", "sleep 0.3; exit 7", "MARKER"]
critical = true
''') as p:
        p._allow_exit = True
        check(p.wait_exit(10) == 7, "exit code %s" % p.proc.returncode)
        check(p.live_marked_pids() == [], "others stopped")
    with Procd('''
[services.main]
command = ["sh", "-c", "kill -KILL $$$$", "MARKER"]  # the shell sees $$
critical = true
''') as p:
        p._allow_exit = True
        check(p.wait_exit(10) == 137, "exit code %s" % p.proc.returncode)


def test_signal_forwarding():
    with Procd('''
[signals]
forward = ["SIGUSR2"]
[services.listener]
command = ["bash", "-c", "trap 'echo got >> TMPDIR/usr2' USR2; while :; do sleep 0.05; done", "MARKER"]
''') as p:
        p.wait_state("listener", "running")
        time.sleep(0.2)
        p.signal(signal.SIGUSR2)
        p.wait_for(lambda: os.path.exists(os.path.join(p.dir, "usr2")), 5, "forwarded USR2")


def test_environment_and_working_dir():
    p = Procd('''
[services.env]
command = ["sh", "-c", "echo \\"$PROCD_SERVICE $GREETING $FROM_FILE $(pwd)\\" > TMPDIR/env.out", "MARKER"]
working_dir = "TMPDIR/wd"
env = { GREETING = "hello" }
env_file = "TMPDIR/dotenv"
''')
    try:
        os.mkdir(os.path.join(p.dir, "wd"))
        with open(os.path.join(p.dir, "dotenv"), "w") as fh:
            fh.write("# comment\nexport FROM_FILE='filevalue'\n")
        p.start()
        p.wait_state("env", "stopped")
        out = open(os.path.join(p.dir, "env.out")).read().split()
        check(out == ["env", "hello", "filevalue", os.path.join(p.dir, "wd")], out)
    finally:
        p.cleanup()


def test_second_instance_refused_and_stale_lock_taken_over():
    with Procd('''
[services.s]
command = ["sleep", "1000"]
''') as p:
        p.wait_state("s", "running")
        import subprocess
        from procdtest import PROCD
        r = subprocess.run([PROCD, "-c", p.config, "run"], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        check(r.returncode == 2, "second instance exit %d" % r.returncode)
        err = r.stderr.decode()
        check("error[9001]" in err and str(p.proc.pid) in err, err)
    p = Procd('''
[services.s]
command = ["sleep", "1000"]
''')
    try:
        with open(os.path.join(p.dir, ".procd.pid"), "w") as fh:
            fh.write("999999\n")
        p.start()
        p.wait_state("s", "running")
        check(open(os.path.join(p.dir, ".procd.pid")).read().strip() == str(p.proc.pid))
    finally:
        p.cleanup()


if __name__ == "__main__":
    run_tests([
        test_never_policy_success_and_failure,
        test_always_restarts_after_delay,
        test_always_shorthand_restarts,
        test_on_failure_policy,
        test_exponential_backoff_then_failed,
        test_start_limit_fails_service,
        test_spawn_failures_are_service_failures,
        test_min_uptime_readiness,
        test_shutdown_kills_grandchildren_and_removes_pid_file,
        test_sigterm_ignoring_child_killed_at_stop_timeout,
        test_graceful_ladder_kills_at_graceful,
        test_subreaper_reaps_orphans,
        test_critical_service_exit_code,
        test_signal_forwarding,
        test_environment_and_working_dir,
        test_second_instance_refused_and_stale_lock_taken_over,
    ])
