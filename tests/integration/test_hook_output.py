"""A hook's output (issue 28) goes through its service's output path: into
the service's log file when it has one (each line marked `* pre_start: `),
with the same bounds (64 KiB lines, rotation) and back-pressure as the
service's own output, so a hook flooding output (`yes`) keeps procd's memory
bounded and the control socket answering."""
import json
import os
import subprocess
import threading
import time

from procdtest import ANSWER_S, PROCD, Procd, check, run_tests

FLOOD_S = 3.0  # the pre_start's start_timeout_ms: it floods this long, then it is killed
MIB = 1024 * 1024
# What procd may grow by during a flood: 24 MiB in the plain build; under
# ASan (the slowed-down run) freed memory also sits in its 256 MiB
# quarantine. Unbounded, procd grew by over 1 GiB in 3 s.
GROWTH = 24 * MIB if ANSWER_S <= 1.0 else (24 + 256) * MIB


def cli(p, *args, timeout=30):
    return subprocess.run([PROCD, "-c", p.config] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def state_of(p, name):
    r = cli(p, "status", "--json", name)
    check(r.returncode == 0, r.stdout + r.stderr)
    return json.loads(r.stdout)["services"][0]["state"]


def vm(pid, key):
    """VmRSS / VmHWM of `pid` in bytes."""
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for pid %d" % (key, pid))


def size_of(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:  # between a rotation's rename and its new file
        return 0


def timed_status(p):
    t0 = time.monotonic()
    r = cli(p, "status", "--json", "w")
    took = time.monotonic() - t0
    check(r.returncode == 0 and took < 2 * ANSWER_S, "status during the flood: rc %d in %.2f s: %s" %
          (r.returncode, took, r.stderr))
    return took


FLOOD = '''
[services.w]
command = ["sleep", "1000", "MARKER"]
pre_start = ["yes", "hook-flood", "MARKER"]
start_timeout_ms = %d
restart = "never"
autostart = false
''' % (FLOOD_S * 1000)


def test_hook_flood_goes_to_the_service_file_within_its_bounds():
    with Procd(FLOOD + '''[services.w.log]
file = "TMPDIR/w.log"
max_file_size = 1048576
max_files = 2
''', level="info") as p:
        log = os.path.join(p.dir, "w.log")
        p.wait_for(lambda: os.path.exists(p.config) and cli(p, "status").returncode == 0, 10, "procd up")
        starter = subprocess.Popen([PROCD, "-c", p.config, "start", "w"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            p.wait_for(lambda: size_of(log) > 0, 5, "hook lines in w.log")
            slowest = max(timed_status(p) for _ in range(5))
            p.wait_for(lambda: state_of(p, "w") == "failed", FLOOD_S + 10, "the pre_start timed out")
        finally:
            starter.wait(timeout=30)
        files = sorted(f for f in os.listdir(p.dir) if f.startswith("w.log"))
        check(files == ["w.log", "w.log.1", "w.log.2"], "rotation kept max_files = 2: %s" % files)
        for f in files:
            size = os.path.getsize(os.path.join(p.dir, f))
            check(size <= MIB, "%s is %d bytes, over max_file_size" % (f, size))
            with open(os.path.join(p.dir, f), "rb") as fh:
                lines = fh.read().split(b"\n")[:-1]
            bad = [l for l in lines if l != b"* pre_start: hook-flood " + p.marker.encode()]
            check(lines and not bad, "%s: unmarked lines %r" % (f, bad[:3]))
        out = cli(p, "logs", "--json", "-n", "3", "w").stdout
        check('"stream":"hook"' in out.replace(" ", ""), out[-500:])
        print("  status during the flood: slowest %.3f s" % slowest)


def discard(fd):
    try:
        while os.read(fd, 1 << 16):
            pass
    except OSError:
        pass


def test_hook_flood_into_a_stalled_own_log_is_held_back():
    """procd's own log is a pipe nobody reads: past its 4 MiB backlog the
    hook's pipes are no longer read (before: every line was queued)."""
    p = Procd(FLOOD, level="info")
    with open(p.config) as fh:
        text = fh.read()
    with open(p.config, "w") as fh:  # no [logging].file: procd logs to its stderr
        fh.write(text.replace('file = "%s"\n' % p.log_path, ""))
    r_fd, w_fd = os.pipe()
    p.proc = subprocess.Popen([PROCD, "-c", p.config, "run"], stdin=subprocess.DEVNULL, stdout=w_fd, stderr=w_fd,
                              cwd=p.dir)
    os.close(w_fd)
    try:
        p.wait_for(lambda: cli(p, "status").returncode == 0, 10, "procd up")
        base = vm(p.proc.pid, "VmRSS")
        starter = subprocess.Popen([PROCD, "-c", p.config, "start", "w"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + FLOOD_S - 0.5
            slowest = 0.0
            while time.monotonic() < deadline:
                slowest = max(slowest, timed_status(p))
                time.sleep(0.1)
            grown = vm(p.proc.pid, "VmHWM") - base
        finally:
            threading.Thread(target=discard, args=(r_fd,), daemon=True).start()
            starter.wait(timeout=30)
        print("  procd grew %d KiB during a %.1f s hook flood; slowest status %.3f s" % (grown >> 10, FLOOD_S, slowest))
        check(grown < GROWTH, "procd grew %d KiB during the flood (bound %d MiB)" % (grown >> 10, GROWTH // MIB))
    finally:
        p.cleanup()
        os.close(r_fd)


if __name__ == "__main__":
    run_tests([
        test_hook_flood_goes_to_the_service_file_within_its_bounds,
        test_hook_flood_into_a_stalled_own_log_is_held_back,
    ])
