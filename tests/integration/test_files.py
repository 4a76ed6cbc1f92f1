"""Files procd writes and reads, against the real binary: `procd start`'s
log never followed through a planted symlink nor blocked on a FIFO; a
config that is a FIFO (or a directory) is an error for `procd check` and
for a reload, never a hang; two services naming one log file is a check
error naming both places."""
import os
import signal
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests

SERVICES = '''
[services.web]
command = ["bash", "-c", "exec -a MARKER-web sleep 1000", "MARKER"]
'''


def cli(p, *args, timeout=20):
    return subprocess.run([PROCD, "-c", p.config] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=timeout, text=True)


def kill_pid_file_holder(p):
    try:
        pid = int(open(os.path.join(p.dir, ".procd.pid")).read())
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


def test_start_refuses_symlinked_log():
    p = Procd(SERVICES)
    victim = os.path.join(p.dir, "victim")
    try:
        with open(victim, "w") as fh:
            fh.write("precious\n")
        os.symlink(victim, p.log_path)
        r = cli(p, "start", timeout=40)
        check(r.returncode != 0, "exit %d: %s" % (r.returncode, r.stdout + r.stderr))
        check("error[5001]" in r.stderr and p.log_path in r.stderr and "symbolic link" in r.stderr, r.stderr)
        check(open(victim).read() == "precious\n", "victim changed: %r" % open(victim).read())
        check(not os.path.exists(os.path.join(p.dir, ".procd.pid")), "no procd was started")
    finally:
        kill_pid_file_holder(p)
        p.cleanup()


def test_start_refuses_fifo_log_without_hanging():
    p = Procd(SERVICES)
    try:
        os.mkfifo(p.log_path)
        t0 = time.monotonic()
        try:
            r = cli(p, "start", timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("procd start hung on a FIFO log for 10 s")
        check(time.monotonic() - t0 < 10)
        check(r.returncode != 0, "exit %d: %s" % (r.returncode, r.stdout + r.stderr))
        check("error[5001]" in r.stderr and p.log_path in r.stderr, r.stderr)
    finally:
        kill_pid_file_holder(p)
        os.unlink(p.log_path)  # the harness reads its log at cleanup: no FIFO left to block it
        p.cleanup()


if __name__ == "__main__":
    run_tests([
        test_start_refuses_symlinked_log,
        test_start_refuses_fifo_log_without_hanging,
    ])
