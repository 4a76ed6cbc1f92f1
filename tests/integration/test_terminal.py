"""Issue 27 item 6, the terminal: `procd status` fits a terminal of 80 and
160 columns (checked in tmux with capture-pane; the captures are saved in
the test's directory and printed), a pipe still gets the whole table, and
`procd events` prints aligned columns with the exit and the reason, one
service's with --service."""
import os
import re
import select
import shutil
import signal
import subprocess
import time

from procdtest import PROCD, Procd, artifact, check, run_tests

LONG = "a-service-with-a-rather-long-name-for-a-table"
SERVICES = '''
[services.web]
command = ["sh", "-c", "sleep 1000", "MARKER"]

[services.%s]
command = ["sh", "-c", "exit 3", "MARKER"]
restart = "on-failure"

[services.migrate]
command = ["true", "MARKER"]
''' % LONG


def cli(p, *args):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=20)


def settled(p):
    r = cli(p, "status")
    return r.returncode == 0 and "failed" in r.stdout and "completed" in r.stdout and "running" in r.stdout


def tmux_capture(p, width, height, args, join=False):
    """Run `procd ARGS` in a detached tmux of width x height; the pane's text once the table is there."""
    sock = "procd-test-%d-%d-%d" % (os.getpid(), width, join)
    cmd = "%s -c %s %s; echo END-OF-TABLE; read x" % (PROCD, p.config, " ".join(args))
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("COLUMNS", None)
    subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
                    cmd], check=True, timeout=10, env=env, cwd=p.dir)
    try:
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p"] + (["-J"] if join else []), capture_output=True, text=True,
                                  timeout=10).stdout
            if "END-OF-TABLE" in text:
                break
            time.sleep(0.05)
        path = artifact("terminal-%s-%dx%d.txt" % ("-".join(args), width, height))
        with open(path, "w") as f:
            f.write(text)
        print("--- capture %dx%d (%s)\n%s" % (width, height, path, text.rstrip("\n")))
        check("END-OF-TABLE" in text, "no table in tmux: %r" % text)
        return [l for l in text.split("\n")[: text.split("\n").index("END-OF-TABLE")]]
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], timeout=10)


def test_status_fits_the_terminal_in_tmux():
    with Procd(SERVICES) as p:
        p.wait_for(lambda: settled(p), 20, "web running, migrate completed, the long one failed")
        narrow = tmux_capture(p, 80, 24, ["status"])
        check(narrow[0].startswith("NAME") and "REASON" in narrow[0] and "CPU" not in narrow[0], narrow[0])
        # One line per row: a wrapped row would make more lines than services + header.
        check(len(narrow) == 4, narrow)
        check(all(len(l) <= 80 for l in narrow), [len(l) for l in narrow])
        row = [l for l in narrow if l.startswith("a-service")][0]
        check("\u2026" in row.split()[0] and LONG not in row and "failed" in row and "exited 3" in row, row)
        wide = tmux_capture(p, 160, 50, ["status"])
        check(len(wide) == 4 and all(len(l) <= 160 for l in wide), wide)
        check("CPU" in wide[0] and "HEALTH" in wide[0], wide[0])
        check([l for l in wide if l.startswith(LONG + " ")], "the whole name at 160: %r" % wide)
        # --wide and a pipe: everything, uncut, whatever the width.
        piped = cli(p, "status").stdout
        check(LONG + " " in piped and "CPU" in piped and "\u2026" not in piped, piped)
        uncut = tmux_capture(p, 80, 24, ["status", "--wide"], join=True)
        check("CPU" in uncut[0] and [l for l in uncut if l.startswith(LONG + " ")], uncut)


