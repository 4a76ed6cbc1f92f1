"""What procd leaves in the cgroup tree (SPEC Part 2 "cgroups"), against the
real kernel: services whose names differ only in punctuation (web.api,
web_api, web@api) each have their own cgroup, so stopping or adding one
never touches another; a cgroup an older procd named with '.' and '@' as
'_' is still cleaned as a leftover; and a `procd run` that fails to start
after creating its subtree removes it. Where cgroup v2 is not usable the
cgroup checks are skipped (said on stdout) and the rest still runs.
"""
import json
import os
import signal
import socket
import subprocess
import time

from procdtest import Procd, check, run_tests
from test_cgroup import SCRIPT, USABLE, alive, base_of, cli, remove_tree, service, status


def quoted_service(name):
    """A service whose name needs quoting in TOML (web.api): main only, no daemon."""
    return ('\n[services."%s"]\ncommand = ["python3", "-c", %s, "MARKER-%s", "none"]\nstop_timeout_ms = 3000\n'
            % (name, json.dumps(SCRIPT), name))


def stays_alive(pid, seconds):
    """True when pid is still alive after `seconds` (a bounded watch for an unwanted kill)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return False
        time.sleep(0.02)
    return alive(pid)


def test_names_differing_in_punctuation_have_their_own_cgroups():
    """web.api, web_api and web@api once shared one cgroup (svc-web_api):
    stopping web.api killed web_api, and adding web@api by reload killed
    web_api as "left by an earlier procd". Each now has its own."""
    p = Procd(quoted_service("web.api") + quoted_service("web_api"))
    base = None
    try:
        p.start()
        p.wait_state("web.api", "running")
        p.wait_state("web_api", "running")
        keep = p.running_pid("web_api")
        base = base_of(p)
        if not USABLE:
            print("SKIP the cgroup checks: cgroup v2 not usable here")
        r = cli(p, "stop", "web.api")
        check(r.returncode == 0, "stop: %s" % (r.stdout + r.stderr))
        p.wait_state("web.api", "stopped")
        check(stays_alive(keep, 0.5), "stopping web.api killed web_api (pid %d)\n%s" % (keep, p.tail()))
        check(status(p)["web_api"]["state"] == "running", "web_api still running")
        # web@0: the one instance of a replicated service "web" (a name may not hold @ itself).
        p.rewrite(quoted_service("web.api") + quoted_service("web_api") +
                  quoted_service("web").replace("stop_timeout_ms", "replicas = 1\nstop_timeout_ms"))
        r = cli(p, "reload")
        check(r.returncode == 0, "reload: %s" % (r.stdout + r.stderr))
        p.wait_state("web@0", "running")
        check(stays_alive(keep, 0.5), "adding web@0 killed web_api (pid %d)\n%s" % (keep, p.tail()))
        check('"code":4012' not in p.log_text().replace(" ", ""), "nothing was a leftover\n" + p.tail())
        st = status(p)
        check(st["web_api"]["state"] == "running" and st["web_api"]["pid"] == keep, "web_api untouched: %s" % st["web_api"])
        if USABLE:
            for n in ("web.api", "web_api", "web@0"):
                check(st[n]["cgroup"] == os.path.join(base, "svc-" + n), "%s's cgroup: %s" % (n, st[n]["cgroup"]))
        p.signal(signal.SIGTERM)
        check(p.wait_exit() == 0, "clean exit\n" + p.tail())
        if USABLE:
            check(not os.path.exists(base), "the subtree %s is removed on a clean exit" % base)
    finally:
        p.cleanup()
        remove_tree(base)


def test_an_old_encoding_cgroup_is_still_a_leftover():
    """A procd before the injective names kept web.api in svc-web_api; a
    process left there (procd SIGKILLed, then upgraded) is killed (4012)
    before web.api starts, and the directory goes on a clean exit."""
    if not USABLE:
        print("SKIP test_an_old_encoding_cgroup_is_still_a_leftover: cgroup v2 not usable here")
        return
    p = Procd(quoted_service("web.api"))
    base = None
    orphan = None
    try:
        p.start()
        p.wait_state("web.api", "running")
        base = base_of(p)
        first = p.running_pid("web.api")
        p.proc.kill()  # SIGKILL: no cleanup at all
        p.proc.wait(timeout=5)
        with open(os.path.join(base, "svc-web.api", "cgroup.kill"), "w") as fh:
            fh.write("1")
        deadline = time.monotonic() + 5
        while alive(first) and time.monotonic() < deadline:
            time.sleep(0.02)
        check(not alive(first), "the first run's service died")
        old = os.path.join(base, "svc-web_api")
        os.mkdir(old)
        orphan = subprocess.Popen(["python3", "-c", "import time; time.sleep(300)", p.marker + "-old"],
                                  stdin=subprocess.DEVNULL)
        with open(os.path.join(old, "cgroup.procs"), "w") as fh:
            fh.write(str(orphan.pid))
        os.unlink(p.log_path)
        p._stderr.close()
        p.start()
        p.wait_state("web.api", "running")
        p.wait_log('"code":4012')
        check(orphan.wait(timeout=5) == -signal.SIGKILL, "the old-encoding leftover was killed")
        check(any("svc-web_api" in e.get("msg", "") for e in p.events() if e.get("code") == 4012),
              "4012 names the old directory\n" + p.tail())
        p.signal(signal.SIGTERM)
        check(p.wait_exit() == 0, "clean exit\n" + p.tail())
        check(not os.path.exists(old), "the old-encoding directory %s is removed" % old)
    finally:
        if orphan and orphan.poll() is None:
            orphan.kill()
            orphan.wait(timeout=5)
        p.cleanup()
        remove_tree(base)


def test_a_failed_startup_leaves_no_cgroup_subtree():
    """procd sets up its cgroups, then cannot listen (the HTTP address is
    taken; the control socket path is a regular file): it exits 2 and
    removes the subtree it made."""
    for label in ("http address in use", "control socket path is a file"):
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        http = label.startswith("http")
        p = Procd(service("s", "none"), top=('[control]\nhttp = "127.0.0.1:%d"\n' % held.getsockname()[1]) if http else "")
        base = None
        try:
            if not http:
                with open(os.path.join(p.dir, ".procd.sock"), "w") as fh:
                    fh.write("not a socket\n")
            p.start()
            check(p.wait_exit() == 2, "%s: exit code 2\n%s" % (label, p.tail()))
            text = p.log_text().replace(" ", "")
            check('"code":%d' % (5007 if http else 6009) in text, "%s: the failure is logged\n%s" % (label, p.tail()))
            if not USABLE:
                print("SKIP the cgroup check (%s): cgroup v2 not usable here" % label)
                continue
            base = base_of(p)
            check(base and os.path.basename(base).startswith("procd-it-"), "%s: cgroups set up first\n%s" % (label, p.tail()))
            check(not os.path.exists(base), "%s: the subtree %s outlived the failed start" % (label, base))
        finally:
            held.close()
            p.cleanup()
            remove_tree(base)



if __name__ == "__main__":
    run_tests([
        test_names_differing_in_punctuation_have_their_own_cgroups,
        test_an_old_encoding_cgroup_is_still_a_leftover,
        test_a_failed_startup_leaves_no_cgroup_subtree,
    ])
