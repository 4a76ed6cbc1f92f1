"""The e2e tier's base-tarball cache rule, without podman or a network.

A fake `mmdebstrap` on PATH follows the real one's output rule (the format
comes from --format, else from the target's extension; a target it cannot
place, such as NAME.tar.part, becomes a directory) and can be told to write
a directory or a cut-short file whatever it is asked. base_tarball must only
ever leave a whole tar file at the cache path, treat a directory or a partial
file found there as absent (remove and rebuild), and never pass a
non-tarball on to `podman import`.
"""
import os
import stat
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

FAKE = textwrap.dedent(r'''
    #!/usr/bin/env python3
    import io, os, sys, tarfile
    args = sys.argv[1:]
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(" ".join(args) + "\n")
    mode = os.environ.get("FAKE_MODE", "honest")
    fmt = None
    pos = []
    for a in args:
        if a.startswith("--format="):
            fmt = a.split("=", 1)[1]
        elif not a.startswith("--"):
            pos.append(a)
    target = pos[1]
    if fmt is None:  # mmdebstrap: guessed from the extension, else a directory
        fmt = "tar" if target.endswith((".tar", ".tar.gz", ".tar.xz", ".tar.zst")) else "directory"
    if mode == "dir":
        fmt = "directory"
    def whole_tar(f):
        with tarfile.open(fileobj=f, mode="w") as tf:
            data = b"PRETTY_NAME=fake bookworm\n" * 200
            info = tarfile.TarInfo("./etc/os-release")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    if fmt == "directory":
        os.makedirs(os.path.join(target, "etc"), exist_ok=True)
        open(os.path.join(target, "etc", "os-release"), "w").write("fake\n")
    else:
        buf = io.BytesIO()
        whole_tar(buf)
        data = buf.getvalue()
        if mode == "cut":  # killed while writing
            data = data[:700]
        with open(target, "wb") as f:
            f.write(data)
        if mode == "cut":
            sys.exit(1)
''').lstrip()


class BaseTarballCache(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = self.tmp.name
        self.bin = os.path.join(d, "bin")
        self.cache = os.path.join(d, "cache")
        os.makedirs(self.bin)
        fake = os.path.join(self.bin, "mmdebstrap")
        with open(fake, "w") as f:
            f.write(FAKE)
        os.chmod(fake, 0o755)
        self.log = os.path.join(d, "calls.log")
        self.env = dict(os.environ)
        os.environ["PATH"] = self.bin + os.pathsep + os.environ["PATH"]
        os.environ["FAKE_LOG"] = self.log
        os.environ["PROCD_E2E_MIRROR"] = "http://mirror.invalid/debian"
        os.environ["FAKE_MODE"] = "honest"

    def tearDown(self):
        os.environ.clear()
        os.environ.update(self.env)
        self.tmp.cleanup()

    def calls(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()

    def assert_whole_file(self, path):
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode), "%s is not a regular file" % path)
        self.assertTrue(e2e.tarball_is_whole(path))
        self.assertFalse(os.path.lexists(path + ".part"), "the .part file was left behind")

    def test_build_writes_a_tar_file_not_a_directory(self):
        # mmdebstrap's own rule would make NAME.tar.part a directory: the call
        # must name the format.
        path, built = e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        self.assertTrue(built)
        self.assert_whole_file(path)
        self.assertEqual(len(self.calls()), 1)
        self.assertIn("--format=tar", self.calls()[0].split())

    def test_a_whole_cached_tarball_is_used_as_it_is(self):
        path, _ = e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        path2, built = e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        self.assertEqual(path, path2)
        self.assertFalse(built)
        self.assertEqual(len(self.calls()), 1)

    def test_a_directory_from_the_builder_is_refused_and_not_cached(self):
        os.environ["FAKE_MODE"] = "dir"
        with self.assertRaises(AssertionError) as cm:
            e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        self.assertIn("directory", str(cm.exception))
        self.assertEqual(os.listdir(self.cache), [], "a directory was left in the cache")
        # the next run, with a builder that writes a file, builds and uses it
        os.environ["FAKE_MODE"] = "honest"
        path, built = e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        self.assertTrue(built)
        self.assert_whole_file(path)

    def test_a_directory_at_the_cache_path_counts_as_absent(self):
        # what the .part naming left on machines before the fix
        name = "bookworm-systemd"
        include = ["systemd"]
        path, _ = e2e.base_tarball(name, include, cache=self.cache)
        os.unlink(path)
        os.makedirs(os.path.join(path, "etc"))
        path2, built = e2e.base_tarball(name, include, cache=self.cache)
        self.assertEqual(path, path2)
        self.assertTrue(built)
        self.assert_whole_file(path)

    def test_a_partial_file_at_the_cache_path_or_part_is_rebuilt(self):
        path, _ = e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        with open(path, "r+b") as f:
            f.truncate(700)
        with open(path + ".part", "wb") as f:
            f.write(b"half")
        _, built = e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        self.assertTrue(built)
        self.assert_whole_file(path)
        for empty in (b"",):
            with open(path, "wb") as f:
                f.write(empty)
            _, built = e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
            self.assertTrue(built)
            self.assert_whole_file(path)

    def test_an_interrupted_build_leaves_nothing(self):
        os.environ["FAKE_MODE"] = "cut"
        with self.assertRaises(AssertionError):
            e2e.base_tarball("bookworm-minbase", [], cache=self.cache)
        self.assertEqual(os.listdir(self.cache), [])


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"skipped: {len(result.skipped)}")
    print(f"RESULT: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(1 if failed else 0)
