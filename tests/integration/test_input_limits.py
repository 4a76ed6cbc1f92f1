"""Hostile input on the config and the CLI, against the real binary: a deep
dotted key is refused before parsing (check and hot reload); the CLI refuses
a deeply nested reply and a server run by another user; no error message,
log line or reload reply echoes an env_file or interpolated value."""
import os
import subprocess
import sys
import tempfile

from procdtest import PROCD, Procd, check, run_tests

A = '''
[services.a]
command = ["bash", "-c", "exec -a MARKER-a sleep 1000", "MARKER"]
'''
HERE = os.path.dirname(os.path.abspath(__file__))


def cli(config, *args, env=None):
    return subprocess.run([PROCD, "-c", config] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL, env=env)


def key_of(parts):
    return ".".join(["a"] * parts)


def test_check_refuses_a_dotted_key_deeper_than_32():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "procd.toml")
        with open(path, "w") as fh:
            fh.write('[services.web]\ncommand = "true"\n' + key_of(32) + " = 1\n")
        r = cli(path, "check")
        check(r.returncode == 2 and "error[1002]" in r.stderr and "error[1046]" not in r.stderr, r.stderr[:300])
        with open(path, "w") as fh:
            fh.write('[services.web]\ncommand = "true"\n' + key_of(33) + " = 1\n")
        r = cli(path, "check")
        check(r.returncode == 2 and "%s:3:64: error[1046]" % path in r.stderr, r.stderr[:300])
        with open(path, "w") as fh:
            fh.write('[services.web]\ncommand = "true"\n[' + key_of(100000) + "]\n")
        r = cli(path, "check")
        check(r.returncode == 2 and "%s:3:65: error[1046]" % path in r.stderr, r.stderr[:300])


def test_reload_of_a_deep_dotted_key_keeps_the_old_config():
    with Procd(A) as p:
        p.wait_state("a", "running")
        pa = p.running_pid("a")
        with open(p.config, "a") as fh:
            fh.write(key_of(100000) + " = 1\n")
        r = cli(p.config, "reload")
        line = p.render(A).count("\n") + 1
        check(r.returncode == 2 and "%s:%d:64: error[1046]" % (p.config, line) in r.stderr, r.stderr[:300])
        p.wait_log('"code":1046')
        check(p.proc.poll() is None and p.running_pid("a") == pa, "procd kept its config and a")
        check(cli(p.config, "status").returncode == 0)


def fake_server(sock, mode, uid=None):
    args = [sys.executable, os.path.join(HERE, "fake_control_server.py"), sock, mode]
    if uid is not None:
        args.append(str(uid))
    srv = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    check(srv.stdout.readline().strip() == "ready", "fake server listening")
    return srv


def with_fake_server(mode, uid, fn):
    d = tempfile.mkdtemp(prefix="procd-fake-")
    os.chmod(d, 0o755)
    sock = os.path.join(d, "s.sock")
    srv = fake_server(sock, mode, uid)
    try:
        fn(sock)
    finally:
        srv.kill()
        srv.wait(timeout=10)
        subprocess.run(["rm", "-rf", d])


def test_status_json_refuses_a_deeply_nested_reply():
    def run(sock):
        r = subprocess.run([PROCD, "--socket", sock, "status", "--json"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "error[6014]" in r.stderr and "64" in r.stderr,
              "exit %d: %s" % (r.returncode, r.stderr[:300]))
    with_fake_server("nested", None, run)


def test_cli_refuses_a_server_run_by_another_user():
    if os.geteuid() != 0:
        print("SKIP: needs root to run the fake server as nobody")
        return

    def run(sock):
        r = subprocess.run([PROCD, "--socket", sock, "status", "--json"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "error[6015]" in r.stderr and "65534" in r.stderr,
              "exit %d: %s" % (r.returncode, r.stderr[:300]))
    with_fake_server("plain", 65534, run)

    def same_user(sock):  # the caller's own uid (root here) is trusted
        r = subprocess.run([PROCD, "--socket", sock, "status", "--json"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr[:300]))
    with_fake_server("plain", None, same_user)


SECRET = "s3cr3t-XYZ"
# Each error path that used to echo a secret: (config text for [services.a] extras, env file text).
SECRET_CASES = [
    ('env_file = "TMPDIR/app.env"\n', "OK=1\nTOKEN " + SECRET + "\n"),
    ('working_dir = "${UNSET_FOR_TEST:?token ${SECRET_FOR_TEST} missing}"\n', None),
    ('stop_signal = "${SECRET_FOR_TEST}"\n', None),
]


def write_env(d, text):
    if text is not None:
        with open(os.path.join(d, "app.env"), "w") as fh:
            fh.write(text)


def test_check_output_never_shows_a_secret():
    env = dict(os.environ, SECRET_FOR_TEST=SECRET)
    env = {k: v for k, v in env.items() if not k.startswith("PROCD_")}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "procd.toml")
        for extra, env_text in SECRET_CASES:
            write_env(d, env_text)
            with open(path, "w") as fh:
                fh.write('[services.a]\ncommand = "true"\n' + extra.replace("TMPDIR", d))
            r = cli(path, "check", env=env)
            check(r.returncode == 2 and "error[" in r.stderr and SECRET not in r.stdout + r.stderr,
                  "%s: exit %d: %s" % (extra, r.returncode, r.stderr))
            check("%s:3:" % path in r.stderr or "app.env:2:1" in r.stderr, r.stderr)
        bad = dict(env, PROCD_SERVICES__A__START_TIMEOUT_MS=SECRET)
        with open(path, "w") as fh:
            fh.write('[services.a]\ncommand = "true"\n')
        r = cli(path, "check", env=bad)
        check(r.returncode == 2 and "error[1015]" in r.stderr and SECRET not in r.stdout + r.stderr, r.stderr)
        check("PROCD_SERVICES__A__START_TIMEOUT_MS" in r.stderr, r.stderr)


def test_reload_replies_and_log_never_show_a_secret():
    os.environ["SECRET_FOR_TEST"] = SECRET  # procd's environment: interpolated on reload
    with Procd(A) as p:
        p.wait_state("a", "running")
        pa = p.running_pid("a")
        for extra, env_text in SECRET_CASES:
            write_env(p.dir, env_text)
            p.rewrite(A + extra)
            r = cli(p.config, "reload")
            check(r.returncode == 2 and "error[" in r.stderr and SECRET not in r.stdout + r.stderr,
                  "%s: exit %d: %s" % (extra, r.returncode, r.stderr))
        p.wait_for(lambda: p.log_text().count("rejected") >= len(SECRET_CASES), 5, "every reload logged")
        check(SECRET not in p.log_text(), "the secret is in procd's log")
        check(p.running_pid("a") == pa, "a kept its pid")


if __name__ == "__main__":
    run_tests([
        test_check_refuses_a_dotted_key_deeper_than_32,
        test_reload_of_a_deep_dotted_key_keeps_the_old_config,
        test_status_json_refuses_a_deeply_nested_reply,
        test_cli_refuses_a_server_run_by_another_user,
        test_check_output_never_shows_a_secret,
        test_reload_replies_and_log_never_show_a_secret,
    ])
