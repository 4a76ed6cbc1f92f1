// Unit tests for src/log/output.cpp (LineSplitter, LineRing, RotatingFile)
// and the fork-free parts of src/sys: build_service_env and PidLock. File I/O
// happens in a private mkdtemp directory; nothing here forks or sleeps.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "temp_dir.hpp"
#include "procd/output.hpp"
#include "procd/pid_lock.hpp"
#include "procd/service_request.hpp"
#include "procd/spawn.hpp"

namespace fs = std::filesystem;
using namespace procd;

namespace {

std::vector<std::string> split_all(LineSplitter& s, const std::vector<std::string>& chunks, bool finish = true) {
  std::vector<std::string> out;
  auto sink = [&](std::string_view l) { out.emplace_back(l); };
  for (const auto& c : chunks) s.feed(c, sink);
  if (finish) s.finish(sink);
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("output: LineSplitter splits complete lines and keeps empty ones") {
  LineSplitter s;
  CHECK(split_all(s, {"a\nbb\n\nccc\n"}) == std::vector<std::string>{"a", "bb", "", "ccc"});
}

TEST_CASE("output: LineSplitter keeps a partial line across feeds") {
  LineSplitter s;
  std::vector<std::string> out;
  auto sink = [&](std::string_view l) { out.emplace_back(l); };
  s.feed("hel", sink);
  CHECK(out.empty());
  s.feed("lo\nwor", sink);
  CHECK(out == std::vector<std::string>{"hello"});
  s.feed("ld\n", sink);
  CHECK(out == std::vector<std::string>{"hello", "world"});
  s.finish(sink);
  CHECK(out.size() == 2);  // nothing pending: finish emits nothing
}

TEST_CASE("output: LineSplitter finish emits the unterminated rest once") {
  LineSplitter s;
  CHECK(split_all(s, {"x\ntail"}) == std::vector<std::string>{"x", "tail"});
  std::vector<std::string> again;
  s.finish([&](std::string_view l) { again.emplace_back(l); });
  CHECK(again.empty());
}

TEST_CASE("output: LineSplitter strips one trailing CR") {
  LineSplitter s;
  CHECK(split_all(s, {"a\r\nb\r\r\n\r\n", "c\r", "\n"}) == std::vector<std::string>{"a", "b\r", "", "c"});
}

TEST_CASE("output: LineSplitter cuts long lines into max_line pieces") {
  SUBCASE("terminated in one feed") {
    LineSplitter s(4);
    CHECK(split_all(s, {"abcdefghij\nxy\n"}) == std::vector<std::string>{"abcd", "efgh", "ij", "xy"});
  }
  SUBCASE("growing across feeds without a newline stays bounded") {
    LineSplitter s(4);
    std::vector<std::string> out;
    auto sink = [&](std::string_view l) { out.emplace_back(l); };
    for (int i = 0; i < 5; ++i) s.feed("abc", sink);  // 15 bytes, no '\n'
    CHECK(out == std::vector<std::string>{"abca", "bcab", "cabc"});
    s.finish(sink);
    CHECK(out.back() == "abc");
    std::string joined;
    for (auto& l : out) joined += l;
    CHECK(joined == "abcabcabcabcabc");
  }
  SUBCASE("exactly max_line plus CRLF is one piece") {
    LineSplitter s(4);
    CHECK(split_all(s, {"abcd\r", "\n"}) == std::vector<std::string>{"abcd"});
  }
}

TEST_CASE("output: LineRing keeps the last capacity lines in order") {
  LineRing ring(3);
  for (int i = 1; i <= 5; ++i) ring.push(LogLine{i, false, std::to_string(i)});
  CHECK(ring.size() == 3);
  auto all = ring.last(10);
  REQUIRE(all.size() == 3);
  CHECK(all[0].text == "3");
  CHECK(all[2].text == "5");
  auto two = ring.last(2);
  REQUIRE(two.size() == 2);
  CHECK(two[0].text == "4");
  CHECK(two[1].text == "5");
  CHECK(ring.last(0).empty());
  LineRing none(0);
  none.push(LogLine{1, true, "x"});
  CHECK(none.size() == 0);
}

TEST_CASE("output: feed_plain yields exactly what feed() would, or declines") {
  // Random streams over a small alphabet heavy in '\n' and '\r', cut into
  // random chunks; one splitter uses feed_plain where it accepts, the other
  // feed() only. The bytes and the ring contents must agree.
  std::mt19937 rng(12345);
  for (int round = 0; round < 400; ++round) {
    const std::size_t max = 1 + rng() % 12;
    std::string stream;
    std::size_t len = rng() % 300;
    const char alphabet[] = "ab\n\n\r xyz";
    for (std::size_t i = 0; i < len; ++i) stream.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
    if (round % 3 == 0) stream.append(std::string(rng() % 30, 'L'));  // a long tail line
    LineSplitter plain(max), ref(max);
    LineRing ring_plain(5), ring_ref(5);
    std::string got, want;
    std::size_t accepted = 0;
    auto ref_sink = [&](std::string_view l) {
      want.append(l);
      want.push_back('\n');
      ring_ref.push(0, false, l);
    };
    auto slow_sink = [&](std::string_view l) {
      got.append(l);
      got.push_back('\n');
      ring_plain.push(0, false, l);
    };
    for (std::size_t pos = 0; pos < stream.size();) {
      std::size_t n = std::min<std::size_t>(stream.size() - pos, 1 + rng() % 40);
      std::string_view chunk(stream.data() + pos, n);
      pos += n;
      ref.feed(chunk, ref_sink);
      bool ok = plain.feed_plain(chunk, [&](std::string_view head, std::string_view body) {
        REQUIRE(!body.empty());
        REQUIRE(body.back() == '\n');
        got.append(head);
        got.append(body);
        ring_plain.push_lines(0, false, head, body);
      });
      if (ok) ++accepted;
      else plain.feed(chunk, slow_sink);
      REQUIRE(got == want);
    }
    ref.finish(ref_sink);
    plain.finish(slow_sink);
    CHECK(got == want);
    auto a = ring_plain.last(10), b = ring_ref.last(10);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].text == b[i].text);
  }
}

