"""The HTTP endpoint's bearer token file ([control] http_token_file): it
must be owned by procd's effective uid and readable by no one else
(mode & 077 == 0), else `procd check` and `procd run` refuse it (error 1045,
located); removing or emptying it (or making it unsafe) revokes the old
token at the next reload, by `procd reload` or SIGHUP, although the reload
itself is rejected."""
import os
import shutil
import signal
import subprocess
import tempfile

from procdtest import PROCD, Procd, check, run_tests
from test_http import SERVICES, cli, get, start


def write_token(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, text.encode())
    os.close(fd)
    os.chmod(path, mode)


def procd_check(p):
    return subprocess.run([PROCD, "-c", p.config, "check"], capture_output=True, text=True, timeout=20)


def test_check_refuses_a_token_file_others_can_read_or_own():
    p = Procd(SERVICES)
    try:
        token = os.path.join(p.dir, "token")
        p.rewrite(SERVICES, top='[control]\nhttp = "127.0.0.1:9100"\nhttp_token_file = "%s"\n' % token)
        for mode in (0o644, 0o640, 0o604, 0o660, 0o602):
            write_token(token, "s3cret\n", mode)
            r = procd_check(p)
            check(r.returncode == 2 and "%s:5:" % p.config in r.stderr and "error[1045]" in r.stderr
                  and "http_token_file" in r.stderr and "%o" % mode in r.stderr,
                  "mode %o: %d %r" % (mode, r.returncode, r.stderr))
            check("s3cret" not in r.stderr + r.stdout, "the token is echoed: %r" % r.stderr)
        for mode in (0o600, 0o400):
            write_token(token, "s3cret\n", mode)
            r = procd_check(p)
            check(r.returncode == 0, "mode %o: %d %r" % (mode, r.returncode, r.stderr))
        if os.geteuid() == 0:
            write_token(token, "s3cret\n")
            os.chown(token, 65534, -1)
            r = procd_check(p)
            check(r.returncode == 2 and "error[1045]" in r.stderr and "65534" in r.stderr, r.stderr)
        else:
            print("  SKIP owner: not root (cannot give the file away)")
        # procd run refuses to start with it
        write_token(token, "s3cret\n", 0o644)
        r = subprocess.run([PROCD, "-c", p.config, "run"], capture_output=True, text=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 2 and "1045" in r.stderr + r.stdout, (r.returncode, r.stderr[-500:]))
    finally:
        p.cleanup()


def test_removed_emptied_or_unsafe_token_is_revoked_on_reload():
    d = tempfile.mkdtemp(prefix="procd-token-")
    try:
        token = os.path.join(d, "token")
        write_token(token, "tok-1\n")
        p, port = start(extra='http_token_file = "%s"\n' % token)
        with p:
            def post(tok):
                return get(port, "/services/idle/start", method="POST", headers={"Authorization": "Bearer " + tok})[0]
            check(post("tok-1") == 200, "tok-1 before")
            # removed: `procd reload` is rejected, and the old token no longer works
            os.remove(token)
            cli(p, "reload")
            check(post("tok-1") == 403, "tok-1 after its file was removed and procd reloaded")
            # a new file: the next reload takes it
            write_token(token, "tok-2\n")
            r = cli(p, "reload")
            check(r.returncode == 0, r.stderr)
            check(post("tok-2") == 200 and post("tok-1") == 403, "tok-2 after the reload")
            # emptied, reload by SIGHUP
            write_token(token, "")
            p.signal(signal.SIGHUP)
            p.wait_for(lambda: post("tok-2") == 403, 10, "tok-2 refused after its file was emptied (SIGHUP)")
            write_token(token, "tok-3\n")
            p.signal(signal.SIGHUP)
            p.wait_for(lambda: post("tok-3") == 200, 10, "tok-3 taken on SIGHUP")
            # readable by others: revoked as well
            os.chmod(token, 0o644)
            cli(p, "reload")
            check(post("tok-3") == 403, "tok-3 after its file became world readable")
            check("tok-3" not in p.log_text(), "the token is in procd's log")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run_tests([
        test_check_refuses_a_token_file_others_can_read_or_own,
        test_removed_emptied_or_unsafe_token_is_revoked_on_reload,
    ])
