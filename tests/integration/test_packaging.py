"""Packaging and documentation checks (python3 stdlib only).

- `meson install --destdir` of the running test's build dir installs every
  expected file (binary, man pages, systemd units, completions, example
  config, launchd plist); every program a unit runs is procd or coreutils,
  its reload is `procd reload`, its man pages are installed;
- the man pages render without warnings;
- every command (SPEC table and src/cli/commands.cpp) is in procd(1) and in
  each shell completion; every key of SPEC's example TOML is in
  procd.toml(5); every error code of include/procd/error.hpp is in procd(1);
- the completions pass `bash -n` (and `zsh -n` / `fish -n` when installed);
- the launchd plist is valid XML;
- the Dockerfile installs .ci/dev.sh's packages, runs the README's own build
  commands, and names runtime libraries that exist in Debian;
- packaging/debian is a dh + meson source package.

Run directly or through `meson test test_packaging`; prints
`RESULT: N passed, N failed`.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procdtest import PROCD, SOURCE_ROOT, check, run_tests  # noqa: E402

BUILD_DIR = os.path.dirname(os.path.abspath(PROCD))


def src(*parts):
    return os.path.join(SOURCE_ROOT, *parts)


def read(*parts):
    with open(src(*parts), encoding="utf-8") as f:
        return f.read()


def spec_path():
    for p in (os.environ.get("PROCD_SPEC"), src("SPEC.md"), src("..", "shared", "SPEC.md"), "/work/shared/SPEC.md"):
        if p and os.path.isfile(p):
            return p
    return None


def roff_text(text):
    """Man source with the escapes that split words removed: \\- -> -, fonts dropped."""
    text = re.sub(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]", "", text)
    text = text.replace("\\-", "-").replace("\\(dq", '"').replace("\\&", "")
    return text


def has_word(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def commands():
    """Every command: the SPEC table (when SPEC.md is reachable) and commands.cpp."""
    names = set(re.findall(r'add_subcommand\("([a-z]+)"', read("src", "cli", "commands.cpp")))
    sp = spec_path()
    if sp:
        with open(sp, encoding="utf-8") as f:
            names |= set(re.findall(r"^\| `procd ([a-z]+)", f.read(), re.M))
    check({"run", "exec", "status", "signal"} <= names, "command list not found: %s" % sorted(names))
    return sorted(names)


def dev_packages():
    text = read(".ci", "dev.sh")
    m = re.search(r"^PACKAGES=\((.*?)^\)", text, re.M | re.S)
    check(m, "PACKAGES=( ... ) not found in .ci/dev.sh")
    pkgs = [w for line in m.group(1).splitlines() for w in line.split("#")[0].split()]
    check(pkgs, "empty PACKAGES")
    return pkgs


def project_version():
    m = re.search(r"version\s*:\s*'([^']+)'", read("meson.build"))
    return m.group(1)


# --- meson install -----------------------------------------------------------

def meson_options():
    r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD_DIR], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, r.stderr)
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


def test_meson_install_tree():
    if not shutil.which("meson"):
        print("skip: meson not found")
        return
    opts = meson_options()
    prefix = opts["prefix"]
    bindir, mandir, datadir = opts["bindir"], opts["mandir"], opts["datadir"]

    def under(d):
        return d if os.path.isabs(d) else os.path.join(prefix, d)

    expected = {
        os.path.join(under(bindir), "procd"): read_binary_check,
        os.path.join(under(mandir), "man1", "procd.1"): None,
        os.path.join(under(mandir), "man5", "procd.toml.5"): None,
        os.path.join(prefix, "lib", "systemd", "system", "procd.service"): None,
        os.path.join(prefix, "lib", "systemd", "system", "procd@.service"): None,
        os.path.join(under(datadir), "bash-completion", "completions", "procd"): None,
        os.path.join(under(datadir), "zsh", "vendor-completions", "_procd"): None,
        os.path.join(under(datadir), "fish", "vendor_completions.d", "procd.fish"): None,
        os.path.join(under(datadir), "doc", "procd", "examples", "procd.toml"): None,
        os.path.join(under(datadir), "doc", "procd", "launchd", "dev.procd.plist"): None,
    }
    dest = tempfile.mkdtemp(prefix="procd-destdir-")
    try:
        r = subprocess.run(["meson", "install", "-C", BUILD_DIR, "--no-rebuild", "--destdir", dest],
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "meson install failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        installed = sorted(os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs)
        for path, extra in expected.items():
            full = os.path.join(dest, path.lstrip("/"))
            check(os.path.isfile(full), "not installed: %s\ninstalled:\n  %s" % (path, "\n  ".join(installed)))
            if extra:
                extra(full)
        # The bash completion is installed under the command's name.
        bash = os.path.join(dest, os.path.join(under(datadir), "bash-completion", "completions", "procd").lstrip("/"))
        with open(bash, encoding="utf-8") as f:
            check("complete -F _procd procd" in f.read(), "bash completion content")
        check_unit_paths(dest, under(bindir), under(mandir), bindir)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


UNIT_PREFIXES = "-@:+!"


def unit_lines(name):
    """(key, value) of every assignment of packaging/systemd/NAME."""
    out = []
    for line in read("packaging", "systemd", name).splitlines():
        s = line.strip()
        if s and not s.startswith(("#", ";", "[")) and "=" in s:
            k, v = s.split("=", 1)
            out.append((k.strip(), v.strip()))
    return out


def check_unit_paths(dest, bindir, mandir, rel_bindir):
    """Every program a unit runs is procd as the package installs it (the Debian
    package's prefix is /usr) or part of coreutils (Essential: present on every
    Debian system; procps, with /bin/kill, is not), and every man page it names is
    installed. The reload goes through `procd reload`, which fails (exit 2, the
    errors on stderr -> journal) on an invalid config; a `kill -HUP` would
    succeed whatever the config says."""
    deb_procd = os.path.join("/usr", rel_bindir if not os.path.isabs(rel_bindir) else "bin", "procd")
    for unit in ("procd.service", "procd@.service"):
        lines = unit_lines(unit)
        execs = [(k, v) for k, v in lines if k.startswith("Exec")]
        check(any(k == "ExecStart" for k, _ in execs), "%s: no ExecStart" % unit)
        for k, v in execs:
            prog = v.lstrip(UNIT_PREFIXES).split()[0]
            check(os.path.isabs(prog), "%s: %s=%s is not an absolute path" % (unit, k, v))
            if os.path.basename(prog) == "procd":
                check(prog == deb_procd, "%s: %s runs %s, the package installs %s" % (unit, k, prog, deb_procd))
                check(os.path.isfile(os.path.join(dest, bindir.lstrip("/"), "procd")), "procd not installed")
                continue
            if not shutil.which("dpkg"):
                print("skip: dpkg not found, cannot check the owner of %s" % prog)
                continue
            owner = None
            for cand in (prog, os.path.realpath(prog), "/usr" + prog if not prog.startswith("/usr/") else prog):
                r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True, timeout=30)
                if r.returncode == 0:
                    owner = r.stdout.split(":")[0]
                    break
            check(owner == "coreutils", "%s: %s=%s needs %s, which a minimal system may lack (only procd and "
                  "coreutils are sure to be there)" % (unit, k, v, owner or "a file no package owns"))
        reloads = [v for k, v in execs if k == "ExecReload"]
        check(len(reloads) == 1 and reloads[0].split()[0] == deb_procd and reloads[0].split()[-1] == "reload",
              "%s: ExecReload must be `procd ... reload` (fails on an invalid config): %s" % (unit, reloads))
        for k, v in lines:
            if k == "Documentation":
                for page, sec in re.findall(r"man:([\w.@-]+)\((\d)\)", v):
                    full = os.path.join(dest, mandir.lstrip("/"), "man" + sec, page + "." + sec)
                    check(os.path.isfile(full), "%s: Documentation names %s(%s), not installed" % (unit, page, sec))


def read_binary_check(path):
    check(os.access(path, os.X_OK), "%s not executable" % path)
    r = subprocess.run([path, "version"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("procd "), r.stdout + r.stderr)


# --- man pages ---------------------------------------------------------------

def test_man_pages_render_without_warnings():
    pages = [src("man", "procd.1"), src("man", "procd.toml.5")]
    ran = False
    if shutil.which("groff"):
        ran = True
        for p in pages:
            r = subprocess.run(["groff", "-man", "-ww", "-z", p], capture_output=True, text=True, timeout=60)
            check(r.returncode == 0 and r.stderr.strip() == "", "groff warnings in %s:\n%s" % (p, r.stderr))
    if shutil.which("man"):
        ran = True
        env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0")
        for p in pages:
            r = subprocess.run(["man", "--warnings", "-l", p], capture_output=True, text=True, timeout=60, env=env)
            check(r.returncode == 0, "man -l %s failed: %s" % (p, r.stderr))
            check(r.stderr.strip() == "", "man warnings in %s:\n%s" % (p, r.stderr))
            check(len(r.stdout) > 1000, "man -l %s rendered almost nothing" % p)
    if not ran:
        print("skip: neither groff nor man installed")


def test_every_command_in_man_and_completions():
    cmds = commands()
    man1 = roff_text(read("man", "procd.1"))
    missing = [c for c in cmds if not has_word(man1, c)]
    check(not missing, "commands missing from man/procd.1: %s" % missing)
    # Each command has its own entry under COMMANDS.
    section = man1.split(".SH COMMANDS", 1)[1].split("\n.SH ", 1)[0]
    entries = re.findall(r"^\.TP\n(?:\.B[RI]?\s+\"?|)([a-z]+)", section, re.M)
    for c in cmds:
        check(c in entries, "no .TP entry for %r under COMMANDS in man/procd.1 (found %s)" % (c, entries))
    for f in ("procd.bash", "_procd", "procd.fish"):
        text = read("packaging", "completions", f)
        missing = [c for c in cmds if not has_word(text, c)]
        check(not missing, "commands missing from packaging/completions/%s: %s" % (f, missing))


def test_command_options_in_man_and_completions():
    """Every option declared in src/cli/commands.cpp is documented and completed."""
    code = read("src", "cli", "commands.cpp")
    opts = set()
    for spec in re.findall(r'add_(?:option|flag)\("(-[^"]+)"', code):
        opts |= {o for o in spec.split(",") if o.startswith("-")}
    opts.add("--help-all")
    check({"-c", "--config", "--socket", "--json", "--follow", "--lines", "--rewrite"} <= opts, sorted(opts))
    man1 = roff_text(read("man", "procd.1"))
    missing = [o for o in sorted(opts) if not has_word(man1, o)]
    check(not missing, "options missing from man/procd.1: %s" % missing)
    for f in ("procd.bash", "_procd", "procd.fish"):
        text = read("packaging", "completions", f)
        if f == "procd.fish":  # fish spells them -s c / -l config
            missing = [o for o in opts if not (has_word(text, o) or
                       re.search(r"-%s %s\b" % ("l" if o.startswith("--") else "s", re.escape(o.lstrip("-"))), text))]
        else:
            missing = [o for o in opts if not has_word(text, o)]
        check(not missing, "options missing from packaging/completions/%s: %s" % (f, sorted(missing)))


def spec_toml_keys():
    sp = spec_path()
    if not sp:
        return None
    with open(sp, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"```toml\n(.*?)```", text, re.S)
    check(m, "no toml example in SPEC.md")
    keys, sections = set(), set()
    for line in m.group(1).splitlines():
        s = line.strip()
        sec = re.match(r"^\[([\w.]+)\]", s)
        if sec:
            parts = sec.group(1).split(".")
            # [services.web.restart] -> restart; [logging] -> logging; service names are not keys
            sections.add(parts[0] if len(parts) == 1 else (parts[2] if len(parts) > 2 else parts[0]))
            continue
        first = re.match(r"^#?\s*(\w+)\s*=", s)
        if first and first.group(1) in ("depends_on", "env"):
            keys.add(first.group(1))  # the inner names are services / variables
            continue
        keys |= set(re.findall(r"([A-Za-z_]\w*)\s*=(?!=)", s))
    return keys, sections


def test_every_spec_key_in_toml_man_page():
    r = spec_toml_keys()
    if r is None:
        print("skip: SPEC.md not reachable (set PROCD_SPEC)")
        return
    keys, sections = r
    check(len(keys) > 40, "too few keys parsed from SPEC: %s" % sorted(keys))
    man5 = roff_text(read("man", "procd.toml.5"))
    missing = [k for k in sorted(keys) if not has_word(man5, k)]
    check(not missing, "SPEC keys missing from man/procd.toml.5: %s" % missing)
    for s in sorted(sections):
        check(re.search(r"^\.SH \[(?:services\.NAME\.)?%s\]" % re.escape(s), man5, re.M) or s == "services",
              "no section [%s] in man/procd.toml.5" % s)


def test_every_error_code_in_man_page():
    table = re.findall(r"X\((\w+),\s*(\d+),\s*\"([^\"]*)\"\)", read("include", "procd", "error.hpp"))
    check(len(table) > 50, "error table not parsed")
    man1 = read("man", "procd.1")
    for name, code, _summary in table:
        check(re.search(r"^\.B %s$" % code, man1, re.M), "error %s (%s) missing from man/procd.1" % (code, name))


# --- completions, plist ------------------------------------------------------

def test_completion_syntax():
    comp = src("packaging", "completions")
    r = subprocess.run(["bash", "-n", os.path.join(comp, "procd.bash")], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, r.stderr)
    for shell, f in (("zsh", "_procd"), ("fish", "procd.fish")):
        if shutil.which(shell):
            r = subprocess.run([shell, "-n", os.path.join(comp, f)], capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, "%s -n %s: %s" % (shell, f, r.stderr))
        else:
            print("skip: %s not installed" % shell)


def test_bash_completion_behaviour():
    """Drive the bash function: commands, options, signals; no services when none runs."""
    script = r'''
source "$1"
comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _procd; echo "${COMPREPLY[*]}"; }
echo "A:$(comp procd st)"
echo "B:$(comp procd -c x.toml logs --f)"
echo "C:$(comp procd signal US)"
echo "D:$(comp procd --socket /nonexistent/sock stop '')"
echo "E:$(comp procd exec --w)"
echo "F:$(comp procd - )"
'''
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(PROCD)) + os.pathsep + os.environ.get("PATH", ""))
    r = subprocess.run(["bash", "-c", script, "bash", src("packaging", "completions", "procd.bash")],
                       capture_output=True, text=True, timeout=30, env=env, cwd=tempfile.gettempdir())
    check(r.returncode == 0, r.stderr)
    out = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
    check(set(out["A"].split()) == {"start", "stop", "status"}, out)
    check(out["B"].split() == ["--follow"], out)
    check(set(out["C"].split()) == {"USR1", "USR2"}, out)
    check(out["D"].strip() == "", out)
    check(out["E"].split() == ["--wait-all"], out)
    check({"-c", "--config", "--socket", "--help"} <= set(out["F"].split()), out)


def test_launchd_plist_valid():
    plist = src("packaging", "launchd", "dev.procd.plist")
    if shutil.which("xmllint"):
        r = subprocess.run(["xmllint", "--noout", plist], capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, r.stderr)
    import xml.dom.minidom
    doc = xml.dom.minidom.parse(plist)
    strings = [n.firstChild.data for n in doc.getElementsByTagName("string") if n.firstChild]
    check("run" in strings and "-c" in strings, strings)


# --- Docker, Debian ------------------------------------------------------------

def dockerfile_stages():
    text = read("packaging", "docker", "Dockerfile")
    # Join continuation lines, drop comments.
    logical = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    stages = re.split(r"^FROM ", logical, flags=re.M)[1:]
    check(len(stages) == 2, "expected two stages, got %d" % len(stages))
    return text, stages


def apt_packages(stage):
    pkgs = []
    for m in re.finditer(r"apt-get install ([^&\n]*)", stage):
        pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def test_dockerfile_matches_dev_sh_and_readme():
    text, (build, runtime) = dockerfile_stages()
    check(build.startswith("debian:bookworm "), build[:40])
    check(runtime.startswith("debian:bookworm-slim"), runtime[:40])
    built = apt_packages(build)
    dev = dev_packages()
    missing = [p for p in dev if p.endswith("-dev") and p not in built]
    check(not missing, "-dev packages of .ci/dev.sh missing from the Dockerfile: %s" % missing)
    missing = [p for p in dev if p not in built]
    check(not missing, "packages of .ci/dev.sh missing from the Dockerfile: %s" % missing)
    # The build commands are the README's own.
    readme = read("README.md")
    cmds = re.findall(r"((?:meson setup|ninja -C|meson install -C)[^&\n]*?)\s*(?:&&|$)", build, re.M)
    check(len(cmds) == 3, cmds)
    for c in cmds:
        c = " ".join(c.split())
        check(c in " ".join(readme.split()), "Dockerfile command not in README: %s" % c)
    check('ENTRYPOINT ["procd"]' in text, "ENTRYPOINT")
    check('CMD ["-c", "/etc/procd/procd.toml", "run"]' in text, "CMD")
    check('"procd", "exec", "--"' in text and '"procd", "exec", "--"' in readme, "exec entrypoint example")


def test_dockerfile_runtime_libs_exist_in_debian():
    _, (_, runtime) = dockerfile_stages()
    libs = apt_packages(runtime)
    check({"libuv1", "libfmt9"} <= set(libs), libs)
    lists = "/var/lib/apt/lists"
    if not shutil.which("apt-cache") or not os.path.isdir(lists) or not any(
            "Packages" in f for f in os.listdir(lists)):
        print("skip: no apt lists")
        return
    for p in libs:
        r = subprocess.run(["apt-cache", "show", p], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and ("Package: %s" % p) in r.stdout, "apt-cache show %s failed" % p)
    # Each shared library the binary links (other than libc/libstdc++) is in one of those packages.
    if shutil.which("ldd") and shutil.which("dpkg"):
        r = subprocess.run(["ldd", PROCD], capture_output=True, text=True, timeout=30)
        for so, path in re.findall(r"^\s*(\S+) => (/\S+)", r.stdout, re.M):
            if re.match(r"lib(c|m|gcc_s|stdc\+\+|pthread|dl|rt)\.so", so):
                continue
            if re.match(r"lib(a|ub|l|t)san\.so", so):
                continue  # a sanitizer build (-Db_sanitize): not what the image ships
            real = os.path.realpath(path)
            owner = None
            for cand in (path, real, path.replace("/lib/", "/usr/lib/", 1)):
                d = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True, timeout=30)
                if d.returncode == 0:
                    owner = d.stdout.split(":")[0]
                    break
            if owner:
                check(owner in libs, "%s (%s) is not installed in the runtime stage" % (so, owner))


def test_debian_source_package():
    d = src("packaging", "debian")
    for f in ("control", "rules", "changelog", "copyright", os.path.join("source", "format")):
        check(os.path.isfile(os.path.join(d, f)), "packaging/debian/%s missing" % f)
    check(os.access(os.path.join(d, "rules"), os.X_OK), "debian/rules not executable")
    rules = read("packaging", "debian", "rules")
    check(re.search(r"^\tdh \$@ --buildsystem=meson", rules, re.M), "rules: dh $@ --buildsystem=meson")
    control = read("packaging", "debian", "control")
    check("debhelper-compat (= 13)" in control, "debhelper-compat")
    bd = control.split("Build-Depends:", 1)[1].split("\n\n", 1)[0].split("Standards-Version")[0]
    missing = [p for p in dev_packages() if p.endswith("-dev") and not has_word(bd, p)]
    check(not missing, "Build-Depends lacks %s" % missing)
    check(read("packaging", "debian", "source", "format").strip() == "3.0 (native)", "source/format")
    m = re.match(r"procd \(([^)]+)\)", read("packaging", "debian", "changelog"))
    check(m and m.group(1) == project_version(), "changelog version %s != meson %s" % (m and m.group(1),
                                                                                       project_version()))
    readme = read("README.md")
    check("cp -r packaging/debian . && dpkg-buildpackage -us -uc -b" in readme, "README: Debian build command")


if __name__ == "__main__":
    run_tests([
        test_meson_install_tree,
        test_man_pages_render_without_warnings,
        test_every_command_in_man_and_completions,
        test_command_options_in_man_and_completions,
        test_every_spec_key_in_toml_man_page,
        test_every_error_code_in_man_page,
        test_completion_syntax,
        test_bash_completion_behaviour,
        test_launchd_plist_valid,
        test_dockerfile_matches_dev_sh_and_readme,
        test_dockerfile_runtime_libs_exist_in_debian,
        test_debian_source_package,
    ])
