"""Service output capture: nothing lost from a fast writer, per-service
files with rotation, long and partial lines, stderr separate or merged."""
import glob
import json
import os
import signal

from procdtest import Procd, check, run_tests

WRITER = "import sys\nw = sys.stdout.write\nfor i in range(100000): w('line %06d ' % i + 'x' * 80 + '\\n')\n"


def test_fast_writer_to_service_file_loses_nothing():
    with Procd('''
[services.w]
command = ["python3", "-c", %s, "MARKER"]
[services.w.log]
file = "TMPDIR/w.log"
max_file_size = 1048576
max_files = 100
''' % json.dumps(WRITER)) as p:
        p.wait_state("w", "stopped", timeout=60)
        files = sorted(glob.glob(os.path.join(p.dir, "w.log*")))
        check(len(files) > 5, "rotated into %d files" % len(files))
        lines = []
        for f in files:
            lines += open(f).read().splitlines()
        nums = sorted(int(l.split()[1]) for l in lines)
        check(nums == list(range(100000)), "got %d lines" % len(nums))
        for f in files:
            check(os.path.getsize(f) <= 1048576, "%s too big" % f)
            check(open(f, "rb").read().endswith(b"\n"), "%s ends mid-line" % f)


def test_fast_writer_to_procd_log_loses_nothing():
    with Procd('''
[services.w]
command = ["python3", "-c", %s, "MARKER"]
''' % json.dumps(WRITER), level="info") as p:
        p.wait_state("w", "stopped", timeout=60)
        got = [e["msg"] for e in p.events() if e.get("service") == "w" and e.get("stream") == "stdout"]
        check(len(got) == 100000, "got %d lines" % len(got))
        check(got[0].startswith("line 000000") and got[-1].startswith("line 099999"))


def test_partial_long_and_stderr_lines():
    with Procd('''
[services.mix]
command = ["sh", "-c", "printf 'no newline at end'; printf 'err line\\\\n' >&2", "MARKER"]
[services.mix.log]
stderr = "separate"
[services.long]
command = ["python3", "-c", "import sys; sys.stdout.write('y' * 200000 + '\\\\n')", "MARKER"]
''', level="info") as p:
        p.wait_state("mix", "stopped")
        p.wait_state("long", "stopped")
        ev = p.events()
        out = [e["msg"] for e in ev if e.get("service") == "mix" and e.get("stream") == "stdout"]
        err = [e["msg"] for e in ev if e.get("service") == "mix" and e.get("stream") == "stderr"]
        check(out == ["no newline at end"], out)
        check(err == ["err line"], err)
        longs = [e["msg"] for e in ev if e.get("service") == "long" and e.get("stream") == "stdout"]
        check("".join(longs) == "y" * 200000, "long line kept whole across %d pieces" % len(longs))


def test_text_log_format():
    with Procd('''
[services.hello]
command = ["sh", "-c", "echo hello world", "MARKER"]
''', json_log=False, level="info") as p:
        p.wait_for(lambda: "hello | hello world" in p.log_text(), 10, "service line")
        line = [l for l in p.log_text().splitlines() if "hello | hello world" in l][0]
        # 2026-01-02T03:04:05.678Z INFO  hello | hello world
        ts, level = line.split(" ")[0], line.split(" ")[1]
        check(len(ts) == 24 and ts.endswith("Z") and ts[10] == "T", line)
        check(level == "INFO", line)


def test_sigusr1_reopens_log_files():
    # logrotate-style: move the files away, SIGUSR1, new files appear and get the new lines.
    with Procd('''
[signals]
forward = []
[services.tick]
command = ["bash", "-c", "while :; do echo tick; sleep 0.05; done", "MARKER"]
[services.tick.log]
file = "TMPDIR/tick.log"
''') as p:
        svc_log = os.path.join(p.dir, "tick.log")
        p.wait_for(lambda: os.path.exists(svc_log) and os.path.getsize(svc_log) > 0, 5, "service file written")
        os.rename(p.log_path, p.log_path + ".1")
        os.rename(svc_log, svc_log + ".1")
        p.signal(signal.SIGUSR1)
        p.wait_for(lambda: os.path.exists(svc_log) and os.path.getsize(svc_log) > 0, 5, "service file reopened")
        p.wait_for(lambda: os.path.exists(p.log_path) and "reopening log files" in open(p.log_path + ".1").read(), 5,
                   "procd log reopened")
        check(p.proc.poll() is None)


def test_planted_log_symlink_is_not_followed():
    # SPEC Part 2: procd (root) opens the per-service file with O_NOFOLLOW; a
    # symlink the service user planted must not redirect output into its target.
    p = Procd('''
[services.w]
command = ["bash", "-c", "echo redirected; exec -a MARKER-w sleep 1000", "MARKER"]
[services.w.log]
file = "TMPDIR/w.log"
''')
    target = os.path.join(p.dir, "target")
    with open(target, "w") as fh:
        fh.write("root only\n")
    os.symlink(target, os.path.join(p.dir, "w.log"))
    with p:
        p.wait_for(lambda: any(e.get("code") == 5001 and "w.log" in e.get("msg", "") for e in p.events()),
                   10, "error 5001 naming w.log")
        check(open(target).read() == "root only\n", "target unchanged")
        check(p.proc.poll() is None, "procd keeps running")


def test_planted_pid_file_symlink_is_refused():
    p = Procd('''
[services.w]
command = ["bash", "-c", "exec -a MARKER-w sleep 1000", "MARKER"]
''')
    target = os.path.join(p.dir, "target")
    with open(target, "w") as fh:
        fh.write("do not truncate\n")
    os.symlink(target, os.path.join(p.dir, ".procd.pid"))
    with p:
        code = p.wait_exit(15)
        out = open(p.stderr_path).read() + p.log_text()
        check(code != 0, "procd refused to start")
        check("5001" in out and ".procd.pid" in out, out)
        check(open(target).read() == "do not truncate\n", "target unchanged")
        check(not p.live_marked_pids(), "no service started")


def test_ready_log_regex_on_a_40k_line_keeps_procd_alive():
    # ready.log is RE2 (linear time, no recursion): a 40 KB line that does not
    # match must neither overflow procd's stack (std::regex recursed once per
    # character) nor hold the loop; the next line makes the service ready.
    script = "import sys, time\nsys.stdout.write('ready ' + 'x' * 40000 + '\\n')\n" \
             "sys.stdout.write('ready now\\n')\nsys.stdout.flush()\ntime.sleep(1000)\n"
    with Procd('''
[services.slow]
command = ["python3", "-c", %s, "MARKER"]
ready = { log = "ready.*now" }
start_timeout_ms = 20000
''' % json.dumps(script), level="info") as p:
        p.wait_state("slow", "running", timeout=20)
        check(p.proc.poll() is None, "procd alive (exit %s)" % p.proc.returncode)
        longs = [e["msg"] for e in p.events() if e.get("service") == "slow" and e.get("stream") == "stdout"]
        check(any(len(m) >= 40000 for m in longs), "the long line was read (%d lines)" % len(longs))


if __name__ == "__main__":
    run_tests([
        test_planted_log_symlink_is_not_followed,
        test_planted_pid_file_symlink_is_refused,
        test_fast_writer_to_service_file_loses_nothing,
        test_fast_writer_to_procd_log_loses_nothing,
        test_partial_long_and_stderr_lines,
        test_text_log_format,
        test_sigusr1_reopens_log_files,
        test_ready_log_regex_on_a_40k_line_keeps_procd_alive,
    ])