TEST_CASE("output: feed_plain takes plain text and declines CRLF and long lines") {
  LineSplitter s(8);
  std::string head_seen, body_seen;
  auto block = [&](std::string_view head, std::string_view body) {
    head_seen = head;
    body_seen = body;
  };
  CHECK(s.feed_plain("par", block));  // nothing complete yet
  CHECK(body_seen.empty());
  CHECK(s.feed_plain("tial\nnext\nta", block));
  CHECK(head_seen == "par");
  CHECK(body_seen == "tial\nnext\n");
  CHECK_FALSE(s.feed_plain("il\r\n", block));            // CRLF: feed() strips the CR
  CHECK_FALSE(s.feed_plain("il\nabcdefghi\n", block));   // 9 > max_line 8
  CHECK_FALSE(s.feed_plain("ilxxxxxxxxxx", block));      // the partial line would be cut
  CHECK(s.feed_plain("il a\rb\n", block));               // a CR inside a line is kept
  CHECK(head_seen == "ta");
  CHECK(body_seen == "il a\rb\n");
}

TEST_CASE("output: LineRing push_lines keeps the last lines of a block") {
  LineRing ring(3);
  ring.push(LogLine{1, false, "old"});
  ring.push_lines(2, true, "he", "ad\n");
  auto one = ring.last(10);
  REQUIRE(one.size() == 2);
  CHECK(one[1].text == "head");
  CHECK(one[1].ts_ms == 2);
  CHECK(one[1].is_stderr);
  ring.push_lines(3, false, "x", "1\n2\n\n4\n");
  auto all = ring.last(10);
  REQUIRE(all.size() == 3);
  CHECK(all[0].text == "2");
  CHECK(all[1].text == "");
  CHECK(all[2].text == "4");
  CHECK(all[2].ts_ms == 3);
  ring.push_lines(4, false, "", "");  // nothing complete: no line
  CHECK(ring.last(1)[0].text == "4");
  LineRing none(0);
  none.push_lines(1, false, "a", "b\n");
  CHECK(none.size() == 0);
}

