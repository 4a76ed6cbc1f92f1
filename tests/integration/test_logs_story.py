"""`procd logs NAME` tells the whole story (issue 27): procd's own lines about
the service (spawned, exited, restarting in N ms, giving up, a spawn error)
come in its ring with its output, in time order, marked "~ " (stdout "| ",
stderr "! "); --json items carry "stream" (stdout, stderr, procd); --stream
keeps some of them."""
import json
import os
import select
import subprocess
import time

from procdtest import PROCD, Procd, check, run_tests

CRASH = ('[services.crash]\ncommand = ["sh", "-c", "echo hi; echo oops >&2; exit 3"]\n'
         'restart = "on-failure"\n')


def logs(p, *args):
    n = [] if "-n" in args else ["-n", "1000"]
    r = subprocess.run([PROCD, "-c", p.config, "logs"] + n + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=20, text=True)
    check(r.returncode == 0, (r.returncode, r.stderr))
    return r.stdout.splitlines()


def marked(lines, mark):
    return [l.split(mark, 1)[1] for l in lines if mark in l]


def test_logs_interleave_procd_lines_with_the_output():
    p = Procd(CRASH)
    with p:
        p.wait_state("crash", "failed", timeout=20)
        lines = logs(p, "crash")
        text = "\n".join(lines)
        out, err, own = marked(lines, " | "), marked(lines, " ! "), marked(lines, " ~ ")
        check(out.count("hi") == 5 and err.count("oops") == 5, text)
        check(len([l for l in own if l.startswith("spawned pid ")]) == 5, text)
        check(own.count("exited with code 3") == 5, text)
        check(own.count("restarting in 100 ms") == 4, text)
        check("not restarting" in own[-1] and "5 starts within" in own[-1], text)
        # time order: a run's output, then its exit, then the restart
        first_exit = next(i for i, l in enumerate(lines) if l.endswith("~ exited with code 3"))
        first_hi = next(i for i, l in enumerate(lines) if l.endswith("| hi"))
        first_restart = next(i for i, l in enumerate(lines) if l.endswith("~ restarting in 100 ms"))
        check(first_hi < first_exit < first_restart, text)

        only = logs(p, "--stream", "procd", "crash")
        check(only and all(" ~ " in l for l in only) and len(only) == len(own), "\n".join(only))
        outerr = logs(p, "--stream", "out,err", "crash")
        check(len(outerr) == 10 and not any(" ~ " in l for l in outerr), "\n".join(outerr))

        items = [json.loads(l) for l in logs(p, "--json", "crash")]
        streams = [i["stream"] for i in items]
        check(streams.count("stdout") == 5 and streams.count("stderr") == 5 and streams.count("procd") == len(own),
              streams)
        check(any(i["stream"] == "procd" and i["line"] == "exited with code 3" for i in items), items)
        errs = [json.loads(l) for l in logs(p, "--json", "--stream", "err", "crash")]
        check(len(errs) == 5 and all(i["stream"] == "stderr" for i in errs), errs)
        # -n counts the chosen stream's lines (the supervisor filters): the
        # last 2 stderr lines, though procd's own lines came after them.
        last2 = logs(p, "-n", "2", "--stream", "err", "crash")
        check(len(last2) == 2 and all(l.endswith("! oops") for l in last2), "\n".join(last2))


