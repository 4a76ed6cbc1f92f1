"""issue 28, a reload arriving during a rolling restart of a replicated service.

- A reload that changes the service (here its command) mid-roll: the running
  roll stops (error 4016, "a reload changed web during the roll") and the
  reload's own roll takes over; it adopts the instance the first roll was
  restarting, so status sampled every 20 ms never shows more than
  max_unavailable (1) instance not running, and at the end every instance
  runs the new command.
- A reload that removes the service mid-roll: the roll stops (4016, "removed
  by a reload") and every instance stops and is forgotten; the CLI returns
  at once, with no process of web left."""
import os
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests
from test_rolling import N, WEB, all_running, cli, running, status

OTHER = '''
[services.other]
command = ["sleep", "1000"]
'''


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def start_roll(p, before):
    """`procd restart web --rolling` in the background, sampled every 20 ms
    until web@0 was restarted (its new run not yet ready): returns (proc, samples)."""
    proc = subprocess.Popen([PROCD, "-c", p.config, "restart", "web", "--rolling"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    samples = []
    end = time.monotonic() + 15
    while time.monotonic() < end:
        r = running(status(p))
        samples.append((time.monotonic(), len(r), r))
        if r.get("web@0") is None or r["web@0"] != before["web@0"]:
            return proc, samples
        time.sleep(0.02)
    raise AssertionError("web@0 was never restarted by the roll: %s" % samples[-1:])


def test_reload_changing_the_service_mid_roll_takes_over():
    with Procd(WEB + OTHER) as p:
        open(os.path.join(p.dir, "ok"), "w").close()
        before = all_running(p)
        proc, samples = start_roll(p, before)
        p.rewrite(WEB.replace("sleep 1000", "sleep 1001") + OTHER)
        r = subprocess.run([PROCD, "-c", p.config, "reload"], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0, r.stdout + r.stderr)
        end = time.monotonic() + 30
        new = {}
        while time.monotonic() < end:
            st = running(status(p))
            samples.append((time.monotonic(), len(st), st))
            new = {k: v for k, v in st.items() if "sleep 1001" in cmdline(v)}
            if len(new) == N:
                break
            time.sleep(0.02)
        check(len(new) == N, "every instance runs the new command: %s" % samples[-1:])
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 1 and "error[4016]" in err and "reload" in err, out + err)
        low = min(c for _, c, _ in samples)
        check(low == N - 1, "max_unavailable = 1 through the reload: %s" % [c for _, c, _ in samples])
        p.wait_log("rollingrestartdone", 10)
        check(all(not alive(pid) for pid in before.values()), "old runs ended: %s" % before)
        print(err.strip(), "; fewest running: %d" % low, flush=True)


def test_reload_removing_the_service_mid_roll_stops_it():
    with Procd(WEB + OTHER) as p:
        open(os.path.join(p.dir, "ok"), "w").close()
        before = all_running(p)
        proc, _ = start_roll(p, before)
        seen = dict(before, **running(status(p)))
        p.rewrite(OTHER)
        r = subprocess.run([PROCD, "-c", p.config, "reload"], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0, r.stdout + r.stderr)
        out, err = proc.communicate(timeout=15)
        check(proc.returncode == 1 and "error[4016]" in err and "removed by a reload" in err, out + err)
        p.wait_for(lambda: not any(k.startswith("web@") for k in status(p)), 15, "web's instances forgotten")
        for k, pid in seen.items():
            p.wait_for(lambda pid=pid: not alive(pid), 10, "%s (pid %d) ended" % (k, pid))
        check("other" in running_any(p), "other keeps running")
        print(err.strip(), flush=True)


def running_any(p):
    return {k for k, v in status(p).items() if v["state"] == "running"}


PINGER = r'''
import os, socket, sys, time
def send(msg):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"): addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(msg.encode(), addr); s.close()
time.sleep(float(sys.argv[1]))
send("READY=1")
while True:
    time.sleep(0.1); send("WATCHDOG=1")
'''


def dog(ready_after, extra):
    return '''
[services.dog]
command = ["python3", "TMPDIR/pinger.py", "%s"]
replicas = 2
ready = "notify"
start_timeout_ms = 5000
restart = { policy = "always", delay_ms = 100 }
%s''' % (ready_after, extra)


def test_reload_dropping_the_watchdog_spares_the_old_runs():
    """A reload that removes watchdog_ms rolls the instances; dog@1's old run,
    still pinging WATCHDOG=1 every 100 ms while dog@0's new run takes 2 s to
    be ready, is not stopped for a watchdog its config no longer has (each
    ping moved the deadline by the new 0 ms: "no WATCHDOG=1 for 0 ms")."""
    p = Procd(dog(0, "watchdog_ms = 400"))
    with open(os.path.join(p.dir, "pinger.py"), "w") as fh:
        fh.write(PINGER)
    with p:
        def both():
            try:
                r = {k: v["pid"] for k, v in status(p).items() if k.startswith("dog@") and v["state"] == "running"}
            except OSError:
                return None
            return r if len(r) == 2 else None
        first = p.wait_for(both, 10, "dog@0, dog@1 running")
        p.rewrite(dog(2, ""))
        check(cli(p, "reload").returncode == 0)
        end = time.monotonic() + 1.5  # dog@0's new run is not ready yet: dog@1's old run serves
        while time.monotonic() < end:
            v = status(p).get("dog@1", {})
            check(v.get("pid") == first["dog@1"] and v.get("state") == "running", "dog@1 kept: %s\n%s" % (v, p.tail()))
            time.sleep(0.05)
        check('"code":8003' not in p.log_text().replace(" ", ""), "a watchdog fired\n" + p.tail())
        print("dog@1 pid %d kept through the roll's first step" % first["dog@1"], flush=True)


if __name__ == "__main__":
    run_tests([test_reload_changing_the_service_mid_roll_takes_over, test_reload_removing_the_service_mid_roll_stops_it,
               test_reload_dropping_the_watchdog_spares_the_old_runs])
