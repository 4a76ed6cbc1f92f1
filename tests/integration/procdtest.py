"""Shared harness for procd's integration tests (python3 stdlib only).

Each test runs the real binary ($PROCD_BIN) in its own temp directory, with
its own PID file, socket and JSON log file. Every service command carries a
unique marker so the test finds its processes in /proc; every wait is
bounded; on exit every process the test started is ended by PID.
Run a file directly: it prints `RESULT: N passed, N failed` and exits 1 on
any failure (the CI summary reads that line).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

PROCD = os.environ.get("PROCD_BIN") or os.path.join(os.path.dirname(__file__), "../../build/procd")
# "procd answers within a second": the bound the fault tests hold procd to.
# A sanitizer build (-O0, ASan) runs several times slower, so CI's second run
# sets PROCD_TEST_SLOWDOWN; the plain build keeps the real bound.
ANSWER_S = 1.0 * float(os.environ.get("PROCD_TEST_SLOWDOWN", "1"))
SOURCE_ROOT = os.environ.get("PROCD_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
# Screen captures and screenshots the tests keep (tmux capture-pane text,
# Chromium PNGs): beside the binary, in test-artifacts/ (CI keeps the build
# directory's logs and this folder).
ARTIFACTS = os.environ.get("PROCD_TEST_ARTIFACTS") or os.path.join(os.path.dirname(os.path.abspath(PROCD)), "test-artifacts")


def artifact(name):
    """A path under ARTIFACTS for a file a test keeps (the folder is made)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    return os.path.join(ARTIFACTS, name)