def test_followed_logs_get_procd_lines():
    p = Procd(CRASH)
    with p:
        p.wait_state("crash", "failed", timeout=20)
        f = subprocess.Popen([PROCD, "-c", p.config, "logs", "-f", "-n", "0", "--json", "--stream", "procd", "crash"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(0.2)  # let the follow become a stream (a line printed before it is in its catch-up anyway)
            # It crashes again: `start` says so (exit 1, with the reason) or sees it running first (exit 0).
            r = subprocess.run([PROCD, "-c", p.config, "start", "crash"], capture_output=True, timeout=10, text=True)
            check(r.returncode == 0 or "exited 3" in r.stdout + r.stderr, (r.returncode, r.stdout, r.stderr))
            seen, buf, deadline = [], b"", time.monotonic() + 10
            fd = f.stdout.fileno()  # read unbuffered: select() sees what is still in the pipe
            while not seen or "not restarting" not in seen[-1]["line"]:
                left = deadline - time.monotonic()
                check(left > 0 and select.select([fd], [], [], left)[0], ("no procd line in 10 s", seen))
                chunk = os.read(fd, 65536)
                check(chunk, ("follow ended", seen))
                buf += chunk
                *lines, buf = buf.split(b"\n")
                seen += [json.loads(l) for l in lines]
            check(all(i["stream"] == "procd" for i in seen), seen)
            check(any(i["line"] == "exited with code 3" for i in seen), seen)
        finally:
            f.kill()
            f.wait(timeout=5)
            f.stdout.close()
            f.stderr.close()


def test_logs_tell_a_mistyped_command():
    p = Procd('[services.typo]\ncommand = ["no-such-command-procd-test"]\n')
    with p:
        p.wait_state("typo", "failed", timeout=20)
        own = marked(logs(p, "typo"), " ~ ")
        hit = [l for l in own if "command not found: no-such-command-procd-test" in l]
        check(hit and "PATH=" not in hit[0], own)


def test_procd_lines_in_the_ring_are_bounded():
    """procd's own line about a service is at most 512 bytes in its ring (cut
    on a character boundary and ended with an ellipsis), and a spawn error
    leaves out the PATH it searched whatever the PATH's length."""
    long_path = "/usr/bin:" + ":".join("/" + c * 200 for c in "abcdefgh")
    deep = "/nonexistent/" + "/".join(c * 120 + "é" for c in "pqrst") + "/cmd"
    p = Procd('[services.typo]\ncommand = ["nosuchcmd-zz"]\nenv = { PATH = "%s" }\n'
              '[services.deep]\ncommand = ["%s"]\n' % (long_path, deep))
    with p:
        p.wait_state("typo", "failed", timeout=20)
        p.wait_state("deep", "failed", timeout=20)
        typo = [json.loads(l)["line"] for l in logs(p, "--json", "--stream", "procd", "typo")]
        line = [l for l in typo if "command not found" in l][0]
        check("aaaa" not in line and "PATH=" not in line, line)
        check(line.startswith("command not found: nosuchcmd-zz") and line.endswith(")"), line)
        deep_lines = [json.loads(l) for l in logs(p, "--json", "--stream", "procd", "deep")]
        check(all("line" in i for i in deep_lines), "not UTF-8 after the cut: %r" % deep_lines)
        longest = max(deep_lines, key=lambda i: len(i["line"].encode()))["line"]
        check(len(longest.encode()) <= 512 and longest.endswith("…"), (len(longest.encode()), longest))


def test_since_and_no_timestamps():
    """--since keeps the lines from a time on (a UTC time as the lines print
    it, or a duration), counted by the supervisor; --no-timestamps drops the
    time column."""
    p = Procd('[services.two]\ncommand = ["sh", "-c", "echo early; sleep 0.3; echo late; exec sleep 1000", "MARKER"]\n')
    with p:
        p.wait_state("two", "running")
        p.wait_for(lambda: any('"late"' in l for l in logs(p, "--json", "two")), 10, "the late line")
        items = [json.loads(l) for l in logs(p, "--json", "--stream", "out", "two")]
        late_ts = [i["ts"] for i in items if i["line"] == "late"][0]
        since = logs(p, "--since", late_ts, "--stream", "out", "--no-timestamps", "two")
        check(since == ["two | late"], since)
        check(len(logs(p, "--since", "1d", "--stream", "out", "two")) == 2, "a day back: both lines")
        check(logs(p, "-n", "1", "--since", "1d", "--stream", "out", "--no-timestamps", "two") == ["two | late"],
              "n counts after --since")
        r = subprocess.run([PROCD, "-c", p.config, "logs", "--since", "yesterday", "two"], capture_output=True,
                           text=True, timeout=20)
        check(r.returncode == 2 and "6004" in r.stderr and "--since yesterday" in r.stderr, r.stderr)


if __name__ == "__main__":
    run_tests([test_logs_interleave_procd_lines_with_the_output, test_followed_logs_get_procd_lines,
               test_logs_tell_a_mistyped_command, test_procd_lines_in_the_ring_are_bounded,
               test_since_and_no_timestamps])
