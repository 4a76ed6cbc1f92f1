"""The default log path (procd's own stderr) and per-service files under
pressure: a stderr nobody reads, stream labels, rotation under bursts, a
million-line burst, and a disk that fills up and frees again."""
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

from procdtest import ANSWER_S, PROCD, Procd, check, run_tests

# N lines "NNNNNNN payload" to stdout as fast as python can.
def writer(n, width=90):
    return ("import sys\nw = sys.stdout.write\npad = 'x' * %d\n"
            "for i in range(%d): w('%%07d %%s\\n' %% (i, pad))\nsys.stdout.flush()\n") % (width, n)


class StderrProcd(Procd):
    """procd whose own log goes to its stderr (no [logging] file), text format."""

    def __init__(self, services_toml, json_log=False):
        super().__init__(services_toml, json_log=json_log, level="info")
        with open(self.config) as fh:
            text = fh.read()
        with open(self.config, "w") as fh:
            fh.write(re.sub(r'^file = ".*procd\.log"\n', "", text, flags=re.M))

    def start_with_stderr(self, fd):
        self.proc = subprocess.Popen([PROCD, "-c", self.config, "run"], stdin=subprocess.DEVNULL,
                                     stdout=fd, stderr=fd, cwd=self.dir)
        return self


def status_time(p):
    t0 = time.monotonic()
    r = subprocess.run([PROCD, "-c", p.config, "status", "--json"], capture_output=True, timeout=10, text=True)
    return time.monotonic() - t0, r


def service_lines(text, service, mark="|"):
    prefix = " %s %s " % (service, mark)
    return [l.split(prefix, 1)[1] for l in text.splitlines() if prefix in l]


def numbered(lines):
    """The numbers of the writer's lines among `lines` (procd's own messages skipped)."""
    return [int(l[:7]) for l in lines if re.match(r"^\d{7} x*$", l)]


def test_blocked_stderr_reader_blocks_nothing_and_loses_nothing():
    n = 300000  # ~30 MB: far more than the pipe, procd's queue and the service's pipe hold
    p = StderrProcd('[services.w]\ncommand = ["python3", "-c", %s, "MARKER"]\n' % json.dumps(writer(n)))
    r, w = os.pipe()
    try:
        p.start_with_stderr(w)
        os.close(w)
        time.sleep(1.5)  # nobody reads: procd's stderr pipe fills, then its queue
        for _ in range(3):
            took, st = status_time(p)
            check(st.returncode == 0, "status failed: %s" % st.stderr)
            check(took < ANSWER_S, "status took %.2fs while stderr was blocked" % took)
        check(p.proc.poll() is None, "procd died")
        # Now read everything: every line exactly once, in order.
        chunks = []
        done = threading.Event()

        def reader():
            while True:
                b = os.read(r, 1 << 20)
                if not b:
                    break
                chunks.append(b)
            done.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = b"".join(chunks).decode(errors="replace")
            if "%07d " % (n - 1) in text:
                break
            time.sleep(0.2)
        p.signal(signal.SIGTERM)
        p.wait_exit(15)
        check(done.wait(15), "stderr not closed after exit")
        got = numbered(service_lines(b"".join(chunks).decode(), "w"))
        check(got == list(range(n)), "got %d lines, first gap at %s" % (
            len(got), next((i for i, v in enumerate(got) if v != i), None)))
    finally:
        os.close(r)
        p.cleanup()


def test_stream_labels_text_and_json():
    cmd = "echo out1; echo err1 >&2; echo out2; echo err2 >&2"
    svc = '[services.s]\ncommand = ["sh", "-c", %s, "MARKER"]\n' % json.dumps(cmd)
    # Text on stderr, default stderr = "merge".
    p = StderrProcd(svc)
    out = os.path.join(p.dir, "stderr.txt")
    try:
        with open(out, "wb") as fh:
            p.start_with_stderr(fh.fileno())
        p.wait_for(lambda: "err2" in open(out).read() and "out2" in open(out).read(), timeout=10, what="output")
        text = open(out).read()
        check([l for l in service_lines(text, "s", "|") if l.startswith("out")] == ["out1", "out2"], text)
        check(service_lines(text, "s", "!") == ["err1", "err2"], text)
    finally:
        p.cleanup()
    # JSON (the harness's log file), default merge: each line has its stream.
    with Procd(svc, level="info") as p:
        p.wait_state("s", "stopped", timeout=10)
        p.wait_for(lambda: len([e for e in p.events() if e.get("service") == "s" and "stream" in e]) == 4, timeout=5)
        got = [(e["stream"], e["msg"]) for e in p.events() if e.get("service") == "s" and "stream" in e]
        check(sorted(got) == [("stderr", "err1"), ("stderr", "err2"), ("stdout", "out1"), ("stdout", "out2")], got)