TEST_CASE("output: RotatingFile two-part write is one write for rotation") {
  TempDir dir;
  std::string path = dir.file("two.log");
  RotatingFile f(path, 10, 2);
  REQUIRE(f.open().ok());
  REQUIRE(f.write("abc", "de\n").ok());
  CHECK(slurp(path) == "abcde\n");
  REQUIRE(f.write("", "fghij\n").ok());  // 6 + 6 > 10: rotates first, whole
  CHECK(slurp(path) == "fghij\n");
  CHECK(slurp(path + ".1") == "abcde\n");
  REQUIRE(f.write("k\n", "").ok());
  CHECK(slurp(path) == "fghij\nk\n");
}

TEST_CASE("output: RotatingFile rotates at size and loses no line") {
  TempDir dir;
  std::string path = dir.file("svc.log");
  RotatingFile f(path, 4096, 200);
  REQUIRE(f.open().ok());
  const int kLines = 10000;
  for (int i = 0; i < kLines; ++i) REQUIRE(f.write(fmt::format("line {}\n", i)).ok());

  std::map<int, int> seen;
  int files = 0;
  for (int k = 0; k <= 200; ++k) {
    std::string p = k == 0 ? path : fmt::format("{}.{}", path, k);
    if (!fs::exists(p)) continue;
    ++files;
    std::string text = slurp(p);
    CHECK(text.size() <= 4096);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');  // no line split across files
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      REQUIRE(line.rfind("line ", 0) == 0);
      ++seen[std::stoi(line.substr(5))];
    }
  }
  CHECK(files > 20);
  CHECK(!fs::exists(fmt::format("{}.{}", path, files)));  // numbering is contiguous
  REQUIRE(seen.size() == static_cast<std::size_t>(kLines));
  for (auto& [n, count] : seen) CHECK_MESSAGE(count == 1, "line " << n);
}

TEST_CASE("output: RotatingFile keeps max_files rotated files, newest lines intact") {
  TempDir dir;
  std::string path = dir.file("svc.log");
  RotatingFile f(path, 100, 3);
  REQUIRE(f.open().ok());
  for (int i = 0; i < 500; ++i) REQUIRE(f.write(fmt::format("{:04}\n", i)).ok());  // 5 bytes a line
  CHECK(fs::exists(path + ".1"));
  CHECK(fs::exists(path + ".3"));
  CHECK(!fs::exists(path + ".4"));
  // Oldest to newest: .3 .2 .1 current must be one contiguous run ending at 499.
  std::string all = slurp(path + ".3") + slurp(path + ".2") + slurp(path + ".1") + slurp(path);
  std::istringstream in(all);
  std::vector<int> nums;
  for (std::string line; std::getline(in, line);) nums.push_back(std::stoi(line));
  REQUIRE(!nums.empty());
  CHECK(nums.back() == 499);
  for (std::size_t i = 1; i < nums.size(); ++i) CHECK(nums[i] == nums[i - 1] + 1);
  CHECK(nums.size() == 80);  // 4 files x 100 bytes / 5 bytes
}

TEST_CASE("output: RotatingFile without rotation, and an oversized write into an empty file") {
  TempDir dir;
  std::string path = dir.file("plain.log");
  RotatingFile f(path, 0, 5);
  REQUIRE(f.open().ok());
  for (int i = 0; i < 100; ++i) REQUIRE(f.write("0123456789\n").ok());
  CHECK(f.size() == 1100);
  CHECK(!fs::exists(path + ".1"));

  RotatingFile g(dir.file("big.log"), 10, 2);
  REQUIRE(g.open().ok());
  REQUIRE(g.write(std::string(50, 'x') + "\n").ok());  // empty file: no rotation first
  CHECK(!fs::exists(dir.file("big.log.1")));
  REQUIRE(g.write("y\n").ok());
  CHECK(slurp(dir.file("big.log")) == "y\n");
  CHECK(slurp(dir.file("big.log.1")).size() == 51);
}

TEST_CASE("output: RotatingFile picks up the existing size and reopens after a rename") {
  TempDir dir;
  std::string path = dir.file("app.log");
  spit(path, "old\n");
  RotatingFile f(path, 1 << 20, 5);
  REQUIRE(f.open().ok());
  CHECK(f.size() == 4);
  REQUIRE(f.write("a\n").ok());
  fs::rename(path, path + ".moved");  // what logrotate does
  REQUIRE(f.write("b\n").ok());       // still goes to the moved file
  REQUIRE(f.reopen().ok());
  CHECK(f.size() == 0);
  REQUIRE(f.write("c\n").ok());
  CHECK(slurp(path + ".moved") == "old\na\nb\n");
  CHECK(slurp(path) == "c\n");
}

