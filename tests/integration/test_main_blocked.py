"""A main service (`main = true`) that a dependency failed for good keeps
from running ends procd (issue 28): blocked before it started, or stopped
for the dependency while it ran, procd logs why (code 4021), stops the rest
along the ladder and exits 4, instead of running on with nothing useful."""
import os

from procdtest import Procd, check, run_tests
from test_main_service import pid_alive

MAIN_DEPENDENCY_FAILED = 4


def blocked_main(db_script, main_ran):
    with Procd('''
[services.helper]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
[services.db]
command = ["sh", "-c", "%s", "MARKER"]
restart = "never"
ready = { min_uptime_ms = 300 }
[services.app]
command = ["sh", "-c", "sleep 1000 & wait", "MARKER"]
depends_on = { db = "ready" }
main = true
''' % db_script) as p:
        helper = p.wait_for(lambda: p.running_pid("helper"), 5, "helper running")
        code = p.wait_exit(15)
        check(code == MAIN_DEPENDENCY_FAILED, "procd exited %r, want %d: %s" % (code, MAIN_DEPENDENCY_FAILED, p.tail()))
        check(not pid_alive(helper), "helper %d still alive" % helper)
        errs = [e for e in p.events() if e.get("code") == 4021 and e.get("service") == "app"]
        check(errs and "db failed" in errs[0]["msg"] and "code 4" in errs[0]["msg"], p.tail())
        check((p.running_pid("app") is not None) == main_ran, "the main ran: %s" % main_ran)


def test_main_blocked_by_a_failed_dependency_ends_procd():
    blocked_main("exit 3", main_ran=False)


def test_main_stopped_for_a_failed_dependency_ends_procd():
    blocked_main("sleep 1; exit 3", main_ran=True)


if __name__ == "__main__":
    run_tests([test_main_blocked_by_a_failed_dependency_ends_procd, test_main_stopped_for_a_failed_dependency_ends_procd])