class Procd:
    """One procd instance on a temp config; use as a context manager."""

    def __init__(self, services_toml, top="", shutdown=(3000, 4000, 5000), json_log=True, level="debug",
                 hot_reload=False, track=False):
        self.dir = tempfile.mkdtemp(prefix="procd-it-")
        self.marker = "procdtest-" + uuid.uuid4().hex[:12]
        self.log_path = os.path.join(self.dir, "procd.log")
        self.config = os.path.join(self.dir, "procd.toml")
        self.settings = dict(shutdown=shutdown, json_log=json_log, level=level, hot_reload=hot_reload, track=track)
        with open(self.config, "w") as fh:
            fh.write(self.render(services_toml, top))
        self.proc = None
        self.stderr_path = os.path.join(self.dir, "stderr.txt")

    def render(self, services_toml, top="", **overrides):
        """Full config text: `top` keys, the harness's sections, then the services."""
        st = dict(self.settings, **overrides)
        g, f, k = st["shutdown"]
        # top-level keys first: `top` may open tables ([control], [signals], ...)
        return ('name = "it"\nhot_reload = %s\n' % ("true" if st["hot_reload"] else "false")) + top + "\n" + (
            '[logging]\nlevel = "%s"\njson = %s\nfile = "%s"\n'
            "[shutdown]\ngraceful = %d\nforce = %d\nkill = %d\n"
            "[monitoring]\ntrack_resources = %s\nmetrics_interval_ms = 200\n"
            % (st["level"], "true" if st["json_log"] else "false", self.log_path, g, f, k,
               "true" if st["track"] else "false")
        ) + services_toml.replace("MARKER", self.marker).replace("TMPDIR", self.dir)

    def rewrite(self, services_toml, top="", how="inplace", **overrides):
        """Write a new config: in place (truncate + write) or by rename (editor style)."""
        text = self.render(services_toml, top, **overrides)
        if how == "inplace":
            with open(self.config, "w") as fh:
                fh.write(text)
        else:
            tmp = self.config + ".tmp~"
            with open(tmp, "w") as fh:
                fh.write(text)
            os.rename(tmp, self.config)

    def first_ts(self, service, msg_prefix):
        """Seconds-of-day of the first record of `service` whose msg starts with msg_prefix."""
        for e in self.events():
            if e.get("service") == service and e.get("msg", "").startswith(msg_prefix):
                h, m, sec = e["ts"][11:-1].split(":")
                return int(h) * 3600 + int(m) * 60 + float(sec)
        return None

    def running_pid(self, service):
        """PID of the service's latest `state running` record, or None."""
        pid = None
        for e in self.events():
            if e.get("service") == service and e.get("msg") == "state running":
                pid = e.get("pid")
        return pid

    # -- lifecycle
    def start(self, extra_env=None, prefix=(), preexec_fn=None):
        """`prefix`: a wrapper that execs procd in its own process (prlimit, setpriv);
        `preexec_fn`: runs in the forked child before procd's exec (signal state)."""
        env = dict(os.environ)
        env.update(extra_env or {})
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(list(prefix) + [PROCD, "-c", self.config, "run"], stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=self._stderr, env=env, cwd=self.dir,
                                     preexec_fn=preexec_fn)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for pid in self.marked_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if hasattr(self, "_stderr"):
            self._stderr.close()
        self.remove_cgroups()
        shutil.rmtree(self.dir, ignore_errors=True)

    def remove_cgroups(self):
        """rmdir the cgroup subtree procd logged ("services under DIR"), once
        empty: a procd killed by a test cannot remove it itself."""
        bases = {m.split("services under ", 1)[1].split(" (", 1)[0] for m in
                 (e.get("msg", "") for e in self.events()) if m.startswith("cgroups: ") and "services under " in m}
        for base in bases:
            if not os.path.basename(base).startswith("procd-"):
                continue  # a dedicated cgroup is not procd's to remove
            deadline = time.monotonic() + 2
            while os.path.isdir(base) and time.monotonic() < deadline:
                for sub in os.listdir(base):
                    if os.path.isdir(os.path.join(base, sub)):
                        try:
                            os.rmdir(os.path.join(base, sub))
                        except OSError:
                            pass
                try:
                    os.rmdir(base)
                except OSError:
                    time.sleep(0.05)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=15):
        return self.proc.wait(timeout=timeout)

    # -- observation
    def events(self):
        """Every JSON log record so far."""
        out = []
        try:
            with open(self.log_path) as fh:
                for line in fh:
                    line = line.strip()
                    if line.startswith("{"):
                        try:
                            out.append(json.loads(line))
                        except ValueError:
                            pass
        except FileNotFoundError:
            pass
        return out

    def states(self, service):
        return [e["msg"].split(" ", 1)[1] for e in self.events()
                if e.get("service") == service and e.get("msg", "").startswith("state ")]

    def wait_for(self, predicate, timeout=10, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            if self.proc and self.proc.poll() is not None and not getattr(self, "_allow_exit", False):
                raise AssertionError("procd exited (%s) while waiting for %s\n%s" % (self.proc.returncode, what, self.tail()))
            time.sleep(0.02)
        raise AssertionError("timed out after %ss waiting for %s\n%s" % (timeout, what, self.tail()))

    def wait_state(self, service, state, count=1, timeout=10):
        return self.wait_for(lambda: self.states(service).count(state) >= count, timeout,
                             "%s to reach %s x%d (saw %s)" % (service, state, count, self.states(service)))

    def wait_log(self, text, timeout=5, squash=True):
        """Wait for `text` in procd's log (spaces removed when squash): the log is
        written by a thread, so it may trail a control reply by a moment."""
        return self.wait_for(lambda: text in (self.log_text().replace(" ", "") if squash else self.log_text()),
                             timeout, "%r in the log" % text)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def tail(self, n=40):
        lines = self.log_text().splitlines()[-n:]
        try:
            with open(self.stderr_path, errors="replace") as fh:
                err = fh.read()[-2000:]
        except FileNotFoundError:
            err = ""
        return "--- log tail:\n" + "\n".join(lines) + "\n--- stderr:\n" + err

    def marked_pids(self):
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as fh:
                    if self.marker.encode() in fh.read():
                        pids.append(int(d))
            except OSError:
                pass
        return pids

    def live_marked_pids(self):
        """Marked processes that are not zombies."""
        return [p for p in self.marked_pids() if proc_state(p) not in ("Z", None)]


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def zombies_of(ppid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as fh:
                    parts = fh.read().rsplit(")", 1)[1].split()
                if parts[0] == "Z" and int(parts[1]) == ppid:
                    out.append(int(d))
            except OSError:
                pass
    return out


def run_tests(tests):
    """Run test functions; print a RESULT line; exit 1 on any failure."""
    passed = failed = 0
    only = sys.argv[1:]
    for fn in tests:
        if only and fn.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print("PASS %s (%.2fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
            traceback.print_exc()
    print("RESULT: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)
