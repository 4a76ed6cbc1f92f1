"""Bytes queued for control-socket clients are bounded in total, not only
per client (README "Limits"): followers of `procd logs -f` that never read,
under a flood, are dropped (the one with the most queued first) once the
bytes queued for all control clients together pass the bound
(PROCD_CONTROL_MAX_QUEUED_TOTAL lowers it for the test), before any reaches
its own 8 MiB bound; procd stays light and keeps answering."""
import os
import socket
import time

from procdtest import ANSWER_S, check, run_tests
from test_http import cli, flood_lines, flood_services, start, vm_rss

TOTAL_BOUND = 6 << 20   # below one client's own bound (8 MiB): only the total can drop them
MEASURES_RSS = ANSWER_S <= 1.0


def test_queued_bytes_of_all_control_clients_are_bounded():
    n = 30000
    p, _ = start(flood_services(n), env={"PROCD_CONTROL_MAX_QUEUED_TOTAL": str(TOTAL_BOUND)})
    with p:
        p.wait_state("flood", "running")
        sock = os.path.join(p.dir, ".procd.sock")
        p.wait_for(lambda: os.path.exists(sock), 5, "control socket")
        stalled = []
        try:
            for _ in range(4):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(sock)
                s.sendall(b'{"cmd":"logs","follow":true,"lines":0,"names":["flood"]}\n')  # and never read
                s.settimeout(10)
                check(len(s.recv(1, socket.MSG_PEEK)) == 1, "no stream head")
                stalled.append(s)
            pid = p.proc.pid
            base = vm_rss(pid)
            open(os.path.join(p.dir, "go"), "w").close()
            deadline = time.monotonic() + 60 * ANSWER_S
            peak = base

            def total_drops():
                return [e for e in p.events() if e.get("code") == 5006 and "all control clients" in e.get("msg", "")]
            while len(total_drops()) < 3 and not flood_lines(p)[-1:] == [b"FLOOD-DONE %d" % n]:
                check(time.monotonic() < deadline, "no drop at the total bound in time\n" + p.tail())
                peak = max(peak, vm_rss(pid))
                time.sleep(0.05)
            drops = total_drops()
            check(len(drops) >= 3, "drops at the total bound: %d\n%s" % (len(drops), p.tail()))
            check(not MEASURES_RSS or peak - base < 3 * TOTAL_BOUND, "procd RSS %d -> %d MB" % (base >> 20, peak >> 20))
            r = cli(p, "status")
            check(r.returncode == 0, r.stderr)
            p.wait_for(lambda: flood_lines(p)[-1:] == [b"FLOOD-DONE %d" % n], 60 * ANSWER_S, "the flood's file complete")
            check(len(flood_lines(p)) == n + 1, "lines in the flood's file: %d" % len(flood_lines(p)))
            print("  %d drops at the total bound; RSS %d -> peak %d MB; first: %s"
                  % (len(drops), base >> 20, peak >> 20, drops[0]["msg"]))
        finally:
            for s in stalled:
                s.close()


if __name__ == "__main__":
    run_tests([test_queued_bytes_of_all_control_clients_are_bounded])
