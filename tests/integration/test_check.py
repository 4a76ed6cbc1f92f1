#!/usr/bin/env python3
"""`procd check` against the real binary: the example stack is valid, and each
invalid case from SPEC "Validation" exits 2 with `FILE:LINE:COL: error[CODE]`
on stderr. Runs as `python3 tests/integration/test_check.py`; needs
$PROCD_BIN (default build-config/procd) and $PROCD_SOURCE_ROOT (default: this
checkout). `check` starts no services, so no processes outlive a test."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

SOURCE_ROOT = os.environ.get(
    "PROCD_SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROCD_BIN = os.environ.get("PROCD_BIN", os.path.join(SOURCE_ROOT, "build-config", "procd"))
TIMEOUT = 20


def clean_env(extra=None):
    # PROCD_* variables are config overrides; keep the test's own out of procd's way.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCD_")}
    env.update(extra or {})
    return env


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="procd-check-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check(self, path, env=None):
        return subprocess.run([PROCD_BIN, "-c", path, "check"], capture_output=True, text=True,
                              timeout=TIMEOUT, env=clean_env(env), cwd=self.dir)

    def write(self, text, name="procd.toml"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_error(self, text, line, col, code, contains=None):
        path = self.write(text)
        r = self.check(path)
        self.assertEqual(r.returncode, 2, f"stdout={r.stdout!r} stderr={r.stderr!r}")
        expected = f"{path}:{line}:{col}: error[{code}]"
        self.assertIn(expected, r.stderr)
        if contains:
            self.assertIn(contains, r.stderr)
        return r

    def test_example_is_valid(self):
        path = os.path.join(SOURCE_ROOT, "examples", "procd.toml")
        r = self.check(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok (4 services)", r.stdout)
        self.assertEqual(r.stderr.strip(), "")

    def test_unknown_key_with_did_you_mean(self):
        self.assert_error('[services.web]\ncomand = ["x"]\ncommand = ["true"]\n', 2, 10, 1002,
                          'unknown key "comand" (did you mean "command"?)')

    def test_wrong_type(self):
        self.assert_error('[shutdown]\ngraceful = "soon"\n', 2, 12, 1003, "shutdown.graceful")

    def test_empty_command(self):
        self.assert_error('[services.web]\ncommand = []\n', 2, 11, 1005)

    def test_shutdown_order(self):
        self.assert_error('[shutdown]\ngraceful = 5000\nforce = 4000\nkill = 60000\n', 3, 9, 1006)

    def test_unknown_signal(self):
        self.assert_error('[services.web]\ncommand = "true"\nstop_signal = "SIGNOPE"\n', 3, 15, 1007,
                          'unknown signal "SIGNOPE"')

    def test_unknown_dependency(self):
        self.assert_error('[services.web]\ncommand = "true"\ndepends_on = ["db"]\n', 3, 14, 1008)

    def test_dependency_cycle(self):
        self.assert_error('[services.a]\ncommand = "true"\ndepends_on = ["b"]\n'
                          '[services.b]\ncommand = "true"\ndepends_on = ["a"]\n', 3, 14, 1009, "a -> b -> a")

    def test_unreadable_env_file(self):
        self.assert_error('[services.web]\ncommand = "true"\nenv_file = "missing.env"\n', 3, 12, 1011)

    @unittest.skipIf(os.geteuid() == 0, "running as root: `user` is allowed (unit test covers as_root=false)")
    def test_user_while_not_root(self):
        self.assert_error('[services.web]\ncommand = "true"\nuser = "nobody"\n', 3, 8, 1012)

    def test_bad_restart_policy(self):
        self.assert_error('[services.web]\ncommand = "true"\n[services.web.restart]\npolicy = "sometimes"\n', 4, 10,
                          1004, 'services.web.restart.policy: unknown policy "sometimes" '
                                '(expected never, always, on-failure, exponential-backoff)')

    def test_health_tcp_target_unbracketed_ipv6(self):
        self.assert_error('[services.web]\ncommand = "true"\n[services.web.health]\ntcp = "::1:5432"\n', 4, 7, 1004,
                          "services.web.health.tcp: '::1:5432': write IPv6 addresses in brackets")

    def test_health_tcp_target_port_out_of_range(self):
        self.assert_error('[services.web]\ncommand = "true"\n[services.web.health]\ntcp = "127.0.0.1:99999"\n', 4, 7,
                          1004, "port must be a number from 1 to 65535")

    def test_health_http_target_port_zero(self):
        self.assert_error('[services.web]\ncommand = "true"\n[services.web.health]\nhttp = "http://127.0.0.1:0/"\n',
                          4, 8, 1004, "port must be a number from 1 to 65535")

    def test_health_https_target(self):
        self.assert_error('[services.web]\ncommand = "true"\n[services.web.health]\nhttp = "https://127.0.0.1/"\n',
                          4, 8, 1004, "https is not supported")

    def test_toml_syntax_error(self):
        self.assert_error('name = "x"\nhot_reload = \n', 2, 14, 1001)

    def test_duplicate_table(self):
        self.assert_error('[services.a]\ncommand = "true"\n[services.a]\ncommand = "true"\n', 3, 1, 1010)

    def test_every_error_is_reported(self):
        path = self.write('[shutdown]\ngraceful = 50000\n'
                          '[services.web]\ncommand = []\nstop_signal = "NOPE"\ndepends_on = ["ghost"]\n'
                          'restart = "sometimes"\n')
        r = self.check(path)
        self.assertEqual(r.returncode, 2)
        for where in (f"{path}:1:1: error[1006]", f"{path}:4:11: error[1005]", f"{path}:5:15: error[1007]",
                      f"{path}:6:14: error[1008]", f"{path}:7:11: error[1004]"):
            self.assertIn(where, r.stderr)
        self.assertEqual(len([l for l in r.stderr.splitlines() if "error[" in l]), 5, r.stderr)

    def test_missing_file(self):
        r = self.check(os.path.join(self.dir, "nope.toml"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("error[1013]", r.stderr)

    def test_env_override_is_validated(self):
        path = self.write('[services.web]\ncommand = "true"\n')
        r = self.check(path, {"PROCD_SHUTDOWN__GRACEFUL": "soon"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("env PROCD_SHUTDOWN__GRACEFUL: error[1015]", r.stderr)
        r = self.check(path, {"PROCD_SHUTDOWN__GRACEFUL": "50000"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("error[1006]", r.stderr)
        r = self.check(path, {"PROCD_SERVICES__WEB__STOP_TIMEOUT_MS": "5"})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_durations_are_at_most_a_year(self):
        # SPEC Part 2 "Time values": 31536000000 ms is the bound (man procd.toml(5)).
        self.assert_error('[services.web]\ncommand = "true"\nstart_timeout_ms = 9223372036854775807\n',
                          3, 20, 1020, "at most a year")
        self.assert_error('[services.web]\ncommand = "true"\nrestart = { policy = "always", delay_ms = 31536000001 }\n',
                          3, 43, 1020)
        path = self.write('[services.web]\ncommand = "true"\nready = "notify"\nwatchdog_ms = 31536000000\n')
        r = self.check(path)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.check(path, {"PROCD_SERVICES__WEB__WATCHDOG_MS": "31536000001"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("env PROCD_SERVICES__WEB__WATCHDOG_MS: error[1020]", r.stderr)

    def test_ready_health_with_health_checks_off(self):
        # The service would be killed at start_timeout_ms on every start, its dependents never start.
        self.assert_error('[monitoring]\nhealth_checks = false\n[services.web]\ncommand = "true"\nready = "health"\n'
                          '[services.web.health]\ntcp = "127.0.0.1:5432"\n', 5, 9, 1042,
                          'services.web.ready: ready = "health" needs health checks, but [monitoring] health_checks = false')

    def test_notify_socket_path_at_the_sun_path_bound(self):
        # sun_path holds 108 bytes with the NUL: a notify socket path (the
        # control socket + ".notify") of 107 bytes passes, 108 fails.
        for notify_len in (107, 108):
            sock = "/tmp/" + "s" * (notify_len - len(".notify") - len("/tmp/"))
            text = '[control]\nsocket = "%s"\n[services.web]\ncommand = "true"\nready = "notify"\n' % sock
            self.assertEqual(len(sock + ".notify"), notify_len)
            if notify_len == 107:
                r = self.check(self.write(text))
                self.assertEqual(r.returncode, 0, r.stderr)
            else:
                self.assert_error(text, 2, 10, 1043, 'control.socket: notify socket path "%s.notify"' % sock)

    def test_run_with_a_socket_too_long_for_its_notify_socket(self):
        # `run --socket` bypasses `check`: the same bound, before anything starts.
        sock = os.path.join(self.dir, "s" * (108 - len(".notify") - len(self.dir) - 1))
        path = self.write('[services.web]\ncommand = "true"\nready = "notify"\nautostart = false\n')
        r = subprocess.run([PROCD_BIN, "-c", path, "--socket", sock, "run"], capture_output=True, text=True,
                           timeout=TIMEOUT, env=clean_env({"PROCD_CGROUP_ROOT": "/nonexistent/procd-cgroup-root"}),
                           cwd=self.dir, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('error[1043]: --socket: notify socket path "%s.notify"' % sock, r.stderr)

    def test_syntax_error_on_a_40k_line(self):
        # toml11 quotes the offending line (and a marker as wide as it) in its
        # message; turning that into line:col must not recurse per character.
        text = 'name = "x"\nbig = "' + "a" * 40000 + '" junk\n'
        r = self.assert_error(text, 2, 40010, 1001, "expected newline")
        self.assertLess(len(r.stderr), 4096, "the long line is not echoed whole")

    def test_bad_ready_log_pattern_names_re2_error(self):
        # ready.log is RE2 syntax; RE2's own message says what is wrong.
        self.assert_error('[services.web]\ncommand = "true"\nready = { log = "(" }\n', 3, 17, 1019,
                          "missing )")
        self.assert_error('[services.web]\ncommand = "true"\nready = { log = "(a)\\\\1" }\n', 3, 17, 1019,
                          "invalid escape sequence")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"skipped: {len(result.skipped)}")
    print(f"RESULT: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(1 if failed else 0)