TEST_CASE("output: RotatingFile open error names the path") {
  RotatingFile f("/nonexistent-dir-procd/x.log", 100, 2);
  auto r = f.open();
  REQUIRE(!r.ok());
  CHECK(r.error().code == Code::IoOpen);
  CHECK(r.error().message.find("/nonexistent-dir-procd/x.log") != std::string::npos);
}

TEST_CASE("service request: procd's manager's sd_notify variables never reach a service; a health check runs as its run") {
  ServiceConfig svc;
  svc.name = "web";
  svc.command = {"server"};
  svc.cpu_affinity = {1};
  svc.nice = 5;
  svc.env = {{"OWN", "1"}};
  auto env = build_service_env(svc, {"NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=5000000", "WATCHDOG_PID=1",
                                     "PATH=/bin"});
  REQUIRE(env.ok());
  CHECK(*env == std::vector<std::string>{"PATH=/bin", "OWN=1", "PROCD_SERVICE=web"});
  SpawnRequest run = service_spawn_request(svc, "/etc/app", "/sys/fs/cgroup/x", *env);
  CHECK(run.working_dir == "/etc/app");
  CHECK(run.cpu_affinity == std::vector<int>{1});
  CHECK_FALSE(run.merge_stderr);
  SpawnRequest hc = health_spawn_request(run, {"check", "--quick"});
  CHECK(hc.argv == std::vector<std::string>{"check", "--quick"});
  CHECK(hc.stdio == SpawnStdio::Null);
  CHECK(hc.group == SpawnGroup::NewSession);
  // everything else is the run's own
  CHECK(hc.cpu_affinity == run.cpu_affinity);
  CHECK(hc.nice == 5);
  CHECK(hc.cgroup == run.cgroup);
  CHECK(hc.env == run.env);
  CHECK(hc.working_dir == run.working_dir);
}

TEST_CASE("spawn: build_service_env merges base, env_file, env table, PROCD_SERVICE") {
  TempDir dir;
  spit(dir.file(".env"),
       "# comment\n"
       "\n"
       "FROM_FILE=1\n"
       "export EXPORTED=yes\n"
       "  SPACED =  padded  \r\n"
       "DQ=\"a \\\"quoted\\\" # value\"\n"
       "SQ='single $X'\n"
       "B=file\n"
       "C=file\n"
       "EMPTY=\n");
  ServiceConfig svc;
  svc.name = "web";
  svc.env_file = dir.file(".env");
  svc.env = {{"C", "table"}, {"PROCD_SERVICE", "ignored"}};
  auto r = build_service_env(svc, {"A=base", "B=base", "PATH=/usr/bin:/bin", "PROCD_SERVICE=parent"});
  REQUIRE(r.ok());
  std::map<std::string, std::string> m;
  std::map<std::string, int> count;
  for (const auto& kv : *r) {
    auto eq = kv.find('=');
    REQUIRE(eq != std::string::npos);
    m[kv.substr(0, eq)] = kv.substr(eq + 1);
    ++count[kv.substr(0, eq)];
  }
  for (auto& [k, n] : count) CHECK_MESSAGE(n == 1, k);  // overrides replace, never duplicate
  CHECK(m["A"] == "base");
  CHECK(m["B"] == "file");
  CHECK(m["C"] == "table");
  CHECK(m["FROM_FILE"] == "1");
  CHECK(m["EXPORTED"] == "yes");
  CHECK(m["SPACED"] == "padded");
  CHECK(m["DQ"] == "a \"quoted\" # value");
  CHECK(m["SQ"] == "single $X");
  CHECK(m.count("EMPTY") == 1);
  CHECK(m["EMPTY"].empty());
  CHECK(m["PROCD_SERVICE"] == "web");
  CHECK(m["PATH"] == "/usr/bin:/bin");
}