def test_events_are_aligned_with_exit_and_reason_and_filtered():
    with Procd('''
[services.one]
command = ["sh", "-c", "sleep 1000", "MARKER"]

[services.other-service]
command = ["sh", "-c", "sleep 1000", "MARKER"]
''') as p:
        p.wait_for(lambda: cli(p, "status", "--json").stdout.count('"state":"running"') == 2, 10, "both running")
        ev = subprocess.Popen([PROCD, "-c", p.config, "events", "--service", "one"], stdout=subprocess.PIPE)
        try:
            time.sleep(0.3)  # bounded: the stream subscribes before the stops below
            check(cli(p, "stop", "other-service").returncode == 0, "stop other-service")
            check(cli(p, "stop", "one").returncode == 0, "stop one")
            out = b""
            deadline = time.monotonic() + 10
            while b" stopped " not in out and time.monotonic() < deadline:
                if select.select([ev.stdout], [], [], max(0, deadline - time.monotonic()))[0]:
                    chunk = os.read(ev.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    out += chunk
            lines = out.decode().splitlines(keepends=True)
        finally:
            ev.kill()
            ev.wait(timeout=5)
        print("".join(lines))
        check(lines and all(" one " in l and "other-service" not in l for l in lines), lines)
        stopped = [l for l in lines if " stopped " in l][0]
        cols = re.split(r"  +", stopped.rstrip("\n"))
        check(len(cols) == 6 and cols[1] == "one" and cols[2] == "stopped" and cols[4] == "SIGTERM", cols)
        # Aligned: the exit and the reason start at the same column on every line.
        starts = {tuple(m.start() for m in re.finditer(r"\S+(?: \S+)*", l)) for l in lines}
        check(len(starts) == 1 and len(next(iter(starts))) == 6, (starts, lines))


def pane(sock):
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p"], capture_output=True, text=True, timeout=10).stdout


def wait_pane(sock, pred, what, timeout=10):
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = pane(sock)
        if pred(text):
            return text
        time.sleep(0.05)
    raise AssertionError("%s; the pane:\n%s" % (what, text))


def row(text, name):
    return ([l for l in text.split("\n") if l.startswith(name + " ")] or [""])[0]


def test_status_watch_redraws_in_place_in_tmux():
    """`status --watch` redraws on each change (a stop shows within a few
    seconds), re-lays out on a resize, and Ctrl-C leaves the terminal as it was."""
    with Procd('''
[services.web]
command = ["sh", "-c", "sleep 1000", "MARKER"]
[services.worker]
command = ["sh", "-c", "sleep 1000", "MARKER"]
''') as p:
        p.wait_for(lambda: cli(p, "status", "--json").stdout.count('"state":"running"') == 2, 10, "both running")
        sock = "procd-watch-%d" % os.getpid()
        cmd = "%s -c %s status --watch; echo WATCH-ENDED rc=$?; read x" % (PROCD, p.config)
        env = dict(os.environ, TERM="xterm-256color")
        env.pop("COLUMNS", None)
        subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", cmd],
                       check=True, timeout=10, env=env, cwd=p.dir)
        try:
            text = wait_pane(sock, lambda t: "running" in row(t, "web") and "running" in row(t, "worker"), "both rows")
            check(text.split("\n")[0].startswith("procd status --watch"), text)
            check("CPU" not in text, "80 columns: the narrow layout\n" + text)
            open(artifact("terminal-status-watch-80x24.txt"), "w").write(text)
            check(cli(p, "stop", "web").returncode == 0, "stop web")
            text = wait_pane(sock, lambda t: "stopped" in row(t, "web"), "web stopped on the watch", 5)
            check(text.split("\n")[0].startswith("procd status --watch") and "running" in row(text, "worker"), text)
            check(text.count("worker ") == 1, "drawn in place, not appended:\n" + text)
            subprocess.run(["tmux", "-L", sock, "resize-window", "-x", "160", "-y", "50"], check=True, timeout=10)
            text = wait_pane(sock, lambda t: "CPU" in t, "the wide layout after a resize to 160x50")
            open(artifact("terminal-status-watch-160x50.txt"), "w").write(text)
            subprocess.run(["tmux", "-L", sock, "send-keys", "C-c"], check=True, timeout=10)
            text = wait_pane(sock, lambda t: "WATCH-ENDED" in t, "the watch ended on Ctrl-C")
            check("WATCH-ENDED rc=0" in text and "procd status --watch" not in text and "worker" not in text,
                  "the alternate screen left, the terminal as it was:\n" + text)
        finally:
            subprocess.run(["tmux", "-L", sock, "kill-server"], timeout=10)


def test_status_watch_sleeps_while_nothing_changes():
    """Nothing running, nothing changing: the watch makes no timed wake-up
    (strace counts its poll() calls over 3 s); a change wakes it at once."""
    if not shutil.which("strace"):
        print("SKIP: strace is not installed")
        return
    with Procd('''
[services.idle]
command = ["sh", "-c", "sleep 1000", "MARKER"]
autostart = false
''') as p:
        p.wait_for(lambda: cli(p, "status").returncode == 0, 10, "procd answers")
        trace = os.path.join(p.dir, "watch.trace")
        w = subprocess.Popen([PROCD, "-c", p.config, "status", "--watch"], stdout=subprocess.PIPE, cwd=p.dir)
        try:
            out = b""
            deadline = time.monotonic() + 10
            while b"not started" not in out and time.monotonic() < deadline:
                if select.select([w.stdout], [], [], 0.5)[0]:
                    out += os.read(w.stdout.fileno(), 65536)
            check(b"not started" in out, "the first table: %r" % out)
            # strace attached for 3 s (bounded by timeout): the idle window measured.
            subprocess.run(["timeout", "-s", "INT", "3", "strace", "-qq", "-p", str(w.pid), "-e", "trace=poll,ppoll",
                            "-o", trace], timeout=20)
            polls = sum(1 for l in open(trace) if "poll(" in l)
            check(polls <= 3, "%d poll() calls in 3 s idle:\n%s" % (polls, open(trace).read()[:2000]))
            check(cli(p, "start", "idle").returncode == 0, "start idle")
            deadline = time.monotonic() + 10
            while b"running" not in out and time.monotonic() < deadline:
                if select.select([w.stdout], [], [], 0.5)[0]:
                    out += os.read(w.stdout.fileno(), 65536)
            check(b"running" in out, "the start shown: %r" % out)
            print("status --watch: %d poll() calls in 3 s idle" % polls)
        finally:
            w.send_signal(signal.SIGINT)
            try:
                w.wait(timeout=5)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait(timeout=5)
        check(w.returncode == 0, "SIGINT ends the watch with 0, got %s" % w.returncode)


if __name__ == "__main__":
    run_tests([test_status_fits_the_terminal_in_tmux, test_events_are_aligned_with_exit_and_reason_and_filtered,
               test_status_watch_redraws_in_place_in_tmux, test_status_watch_sleeps_while_nothing_changes])
