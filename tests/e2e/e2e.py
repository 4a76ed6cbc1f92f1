"""End-to-end tier: the real deployments, run for real (python3 stdlib + podman).

Run by `bash .ci/dev.sh e2e` (which installs podman, runc, mmdebstrap and
debhelper when missing). Two parts, the Docker image first:

1. packaging/docker/Dockerfile is built with podman (its bases,
   debian:bookworm and debian:bookworm-slim, are one mmdebstrap'ed minbase
   imported locally: no registry is needed) and run as PID 1 with a mounted
   config: `procd status` through `podman exec`, service output in `podman
   logs`, `podman stop` exits 0 within the ladder, a critical service's
   failure is the container's exit code, no zombies after 200 orphaned
   grandchildren, and the `procd exec --` ENTRYPOINT form passes exit codes
   and signals.
2. The .deb (dpkg-buildpackage of packaging/debian) is installed with apt in
   a container whose PID 1 is systemd: start (active, StatusText), reload
   (a valid change applied; an invalid one fails with the errors in the
   journal while the old config keeps running), WatchdogSec=2, stop
   (inactive, Result=success), procd@myapp, purge.

Hosts with hybrid cgroups and without CAP_SYS_RESOURCE need runc (crun
refuses hybrid cgroups), the cgroupfs manager and explicit ulimits: every
podman call here uses them. Base tarballs are cached in $PROCD_E2E_CACHE
(default /var/cache/procd-e2e) and rebuilt when their package list changes.
A machine where containers cannot run prints `SKIP e2e: REASON`.

Everything the tier creates (containers, images other than the cached
bases and the layer-cache tags procd-e2e-cache:latest and :build, temp dirs) is removed at the
end. Prints per-step timings and `RESULT: N passed, N failed`.
Options: PROCD_E2E_ONLY=docker|systemd runs one part.
"""
import fcntl
import glob
import hashlib
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CACHE = os.environ.get("PROCD_E2E_CACHE", "/var/cache/procd-e2e")
ONLY = os.environ.get("PROCD_E2E_ONLY", "")
TAG = "e2e-%d" % os.getpid()
IMAGE = "localhost/procd-e2e:" + TAG          # the Dockerfile's image
EXEC_IMAGE = "localhost/procd-e2e-exec:" + TAG  # FROM it, ENTRYPOINT procd exec --
# Tags that keep podman's layer cache (the build stage's apt layer above all)
# between runs; the compiler cache lives in the Dockerfile's cache mount.
LAYER_CACHE = "localhost/procd-e2e-cache:latest"
LAYER_CACHE_BUILD = "localhost/procd-e2e-cache:build"
SYSTEMD_IMAGE = "localhost/procd-e2e-systemd:base"

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
# --network host: the build stage runs apt-get; no bridge setup is needed.
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", "--network", "host"]

BASE_INCLUDE = []  # debian:bookworm(-slim): minbase, as the official images
SYSTEMD_INCLUDE = ["systemd", "systemd-sysv", "dbus",
                   # procd's runtime libraries: `apt install ./procd.deb` then
                   # needs no network inside the container
                   "libuv1", "libspdlog1.10", "libfmt9", "libhttp-parser2.9", "libre2-9", "libncursesw6", "libtinfo6"]

containers, images, timings = [], [], []


class Skip(Exception):
    pass


def check(cond, msg=""):
    if not cond:
        raise AssertionError(msg)