TEST_CASE("spawn: build_service_env reports an unreadable or malformed env_file") {
  ServiceConfig svc;
  svc.name = "web";
  svc.env_file = "/nonexistent-procd/.env";
  auto r = build_service_env(svc, {});
  REQUIRE(!r.ok());
  CHECK(r.error().code == Code::IoOpen);
  CHECK(r.error().message.find("/nonexistent-procd/.env") != std::string::npos);

  TempDir dir;
  spit(dir.file("bad.env"), "OK=1\nthis is not an assignment\n");
  svc.env_file = dir.file("bad.env");
  auto bad = build_service_env(svc, {});
  REQUIRE(!bad.ok());
  REQUIRE(bad.error().where.has_value());
  CHECK(bad.error().where->line == 2);
}

TEST_CASE("pid_lock: acquire, conflict, holder, release") {
  TempDir dir;
  std::string path = dir.file("procd.pid");
  CHECK(PidLock::holder(path) == 0);
  auto first = PidLock::acquire(path);
  REQUIRE(first.ok());
  CHECK(first->held());
  CHECK(slurp(path) == fmt::format("{}\n", ::getpid()));
  CHECK(PidLock::holder(path) == ::getpid());

  // flock locks belong to the open file description: a second open conflicts
  // even inside the same process.
  auto second = PidLock::acquire(path);
  REQUIRE(!second.ok());
  CHECK(second.error().code == Code::StateAlreadyRunning);
  CHECK(second.error().message == fmt::format("procd is already running (pid {}) with lock {}", ::getpid(), path));

  PidLock moved = std::move(*first);
  CHECK(moved.held());
  CHECK(!first->held());
  moved.release();
  CHECK(!moved.held());
  CHECK(!fs::exists(path));
  CHECK(PidLock::holder(path) == 0);
}

TEST_CASE("pid_lock: a stale file is taken over; a missing directory is IoOpen") {
  TempDir dir;
  std::string path = dir.file("procd.pid");
  spit(path, "garbage that is not a pid and is longer than the new content\n");
  CHECK(PidLock::holder(path) == 0);
  {
    auto lock = PidLock::acquire(path);
    REQUIRE(lock.ok());
    CHECK(slurp(path) == fmt::format("{}\n", ::getpid()));
  }  // destructor releases
  CHECK(!fs::exists(path));

  auto missing = PidLock::acquire(dir.file("no/such/dir/procd.pid"));
  REQUIRE(!missing.ok());
  CHECK(missing.error().code == Code::IoOpen);
  CHECK(missing.error().message.find("no/such/dir/procd.pid") != std::string::npos);
}

// SPEC Part 2: files procd opens as root in places others may write are
// opened without following symlinks, never block on a FIFO, and must be
// regular files; the error names the path with its code.
TEST_CASE("output: RotatingFile refuses a planted symlink or FIFO, and leaves the target alone") {
  TempDir dir;
  const std::string target = dir.file("secret"), log = dir.file("svc.log");
  spit(target, "root only\n");
  REQUIRE(::symlink(target.c_str(), log.c_str()) == 0);
  RotatingFile f(log, 0, 0);
  auto w = f.write("redirected\n");
  REQUIRE_FALSE(w.ok());
  CHECK(w.written == 0);
  CHECK(w.error->code == Code::IoOpen);
  CHECK(w.error->message.find(log) != std::string::npos);
  CHECK(slurp(target) == "root only\n");

  // A FIFO: opening it for writing would wait for a reader, on the loop.
  const std::string fifo = dir.file("fifo.log");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  RotatingFile g(fifo, 0, 0);
  auto r = g.open();  // must not block waiting for a reader, nor write into a pipe
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::IoOpen);
  CHECK(r.error().message.find("not a regular file") != std::string::npos);
}

TEST_CASE("output: PidLock refuses a symlinked PID file, the target keeps its content") {
  TempDir dir;
  const std::string target = dir.file("important"), pid_file = dir.file("procd.pid");
  spit(target, "do not truncate\n");
  REQUIRE(::symlink(target.c_str(), pid_file.c_str()) == 0);
  auto r = PidLock::acquire(pid_file);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::IoOpen);
  CHECK(r.error().message.find(pid_file) != std::string::npos);
  CHECK(slurp(target) == "do not truncate\n");
  CHECK(PidLock::holder(pid_file) == 0);

  const std::string fifo = dir.file("fifo.pid");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  r = PidLock::acquire(fifo);  // would block in open() without O_NONBLOCK
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::IoOpen);
  CHECK(r.error().message.find("not a regular file") != std::string::npos);
  CHECK(PidLock::holder(fifo) == 0);
}
