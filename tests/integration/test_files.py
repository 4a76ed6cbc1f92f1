"""Files procd writes and reads, against the real binary: `procd start`'s
log never followed through a planted symlink nor blocked on a FIFO; a
config that is a FIFO (or a directory) is an error for `procd check` and
for a reload, never a hang; two services naming one log file is a check
error naming both places (1044)."""
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


def release_fifo(path):
    """A reader blocked on the FIFO (the bug) gets EOF; no-op otherwise."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def test_check_on_a_fifo_config_is_an_error_not_a_hang():
    p = Procd(SERVICES)
    try:
        os.unlink(p.config)
        os.mkfifo(p.config)
        try:
            r = cli(p, "check", timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("procd check hung on a FIFO config for 10 s")
        check(r.returncode == 2, "exit %d: %s" % (r.returncode, r.stdout + r.stderr))
        check("error[1013]" in r.stderr and "a FIFO" in r.stderr, r.stderr)
        os.unlink(p.config)
        os.mkdir(p.config)
        r = cli(p, "check", timeout=10)
        check(r.returncode == 2 and "error[1013]" in r.stderr and "a directory" in r.stderr, r.stderr)
        os.rmdir(p.config)
    finally:
        release_fifo(p.config)
        p.cleanup()


def test_reload_of_a_fifo_config_is_refused_and_procd_answers():
    with Procd(SERVICES) as p:
        p.wait_state("web", "running")
        pid = p.running_pid("web")
        sock = os.path.join(p.dir, ".procd.sock")
        p.wait_for(lambda: os.path.exists(sock), 5, "socket")
        os.unlink(p.config)
        os.mkfifo(p.config)
        try:
            try:
                r = cli(p, "--socket", sock, "reload", timeout=10)
            except subprocess.TimeoutExpired:
                raise AssertionError("reload hung on a FIFO config for 10 s")
            check(r.returncode == 2, "exit %d: %s" % (r.returncode, r.stdout + r.stderr))
            check("error[1013]" in r.stderr and "a FIFO" in r.stderr, r.stderr)
            os.kill(p.proc.pid, signal.SIGHUP)  # the signal path too
            p.wait_log("reload(SIGHUP)rejected")
            st = cli(p, "status", timeout=10)  # the socket found without reading the FIFO
            check(st.returncode == 0 and "web" in st.stdout, st.stdout + st.stderr)
            check(p.running_pid("web") == pid and os.path.exists("/proc/%d" % pid), "old config kept")
        finally:
            release_fifo(p.config)
            os.unlink(p.config)


def test_check_refuses_one_log_file_named_twice():
    p = Procd(SERVICES + '''
[services.web.log]
file = "TMPDIR/shared.log"
[services.db]
command = ["sleep", "1000"]
[services.db.log]
file = "shared.log"
''')
    try:
        r = cli(p, "check", timeout=10)
        check(r.returncode == 2, "exit %d: %s" % (r.returncode, r.stdout + r.stderr))
        lines = open(p.config).read().split("\n")
        first = lines.index('file = "%s/shared.log"' % p.dir) + 1
        second = len(lines) - lines[::-1].index('file = "shared.log"')
        check("%s:%d:8: error[1044]: services.db.log.file" % (p.config, second) in r.stderr, r.stderr)
        check("services.web.log.file at %s:%d:8" % (p.config, first) in r.stderr, r.stderr)
    finally:
        p.cleanup()


if __name__ == "__main__":
    run_tests([
        test_start_refuses_symlinked_log,
        test_start_refuses_fifo_log_without_hanging,
        test_check_on_a_fifo_config_is_an_error_not_a_hang,
        test_reload_of_a_fifo_config_is_refused_and_procd_answers,
        test_check_refuses_one_log_file_named_twice,
    ])