def sh(args, timeout=120, ok=True, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(args, timeout=timeout, text=True, **kw)
    if ok and r.returncode != 0:
        raise AssertionError("%s -> %d\nstdout: %s\nstderr: %s" % (" ".join(args), r.returncode, r.stdout[-3000:],
                                                                  r.stderr[-3000:]))
    return r


def podman(*args, timeout=120, ok=True, **kw):
    return sh(PODMAN + list(args), timeout=timeout, ok=ok, **kw)


def in_ctr(name, script, timeout=60, ok=True):
    return podman("exec", name, "sh", "-c", script, timeout=timeout, ok=ok)


def timed(label):
    class T:
        def __enter__(self):
            self.t0 = time.monotonic()

        def __exit__(self, *exc):
            timings.append((label, time.monotonic() - self.t0))
    return T()


def wait_until(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


# --- base images -----------------------------------------------------------------

def mirror():
    """The Debian mirror apt is configured with (mmdebstrap needs one URL)."""
    if os.environ.get("PROCD_E2E_MIRROR"):
        return os.environ["PROCD_E2E_MIRROR"]
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for f in files:
        try:
            text = open(f).read()
        except OSError:
            continue
        for url in re.findall(r"(?:^deb\s+(?:\[[^]]*\]\s+)?|^URIs:\s*)(\S+)", text, re.M):
            if re.search(r"/debian/?$", url):
                return url
    return "http://deb.debian.org/debian"


def tarball_is_whole(path):
    """True when PATH is a regular file that reads as a tar archive to its end.

    A directory (mmdebstrap writes one when it cannot tell the format), an
    empty or cut-short file (an interrupted copy) and a symlink are not."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return False
    try:
        with tarfile.open(path, "r:") as tf:
            return len(tf.getmembers()) > 0
    except (tarfile.TarError, OSError, EOFError):
        return False


def remove_path(path):
    """Removes whatever is at PATH: a file, a symlink or a directory tree."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def mmdebstrap_args(include, target):
    # --format=tar: mmdebstrap picks its output format from the target's
    # extension and writes a directory for one it does not know (".part").
    args = ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar"]
    if include:
        args.append("--include=" + ",".join(include))
    return args + ["bookworm", target, mirror()]


def base_tarball(name, include, cache=None):
    """CACHE/NAME-HASH.tar, built by mmdebstrap when missing.

    Anything at the cache path that is not a whole tar file (a directory, a
    partial file) counts as absent: it is removed and rebuilt, so an
    interrupted run cannot poison the cache. The build writes NAME.tar.part
    and is checked before it is renamed into place."""
    cache = cache or CACHE
    key = hashlib.sha256(("bookworm minbase " + ",".join(include)).encode()).hexdigest()[:12]
    path = os.path.join(cache, "%s-%s.tar" % (name, key))
    if tarball_is_whole(path):
        return path, False
    os.makedirs(cache, exist_ok=True)
    tmp = path + ".part"
    remove_path(path)
    remove_path(tmp)
    try:
        sh(mmdebstrap_args(include, tmp), timeout=900)
        check(tarball_is_whole(tmp), "mmdebstrap did not write a tar file at %s (%s)" % (
            tmp, "a directory" if os.path.isdir(tmp) else "not a whole tar archive"))
        os.replace(tmp, path)
    finally:
        remove_path(tmp)
    return path, True


def import_image(tarball, tags, changes=()):
    """Imports TARBALL unless the first tag already points at it (label procd.e2e.tarball)."""
    want = os.path.basename(tarball)
    r = podman("image", "inspect", "--format", "{{index .Labels \"procd.e2e.tarball\"}}", tags[0], ok=False)
    if r.returncode == 0 and r.stdout.strip() == want:
        return False
    args = ["import", "--change", "LABEL procd.e2e.tarball=" + want]
    for c in changes:
        args += ["--change", c]
    podman(*args, tarball, tags[0], timeout=300)
    for t in tags[1:]:
        podman("tag", tags[0], t)
    return True


def dangling_images():
    if not shutil.which("podman"):
        return []
    r = podman("images", "-q", "--no-trunc", "--filter", "dangling=true", ok=False)
    return r.stdout.split() if r.returncode == 0 else []


def containers_can_run(image):
    r = podman("run", "--rm", *LIMITS, image, "true", ok=False, timeout=120)
    if r.returncode != 0:
        raise Skip("containers cannot run on this machine (podman run %s true -> %d: %s)" % (
            image, r.returncode, (r.stderr or r.stdout).strip()[-500:]))


# --- part 1: the Docker image ----------------------------------------------------------

SUPERVISOR_TOML = """
hot_reload = false

[control]
http = "127.0.0.1:9100"   # the image's HEALTHCHECK probes /healthz here

[shutdown]
graceful = 3000
force = 5000
kill = 8000

[services.web]
command = ["sh", "-c", "echo hello-from-web; exec sleep 1000"]

[services.orphans]
command = ["sh", "-c", "for i in $(seq 200); do (sleep 0.3 &); done; echo spawned-200; exec sleep 1000"]
"""

CRITICAL_TOML = """
[services.keep]
command = ["sleep", "1000"]

[services.job]
command = ["sh", "-c", "sleep 1; exit 7"]
restart = "never"
critical = true
"""


def zombies(name):
    out = in_ctr(name, "cat /proc/[0-9]*/stat 2>/dev/null", ok=False).stdout
    return [l for l in out.splitlines() if l.rsplit(")", 1)[-1].split()[:1] == ["Z"]]


def run_ctr(*args, name, timeout=60):
    containers.append(name)
    return podman("run", "-d", "--name", name, *LIMITS, *args, timeout=timeout)


def rm_ctr(name):
    podman("rm", "-f", "-t", "0", name, ok=False, timeout=60)
    if name in containers:
        containers.remove(name)


def test_docker_build():
    with timed("podman build packaging/docker/Dockerfile"):
        # --format docker: the OCI image format has no HEALTHCHECK (podman drops it).
        podman("build", *LIMITS, "--pull=never", "--layers", "--format", "docker", "-f", "packaging/docker/Dockerfile",
               "--ignorefile", "packaging/docker/Dockerfile.dockerignore", "-t", IMAGE,
               "-t", LAYER_CACHE, ".", timeout=1800, cwd=ROOT)
    images.append(IMAGE)
    # Every layer is cached now: this only names the build stage, so that its
    # layers survive the removal of this run's untagged images.
    podman("build", *LIMITS, "--pull=never", "--layers", "--format", "docker", "-f", "packaging/docker/Dockerfile",
           "--ignorefile", "packaging/docker/Dockerfile.dockerignore", "--target", "build", "-t", LAYER_CACHE_BUILD,
           ".", timeout=600, cwd=ROOT)
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout.strip())
    libs = podman("run", "--rm", *LIMITS, "--entrypoint", "ldd", IMAGE, "/usr/bin/procd").stdout
    needed = sorted(set(re.findall(r"^\s*(lib\S+\.so\S*)", libs, re.M)))
    print("image %s: %.1f MB; procd needs %s" % (IMAGE, size / 1e6, " ".join(needed)))
    check("not found" not in libs, libs)
    hc = podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", IMAGE).stdout
    check("procd" in hc and "probe" in hc and "/healthz" in hc, "the image has no procd probe HEALTHCHECK: %r" % hc)


def test_docker_supervisor():
    d = tempfile.mkdtemp(prefix="procd-e2e-")
    name = "procd-e2e-sup-" + TAG
    try:
        cfg = os.path.join(d, "procd.toml")
        open(cfg, "w").write(SUPERVISOR_TOML)
        with socket.socket() as probe:  # --network host: the HEALTHCHECK's port must be free here
            try:
                probe.bind(("127.0.0.1", 9100))
            except OSError as e:
                check(False, "port 9100 is taken on this host (%s); the HEALTHCHECK test needs it" % e)
        run_ctr("-v", cfg + ":/etc/procd/procd.toml:ro", IMAGE, name=name)
        logs = lambda: podman("logs", name, ok=False)  # noqa: E731
        check(wait_until(lambda: "spawned-200" in (lambda r: r.stdout + r.stderr)(logs()), 20),
              "no service output in podman logs: %r" % (logs().stdout + logs().stderr)[-2000:])
        out = logs()
        check("hello-from-web" in out.stdout + out.stderr, "web's output missing from podman logs")
        pid1 = in_ctr(name, "cat /proc/1/cmdline | tr '\\0' ' '").stdout
        check(pid1.startswith("procd -c /etc/procd/procd.toml run"), "PID 1 is %r" % pid1)
        st = podman("exec", name, "procd", "status", ok=False)
        check(st.returncode == 0 and "web" in st.stdout and "orphans" in st.stdout and "running" in st.stdout,
              "procd status: rc %d\n%s%s" % (st.returncode, st.stdout, st.stderr))
        # The image's HEALTHCHECK (procd probe .../healthz) passes once the listener is up.
        healthy = lambda: podman("healthcheck", "run", name, ok=False).returncode == 0  # noqa: E731
        check(wait_until(healthy, 15), "podman healthcheck run never passed: %r" %
              (lambda r: r.stdout + r.stderr)(podman("healthcheck", "run", name, ok=False)))
        # every `sleep 0.3` orphan has exited after 0.3 s; PID 1 reaped them
        time.sleep(1.0)
        z = zombies(name)
        check(not z, "%d zombies in the container: %s" % (len(z), z[:5]))
        t0 = time.monotonic()
        podman("stop", "-t", "20", name, timeout=60)
        dt = time.monotonic() - t0
        code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        check(code == "0", "exit code after podman stop: %s" % code)
        check(dt < 8.0, "podman stop took %.1f s (ladder: kill at 8 s)" % dt)
        print("podman stop: exit 0 after %.2f s" % dt)
    finally:
        rm_ctr(name)
        shutil.rmtree(d, ignore_errors=True)


def test_docker_critical_exit_code():
    d = tempfile.mkdtemp(prefix="procd-e2e-")
    name = "procd-e2e-crit-" + TAG
    try:
        cfg = os.path.join(d, "procd.toml")
        open(cfg, "w").write(CRITICAL_TOML)
        containers.append(name)
        r = podman("run", "--name", name, *LIMITS, "-v", cfg + ":/etc/procd/procd.toml:ro", IMAGE, ok=False,
                   timeout=60)
        check(r.returncode == 7, "container exit %d, want the critical service's 7\n%s" % (r.returncode,
                                                                                          r.stderr[-2000:]))
    finally:
        rm_ctr(name)
        shutil.rmtree(d, ignore_errors=True)


def test_docker_exec_entrypoint():
    d = tempfile.mkdtemp(prefix="procd-e2e-")
    name = "procd-e2e-exec-" + TAG
    try:
        # The README's form: FROM the image, ENTRYPOINT ["procd", "exec", "--"].
        open(os.path.join(d, "Containerfile"), "w").write(textwrap.dedent("""\
            FROM %s
            ENTRYPOINT ["procd", "exec", "--"]
            CMD ["sh", "-c", "exit 5"]
            """ % IMAGE))
        podman("build", *LIMITS, "--pull=never", "-f", os.path.join(d, "Containerfile"), "-t", EXEC_IMAGE, d)
        images.append(EXEC_IMAGE)
        r = podman("run", "--rm", *LIMITS, EXEC_IMAGE, ok=False)
        check(r.returncode == 5, "exit code %d, want 5" % r.returncode)
        r = podman("run", "--rm", *LIMITS, EXEC_IMAGE, "sh", "-c", "kill -KILL $$", ok=False)
        check(r.returncode == 137, "child killed by SIGKILL: exit %d, want 137" % r.returncode)
        trapper = 'trap "exit 42" TERM; trap "exit 43" USR1; echo ready; while :; do sleep 0.1; done'
        for how, want in ((("stop", "-t", "10"), 42), (("kill", "--signal", "USR1"), 43)):
            run_ctr(EXEC_IMAGE, "sh", "-c", trapper, name=name)
            check(wait_until(lambda: "ready" in podman("logs", name, ok=False).stdout, 10), "child not ready")
            pid1 = in_ctr(name, "cat /proc/1/cmdline | tr '\\0' ' '").stdout
            check(pid1.startswith("procd exec -- sh"), "PID 1 is %r" % pid1)
            t0 = time.monotonic()
            podman(*how, name, timeout=30)
            check(wait_until(lambda: podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
                             == "false", 10), "container still running after podman %s" % how[0])
            code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
            check(code == str(want), "podman %s: exit %s, want %d (forwarded to the trap)" % (how[0], code, want))
            check(time.monotonic() - t0 < 8, "podman %s waited for the stop timeout" % how[0])
            rm_ctr(name)
    finally:
        rm_ctr(name)
        shutil.rmtree(d, ignore_errors=True)


# --- part 2: the Debian package under systemd ------------------------------------------------------

DEB_TOML = """
hot_reload = false

[shutdown]
graceful = 2000
force = 3000
kill = 4000

[services.alpha]
command = ["sleep", "1000"]
"""


def build_deb(out_dir):
    """dpkg-buildpackage -b of a copy of the tree (debian/ copied to the top, as
    README says) in CACHE/deb/procd: a fixed path, so that ccache (which hashes
    the directory of a -g build) hits on the next run. The .deb goes to OUT_DIR."""
    work = os.path.join(CACHE, "deb")
    os.makedirs(CACHE, exist_ok=True)
    lock = open(os.path.join(CACHE, "deb.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time in the shared directory; released on return
    shutil.rmtree(work, ignore_errors=True)
    src = os.path.join(work, "procd")
    files = sh(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard", "-z"]).stdout.split("\0")
    for f in filter(None, files):
        full = os.path.join(ROOT, f)
        if not os.path.isfile(full) or f.startswith(("build", "tests/e2e/")):
            continue
        os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
        shutil.copy2(full, os.path.join(src, f))
    shutil.copytree(os.path.join(src, "packaging", "debian"), os.path.join(src, "debian"))
    # ccache (meson uses it when installed) keeps rebuilds fast; debhelper
    # changes HOME, so the cache directory is named.
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck", DEB_BUILD_PROFILES="nocheck",
               CCACHE_DIR=os.environ.get("CCACHE_DIR", os.path.join(CACHE, "ccache")))
    sh(["dpkg-buildpackage", "-us", "-uc", "-b"], timeout=1800, cwd=src, env=env)
    debs = glob.glob(os.path.join(work, "procd_*.deb"))
    check(len(debs) == 1, "built: %s" % os.listdir(work))
    deb = os.path.join(out_dir, os.path.basename(debs[0]))
    shutil.move(debs[0], deb)
    shutil.rmtree(work, ignore_errors=True)
    return deb


def systemctl_show(name, unit, *props):
    out = in_ctr(name, "systemctl show %s -p %s" % (unit, ",".join(props))).stdout
    return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)


def procd_status(name, extra=""):
    return in_ctr(name, "procd -c /etc/procd/procd.toml %s status" % extra, ok=False)


def write_file(name, path, text):
    podman("exec", "-i", name, "sh", "-c", "mkdir -p \"$(dirname %s)\" && cat > %s" % (path, path), input=text)


def test_systemd_deb():
    d = tempfile.mkdtemp(prefix="procd-e2e-deb-")
    name = "procd-e2e-systemd-" + TAG
    try:
        with timed("dpkg-buildpackage"):
            deb = build_deb(d)
        run_ctr("--systemd=always", "-v", os.path.dirname(deb) + ":/debs:ro", SYSTEMD_IMAGE, "/sbin/init",
                name=name)
        state = lambda: in_ctr(name, "systemctl is-system-running", ok=False).stdout.strip()  # noqa: E731
        check(wait_until(lambda: state() in ("running", "degraded"), 60, step=0.5),
              "systemd in the container: %r" % state())
        with timed("apt install the .deb"):
            r = in_ctr(name, "DEBIAN_FRONTEND=noninteractive apt-get install -y /debs/%s" % os.path.basename(deb),
                       timeout=300)
        installed = in_ctr(name, "dpkg -L procd").stdout.split()
        check("/usr/bin/procd" in installed and "/lib/systemd/system/procd.service" in installed, installed)

        # start: active (running), StatusText from procd
        write_file(name, "/etc/procd/procd.toml", DEB_TOML)
        in_ctr(name, "systemctl start procd", timeout=60)
        p = systemctl_show(name, "procd", "ActiveState", "SubState", "StatusText", "MainPID")
        check((p["ActiveState"], p["SubState"]) == ("active", "running"), p)
        check(p["StatusText"].strip(), "no StatusText from procd: %s" % p)
        print("systemctl show procd: StatusText=%s" % p["StatusText"])
        check("alpha" in procd_status(name).stdout, procd_status(name))

        # reload: a valid change is applied
        write_file(name, "/etc/procd/procd.toml", DEB_TOML + '\n[services.beta]\ncommand = ["sleep", "1000"]\n')
        r = in_ctr(name, "systemctl reload procd", ok=False, timeout=150)
        check(r.returncode == 0, "valid reload failed: %s %s" % (r.stdout, r.stderr))
        st = procd_status(name).stdout
        check("alpha" in st and "beta" in st, "beta not added by the reload:\n%s" % st)
        # ... an invalid one fails, its errors in the journal, the old config runs on
        write_file(name, "/etc/procd/procd.toml", DEB_TOML + '\n[services.gamma]\ncommand = ["true"]\n'
                   'restart = "sometimes"\n')
        r = in_ctr(name, "systemctl reload procd", ok=False, timeout=150)
        check(r.returncode != 0, "systemctl reload succeeded on an invalid config")
        journal = in_ctr(name, "journalctl -u procd --no-pager -o cat").stdout
        check(re.search(r"error\[1004\].*sometimes", journal), "config error not in the journal:\n%s" % journal[-3000:])
        p = systemctl_show(name, "procd", "ActiveState", "SubState")
        check((p["ActiveState"], p["SubState"]) == ("active", "running"), "after the failed reload: %s" % p)
        st = procd_status(name).stdout
        check("alpha" in st and "beta" in st and "gamma" not in st, "old config not kept:\n%s" % st)
        write_file(name, "/etc/procd/procd.toml", DEB_TOML)

        # WatchdogSec=2 in a drop-in: procd pings, systemd does not kill it for 10 s
        write_file(name, "/etc/systemd/system/procd.service.d/watchdog.conf", "[Service]\nWatchdogSec=2\n")
        in_ctr(name, "systemctl daemon-reload && systemctl restart procd", timeout=60)
        before = systemctl_show(name, "procd", "MainPID", "NRestarts", "WatchdogUSec")
        check(before["WatchdogUSec"] == "2s", before)
        time.sleep(10)
        after = systemctl_show(name, "procd", "ActiveState", "SubState", "MainPID", "NRestarts")
        check(after["ActiveState"] == "active" and after["MainPID"] == before["MainPID"] and
              after["NRestarts"] == before["NRestarts"], "watchdog: before %s, after 10 s %s" % (before, after))
        wd = in_ctr(name, "journalctl -u procd --no-pager -o cat | grep -c 'Watchdog timeout' || true").stdout.strip()
        check(wd == "0", "systemd's watchdog fired")

        # stop: inactive, Result=success
        in_ctr(name, "systemctl stop procd", timeout=60)
        p = systemctl_show(name, "procd", "ActiveState", "Result")
        check((p["ActiveState"], p["Result"]) == ("inactive", "success"), p)

        # procd@myapp runs /etc/procd/myapp.toml, its socket under /run/procd/myapp
        write_file(name, "/etc/procd/myapp.toml", DEB_TOML.replace("alpha", "myservice"))
        in_ctr(name, "systemctl start procd@myapp", timeout=60)
        p = systemctl_show(name, "procd@myapp", "ActiveState", "SubState")
        check((p["ActiveState"], p["SubState"]) == ("active", "running"), p)
        st = in_ctr(name, "procd -c /etc/procd/myapp.toml --socket /run/procd/myapp/procd.sock status").stdout
        check("myservice" in st, st)
        r = in_ctr(name, "systemctl reload procd@myapp", ok=False, timeout=150)
        check(r.returncode == 0, "procd@myapp reload: %s %s" % (r.stdout, r.stderr))
        in_ctr(name, "systemctl stop procd@myapp", timeout=60)
        p = systemctl_show(name, "procd@myapp", "ActiveState", "Result")
        check((p["ActiveState"], p["Result"]) == ("inactive", "success"), p)

        # purge removes every file the package installed
        in_ctr(name, "DEBIAN_FRONTEND=noninteractive apt-get purge -y procd", timeout=120)
        files = [f for f in installed if f.startswith("/")]
        # directories (and /lib, a symlink to one) are shared with other packages
        left = in_ctr(name, "for f in %s; do if [ -d \"$f\" ]; then :; elif [ -e \"$f\" ] || [ -L \"$f\" ]; "
                      "then echo \"$f\"; fi; done" % " ".join(files)).stdout.split()
        check(not left, "left after purge: %s" % left)
        r = in_ctr(name, "dpkg-query -W -f='${Status}' procd", ok=False)
        check("installed" not in r.stdout or "not-installed" in r.stdout, "dpkg status after purge: %r" % r.stdout)
    finally:
        rm_ctr(name)
        shutil.rmtree(d, ignore_errors=True)


# --- runner ---------------------------------------------------------------------------------

def main():
    passed = failed = 0
    t_start = time.monotonic()
    dangling_before = set(dangling_images())
    parts = []
    try:
        for tool in ("podman", "runc", "mmdebstrap"):
            if not shutil.which(tool):
                raise Skip("%s is not installed (bash .ci/dev.sh e2e installs it)" % tool)
        with timed("base images (mmdebstrap, cached in %s)" % CACHE):
            base, built = base_tarball("bookworm-minbase", BASE_INCLUDE)
            import_image(base, ["docker.io/library/debian:bookworm", "docker.io/library/debian:bookworm-slim"])
            containers_can_run("docker.io/library/debian:bookworm")
            if ONLY != "docker":
                sysd, _ = base_tarball("bookworm-systemd", SYSTEMD_INCLUDE)
                import_image(sysd, [SYSTEMD_IMAGE], changes=['CMD ["/sbin/init"]'])
        if ONLY != "systemd":
            parts.append(("docker", [test_docker_build, test_docker_supervisor, test_docker_critical_exit_code,
                                     test_docker_exec_entrypoint]))
        if ONLY != "docker":
            parts.append(("systemd", [test_systemd_deb]))
    except Skip as e:
        print("SKIP e2e: %s" % e)
        print("RESULT: 0 passed, 0 failed")
        return 0
    except Exception:
        traceback.print_exc()
        print("FAIL e2e setup (base images)")
        print("RESULT: 0 passed, 1 failed")
        return 1
    try:
        for part, tests in parts:
            for i, fn in enumerate(tests):
                t0 = time.monotonic()
                try:
                    fn()
                    passed += 1
                    print("PASS %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
                except Exception:
                    failed += 1
                    print("FAIL %s (%.1fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
                    traceback.print_exc()
                    if i == 0:  # the image itself: the rest of the part cannot run
                        failed += len(tests) - 1
                        print("FAIL (not run: %s)" % ", ".join(t.__name__ for t in tests[1:]))
                        break
                    sys.stdout.flush()
    finally:
        for c in list(containers):
            rm_ctr(c)
        for img in images:
            podman("rmi", "-f", img, ok=False)
        # the untagged images this run left (the previous cache tags' targets,
        # intermediate stages); never one that existed before the run
        for img in dangling_images():
            if img not in dangling_before:
                podman("rmi", img, ok=False)
    timings.append(("e2e total", time.monotonic() - t_start))
    for label, s in timings:
        print("time: %-50s %6.1f s" % (label, s))
    print("RESULT: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
