"""`procd run -- CMD` with no config file anywhere (issue 28) keeps its
socket and PID file in a run directory, not the working directory:
$XDG_RUNTIME_DIR/procd, else /run/procd as root, else /tmp/procd-UID (made
0700, refused when unsafe: error 1065); `procd status` with no config finds
it there from any directory."""
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from procdtest import PROCD, check, run_tests


def bare_env(xdg):
    env = {k: v for k, v in os.environ.items() if k not in ("PROCD_CONFIG", "PROCD_CONTROL__SOCKET")}
    env["XDG_RUNTIME_DIR"] = xdg
    return env


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def test_bare_run_keeps_its_files_in_the_run_dir():
    top = tempfile.mkdtemp(prefix="procd-it-rundir-")
    work, other, xdg = (os.path.join(top, d) for d in ("work", "other", "xdg"))
    for d in (work, other, xdg):
        os.mkdir(d)
    os.chmod(xdg, 0o700)
    env = bare_env(xdg)
    proc = subprocess.Popen([PROCD, "run", "--", "sh", "-c", "pwd > where; exec sleep 30"], cwd=work, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sock = os.path.join(xdg, "procd", ".procd.sock")
        wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10, "the socket in the run dir")
        if proc.poll() is not None:
            raise AssertionError("procd exited %r: %s" % (proc.returncode, proc.stderr.read()[-2000:]))
        wait_for(lambda: os.path.exists(os.path.join(work, "where")), 10, "the main's pwd")
        check(os.listdir(work) == ["where"], "files in the working directory: %s" % os.listdir(work))
        with open(os.path.join(work, "where")) as fh:
            check(fh.read().strip() == work, "the main runs in the caller's directory")
        mode = os.stat(os.path.join(xdg, "procd")).st_mode
        check(stat.S_IMODE(mode) == 0o700, "run dir mode %o" % stat.S_IMODE(mode))
        check(os.path.exists(os.path.join(xdg, "procd", ".procd.pid")), os.listdir(os.path.join(xdg, "procd")))
        r = subprocess.run([PROCD, "status"], cwd=other, env=env, capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and "main" in r.stdout, (r.returncode, r.stdout, r.stderr))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        check(not os.path.exists(sock), "socket left behind")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stderr.close()
        shutil.rmtree(top, ignore_errors=True)


def test_unsafe_run_dir_is_refused():
    top = tempfile.mkdtemp(prefix="procd-it-rundir-")
    try:
        os.mkdir(os.path.join(top, "procd"))
        os.chmod(os.path.join(top, "procd"), 0o777)  # others may plant a socket or PID file
        r = subprocess.run([PROCD, "run", "--", "true"], cwd=top, env=bare_env(top), capture_output=True, text=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        check(r.returncode == 2 and "1065" in r.stderr, (r.returncode, r.stderr[-2000:]))
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_bare_run_keeps_its_files_in_the_run_dir, test_unsafe_run_dir_is_refused])
