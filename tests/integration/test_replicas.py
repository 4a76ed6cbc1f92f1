"""issue 28, replicas: instance names, PROCD_INSTANCE / PROCD_PORT in env and
in the command, per-instance verbs (NAME@i one, NAME all), scale up and down
by reload keeping the lower instances' pids, and `procd check` refusing a log
file the instances would share."""
import json
import os
import subprocess

from procdtest import PROCD, Procd, check, run_tests

# Each instance writes its env and argv into TMPDIR/out.N, then sleeps.
WEB = '''
[services.web]
command = ["bash", "-c", "echo $PROCD_INSTANCE $PROCD_PORT $1 > TMPDIR/out.$PROCD_INSTANCE; exec -a MARKER-web sleep 1000",
           "MARKER", "arg-${PROCD_INSTANCE}-${PROCD_PORT}"]
replicas = %d
port = 9100
'''


def cli(p, *args, timeout=30):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def status(p, must=True):
    r = cli(p, "status", "--json")
    if not must and r.returncode != 0:
        return {}  # not listening yet
    check(r.returncode == 0, r.stdout + r.stderr)
    return {s["name"]: s for s in json.loads(r.stdout)["services"]}


def running_pids(p, n):
    """Waits until web@0..n-1 all run (and nothing else of web is left); their pids."""
    def ready():
        st = status(p, must=False)
        names = sorted(k for k in st if k.startswith("web"))
        want = ["web@%d" % i for i in range(n)]
        if sorted(names) != sorted(want) or any(st[k]["state"] != "running" or not st[k]["pid"] for k in want):
            return None
        return {k: st[k]["pid"] for k in want}
    return p.wait_for(ready, 15, "web@0..%d running" % (n - 1))


def test_names_env_and_ports():
    with Procd(WEB % 3) as p:
        pids = running_pids(p, 3)
        check(sorted(pids) == ["web@0", "web@1", "web@2"], str(pids))
        for i in range(3):
            path = os.path.join(p.dir, "out.%d" % i)
            p.wait_for(lambda: os.path.exists(path) and open(path).read().strip(), 5, path)
            check(open(path).read().split() == [str(i), str(9100 + i), "arg-%d-%d" % (i, 9100 + i)],
                  open(path).read())
        check(len(set(pids.values())) == 3, str(pids))
        cg = {s["name"]: s.get("cgroup", "") for s in status(p).values()}
        check(len(set(cg.values())) == len(cg) or set(cg.values()) == {""}, str(cg))


def test_per_instance_verbs():
    with Procd(WEB % 3) as p:
        pids = running_pids(p, 3)
        r = cli(p, "restart", "web@1")
        check(r.returncode == 0, r.stdout + r.stderr)
        after = running_pids(p, 3)
        check(after["web@0"] == pids["web@0"] and after["web@2"] == pids["web@2"], "%s %s" % (pids, after))
        check(after["web@1"] != pids["web@1"], "%s %s" % (pids, after))
        r = cli(p, "status", "web")
        check(r.returncode == 0 and all(("web@%d" % i) in r.stdout for i in range(3)), r.stdout + r.stderr)
        r = cli(p, "stop", "web")
        check(r.returncode == 0, r.stdout + r.stderr)
        st = status(p)
        check(all(st["web@%d" % i]["state"] == "stopped" for i in range(3)), str(st))
        r = cli(p, "start", "web@2")
        check(r.returncode == 0, r.stdout + r.stderr)
        st = status(p)
        check(st["web@2"]["state"] == "running" and st["web@0"]["state"] == "stopped", str(st))
        r = cli(p, "stop", "web@7")
        check(r.returncode != 0 and "web@7" in r.stderr, r.stdout + r.stderr)


def test_scale_up_and_down_by_reload_keeps_lower_pids():
    with Procd(WEB % 2) as p:
        two = running_pids(p, 2)
        p.rewrite(WEB % 4)
        r = cli(p, "reload")
        check(r.returncode == 0, r.stdout + r.stderr)
        four = running_pids(p, 4)
        check(four["web@0"] == two["web@0"] and four["web@1"] == two["web@1"], "%s %s" % (two, four))
        p.rewrite(WEB % 1)
        r = cli(p, "reload")
        check(r.returncode == 0, r.stdout + r.stderr)
        one = running_pids(p, 1)
        check(one["web@0"] == two["web@0"], "%s %s" % (two, one))
        stops = [e["service"] for e in p.events() if e.get("msg") == "state stopping" and e.get("service", "").startswith("web@")]
        check(stops[:3] == ["web@3", "web@2", "web@1"], str(stops))


def test_check_refuses_a_shared_log_file():
    p = Procd(WEB % 2 + 'log = { file = "TMPDIR/web.log" }\n')
    try:
        r = cli(p, "check")
        check(r.returncode != 0 and "1049" in r.stdout + r.stderr and "${PROCD_INSTANCE}" in r.stdout + r.stderr,
              r.stdout + r.stderr)
        p.rewrite(WEB % 2 + 'log = { file = "TMPDIR/web.${PROCD_INSTANCE}.log" }\n')
        r = cli(p, "check")
        check(r.returncode == 0, r.stdout + r.stderr)
    finally:
        p.cleanup()


def test_example_replicated_web_is_accepted():
    root = os.environ.get("PROCD_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
    r = subprocess.run([PROCD, "-c", os.path.join(root, "examples", "replicated-web.toml"), "check"],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, r.stdout + r.stderr)


if __name__ == "__main__":
    run_tests([test_names_env_and_ports, test_per_instance_verbs, test_scale_up_and_down_by_reload_keeps_lower_pids,
               test_check_refuses_a_shared_log_file, test_example_replicated_web_is_accepted])