def test_separate_stderr_file():
    cmd = "echo out1; echo err1 >&2"
    with Procd('[services.s]\ncommand = ["sh", "-c", %s, "MARKER"]\n[services.s.log]\nfile = "TMPDIR/s.log"\n'
               'stderr = "separate"\n' % json.dumps(cmd)) as p:
        p.wait_state("s", "stopped", timeout=10)
        p.wait_for(lambda: os.path.exists(os.path.join(p.dir, "s.log.err")), timeout=5, what="s.log.err")
        check(open(os.path.join(p.dir, "s.log")).read() == "out1\n")
        check(open(os.path.join(p.dir, "s.log.err")).read() == "err1\n")


def test_rotation_stays_within_max_file_size_under_bursts():
    burst = "import sys\nsys.stdout.write(''.join('burst line %05d\\n' % i for i in range(2000)))\n"
    for run in range(12):
        with Procd('[services.b]\ncommand = ["python3", "-c", %s, "MARKER"]\n[services.b.log]\n'
                   'file = "TMPDIR/b.log"\nmax_file_size = 4096\nmax_files = 1000\n' % json.dumps(burst)) as p:
            p.wait_state("b", "stopped", timeout=20)
            files = [f for f in os.listdir(p.dir) if f.startswith("b.log")]
            seen = []
            for f in files:
                data = open(os.path.join(p.dir, f), "rb").read()
                check(len(data) <= 4096, "run %d: %s has %d bytes" % (run, f, len(data)))
                check(data.endswith(b"\n"), "run %d: %s ends mid-line" % (run, f))
                seen += data.decode().splitlines()
            check(sorted(seen) == ["burst line %05d" % i for i in range(2000)], "run %d: %d lines" % (run, len(seen)))
            sizes = sorted(os.path.getsize(os.path.join(p.dir, f)) for f in files if f != "b.log")
            # Rotated files are full: no file cut short before its neighbour (17 bytes a line).
            check(all(s > 4096 - 17 for s in sizes), "run %d: rotated sizes %s" % (run, sizes[:5]))


def test_million_line_burst_through_the_default_path():
    n = 1000000
    p = StderrProcd('[services.m]\ncommand = ["python3", "-c", %s, "MARKER"]\n' % json.dumps(writer(n, 8)))
    out = os.path.join(p.dir, "stderr.txt")
    try:
        with open(out, "wb") as fh:
            p.start_with_stderr(fh.fileno())
        p.wait_for(lambda: "%07d " % (n - 1) in open(out).read()[-4096:], timeout=90, what="last line")
        p.signal(signal.SIGTERM)
        p.wait_exit(15)
        got = numbered(service_lines(open(out).read(), "m"))
        check(got == list(range(n)), "got %d lines" % len(got))
    finally:
        p.cleanup()


def test_disk_full_holds_output_back_and_loses_nothing():
    if os.geteuid() != 0:
        print("  (skipped: needs root to mount a tmpfs)")
        return
    mnt = tempfile.mkdtemp(prefix="procd-full-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt]).returncode != 0:
        os.rmdir(mnt)
        print("  (skipped: cannot mount tmpfs)")
        return
    try:
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as fh:  # leave ~100 KiB free
            fh.write(b"\0" * (1900 * 1024))
        n = 20000  # ~1 MB of lines: the disk fills early
        with Procd('[services.d]\ncommand = ["python3", "-c", %s, "MARKER"]\n[services.d.log]\n'
                   'file = "%s/d.log"\nmax_file_size = 0\n' % (json.dumps(writer(n, 40)), mnt)) as p:
            p.wait_for(lambda: any(e.get("code") == 7003 for e in p.events()), timeout=15, what="disk full error")
            time.sleep(1.5)  # a few retries while full
            check(p.proc.poll() is None, "procd died")
            fulls = [e for e in p.events() if e.get("code") == 7003]
            check(len(fulls) == 1, "told %d times, not once" % len(fulls))
            os.unlink(filler)
            p.wait_state("d", "stopped", timeout=30)
            p.wait_for(lambda: os.path.getsize(os.path.join(mnt, "d.log")) >= n * 49, timeout=10, what="all lines")
            data = open(os.path.join(mnt, "d.log")).read()
            lines = data.splitlines()
            check(data.endswith("\n"))
            check(all(len(l) == 48 for l in lines), "a split line")
            check([int(l.split()[0]) for l in lines] == list(range(n)), "got %d lines" % len(lines))
    finally:
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


if __name__ == "__main__":
    run_tests([
        test_blocked_stderr_reader_blocks_nothing_and_loses_nothing,
        test_stream_labels_text_and_json,
        test_separate_stderr_file,
        test_rotation_stays_within_max_file_size_under_bursts,
        test_million_line_burst_through_the_default_path,
        test_disk_full_holds_output_back_and_loses_nothing,
    ])
