"""procd's memory with many services (issue 25): its VmRSS once N=1000
`sleep` services run (procd's own log at info, to a file, as the shared
benchmark runs it) stays under a bound. Not a timing assertion: a
regression in what each service holds, or in what the start-up burst
leaves behind, moves this figure by hundreds of KiB. Skipped under a
sanitizer (PROCD_TEST_SLOWDOWN > 1), whose shadow memory is in the RSS."""
import os
import random
import sys
import time

from procdtest import ANSWER_S, Procd, check, run_tests
from test_http import vm_rss

N = 1000
# Bytes. Before issue 25's last round: 11184 KiB here (release build; 11.3
# MiB in the shared harness); after it 9.6–9.9 MiB. The target is 10 MiB;
# the bound leaves room for the file pages' noise (±200 KiB, page cache and
# fault-around) and still fails on the old code. bench/README.md "Daemon
# layer 2" itemises what is left.
# Issue 28 grew each ServiceConfig by 184 B (hook argv vectors, replica
# fields, depends_on as written): 184 KiB more for 1000 services, and cold
# rehearsal 12 measured 10760 KiB. The bound is 11 MiB.
RSS_BOUND = 11264 * 1024
SETTLE_S = 2.0  # as the harness: RSS read 2 s after the last service runs


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as fh:
            return fh.read().split()
    except OSError:
        return []


def test_rss_with_1000_sleep_services():
    if float(os.environ.get("PROCD_TEST_SLOWDOWN", "1")) > 1:
        print("  skipped: sanitizer build")
        return
    # A numeric marker in sleep's argument ("1000000.<marker><i>" is a valid
    # duration) finds every child if one is left behind.
    marker = "%08d" % random.randrange(10 ** 8)
    services = "".join('[services.s%d]\ncommand = ["sleep", "1000000.%s%04d"]\n\n' % (i, marker, i) for i in range(N))
    p = Procd(services, level="info", json_log=False, shutdown=(10000, 15000, 20000))
    p.marker = "1000000." + marker
    with p:
        deadline = time.monotonic() + 60 * ANSWER_S
        while len(children(p.proc.pid)) < N:
            check(p.proc.poll() is None, "procd exited\n" + p.tail())
            check(time.monotonic() < deadline, "%d of %d services running" % (len(children(p.proc.pid)), N))
            time.sleep(0.05)
        time.sleep(SETTLE_S)
        rss = vm_rss(p.proc.pid)
        print("  procd VmRSS with %d services: %d KiB (bound %d KiB)" % (N, rss >> 10, RSS_BOUND >> 10))
        check(rss < RSS_BOUND, "procd VmRSS %d KiB with %d services, bound %d KiB" % (rss >> 10, N, RSS_BOUND >> 10))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    run_tests([test_rss_with_1000_sleep_services])
