// Unit tests for the log path's pure parts and its writers on real
// descriptors: log_format (line shapes, JSON escaping), LogOutput (a
// non-blocking queue over a pipe nobody reads) and RotatingFile's
// chunk splitting and partial writes (RLIMIT_FSIZE makes a short write
// in-process). Nothing here forks or sleeps.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "procd/log_format.hpp"
#include "procd/log_output.hpp"
#include "procd/output.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace procd;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lines(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += fmt::format("burst line {:05}\n", i);  // 17 bytes
  return s;
}

}  // namespace

TEST_CASE("log_format: timestamp is formatted per millisecond") {
  LineStamp stamp;
  CHECK(stamp.at(1767323045678) == "2026-01-02T03:04:05.678Z");
  CHECK(stamp.at(1767323045678) == "2026-01-02T03:04:05.678Z");
  CHECK(stamp.at(1767323045009) == "2026-01-02T03:04:05.009Z");
  CHECK(stamp.at(1767323046000) == "2026-01-02T03:04:06.000Z");
}

TEST_CASE("log_format: service lines in text and JSON") {
  std::string out;
  append_service_line(out, {}, "TS", "web", false, "hello");
  append_service_line(out, {}, "TS", "web", true, "oops");
  CHECK(out == "TS INFO  web | hello\nTS INFO  web ! oops\n");
  out.clear();
  append_service_line(out, {true, false}, "TS", "web", true, "a \"q\" \\ \t\x01\x1b[31m");
  auto j = nlohmann::json::parse(out);
  CHECK(j["stream"] == "stderr");
  CHECK(j["service"] == "web");
  CHECK(j["level"] == "info");
  CHECK(j["ts"] == "TS");
  CHECK(j["msg"] == "a \"q\" \\ \t\x01\x1b[31m");
  CHECK(out.back() == '\n');
  CHECK(out.find('\x1b') == std::string::npos);  // control characters escaped
}

TEST_CASE("log_format: JSON strings stay valid UTF-8 whatever the bytes") {
  const std::vector<std::string> inputs = {
      "plain", "caf\xC3\xA9", "\xE2\x82\xAC euro", "\xF0\x9F\x98\x80", "bad \xFF byte", "cut \xE2\x82",
      "overlong \xC0\xAF", "\xE2\x28\xA1", "\x80\x80", "\xF0\x9F\x98", "a\xC3", "surrogate \xED\xA0\x80", "too big \xF4\x90\x80\x80", "\x7F del", std::string("nul\0x", 5)};
  for (const auto& in : inputs) {
    std::string out;
    append_json_string(out, in);
    nlohmann::json parsed;
    REQUIRE_NOTHROW(parsed = nlohmann::json::parse(out));
    // Same result as the JSON library's own "replace invalid UTF-8" mode.
    CHECK(parsed.get<std::string>() ==
          nlohmann::json::parse(nlohmann::json(in).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
              .get<std::string>());
  }
}

TEST_CASE("log_format: the wide scan finds a special byte at any position") {
  for (std::string special : {"\"", "\\", "\n", "\x1f", "\x7f", "\xC3\xA9", "\xFF", "\xE2\x82"})
    for (std::size_t at = 0; at < 40; ++at) {
      std::string in = std::string(at, 'a') + special + std::string(40 - at, 'b');
      std::string out;
      append_json_string(out, in);
      std::string lib = nlohmann::json(in).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      CHECK_MESSAGE(nlohmann::json::parse(out) == nlohmann::json::parse(lib), "special at " << at);
    }
}

TEST_CASE("log_output: a pipe nobody reads never blocks, and the rest is written once, in order") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto out = LogOutput::to_stderr(fds[1]);
  // The original descriptor stays blocking: procd's O_NONBLOCK is private.
  CHECK((::fcntl(fds[1], F_GETFL) & O_NONBLOCK) == 0);
  std::string expect;
  for (int i = 0; i < 20000; ++i) {
    std::string line = fmt::format("{:06} {}\n", i, std::string(50, 'x'));
    expect += line;
    out->append(line);
  }
  CHECK(out->write_some() == LogOutput::Progress::Again);  // pipe full: returns at once
  CHECK(out->pending() > 0);
  CHECK(out->pending() < expect.size());
  std::string got;
  char buf[65536];
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  for (int round = 0; round < 10000 && got.size() < expect.size(); ++round) {
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
    out->write_some();
  }
  CHECK(out->pending() == 0);
  CHECK(got == expect);
  out.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("log_output: a reader gone drops the queue instead of failing forever") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto out = LogOutput::to_stderr(fds[1]);
  ::close(fds[0]);
  ::signal(SIGPIPE, SIG_IGN);
  out->append("line\n");
  CHECK(out->write_some() == LogOutput::Progress::Gone);
  CHECK(out->pending() == 0);
  out->append("more\n");
  CHECK(out->pending() == 0);
  ::close(fds[1]);
}

TEST_CASE("rotating_file: a burst in one write is split at the last line that fits") {
  TempDir dir;
  std::string path = dir.file("b.log");
  RotatingFile f(path, 4096, 1000);
  REQUIRE(f.open().ok());
  std::string burst = lines(0, 2000);
  auto w = f.write(burst.substr(0, 1000), burst.substr(1000));
  REQUIRE(w.ok());
  CHECK(w.written == burst.size());
  std::string all;
  int files = 0;
  for (int k = 1000; k >= 0; --k) {
    std::string p = k == 0 ? path : fmt::format("{}.{}", path, k);
    if (!fs::exists(p)) continue;
    ++files;
    std::string text = slurp(p);
    CHECK(text.size() <= 4096);
    CHECK(text.back() == '\n');
    if (k > 0) CHECK(text.size() > 4096 - 17);  // full: nothing cut short
    all += text;
  }
  CHECK(files == static_cast<int>((burst.size() + 4095 - 4096 % 17) / (4096 - 4096 % 17)));
  CHECK(all == burst);
}

TEST_CASE("rotating_file: a line longer than max_file_size stands alone") {
  TempDir dir;
  std::string path = dir.file("l.log");
  RotatingFile f(path, 100, 5);
  REQUIRE(f.open().ok());
  std::string big(300, 'L');
  REQUIRE(f.write("a\n" + big + "\nb\n").ok());
  CHECK(slurp(path + ".2") == "a\n");
  CHECK(slurp(path + ".1") == big + "\n");
  CHECK(slurp(path) == "b\n");
}

TEST_CASE("rotating_file: after a short write the rest is written once, and a cut line is finished in its file") {
  TempDir dir;
  std::string path = dir.file("s.log");
  RotatingFile f(path, 100, 3);
  REQUIRE(f.open().ok());
  // A file-size limit makes the write short (then EFBIG), like a full disk.
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit low = old;
  low.rlim_cur = 150;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &low) == 0);
  const std::string big = std::string(300, 'L') + "\n";  // longer than max_file_size: stands alone
  const std::string data = big + "next\n";
  auto w = f.write(data);
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  REQUIRE_FALSE(w.ok());
  CHECK(w.written == 150);
  // The caller passes exactly the rest again: the file is past max_file_size,
  // but the cut line is finished where it began, then rotation goes on.
  auto again = f.write(std::string_view(data).substr(w.written));
  REQUIRE(again.ok());
  CHECK(again.written == data.size() - 150);
  CHECK(slurp(path + ".1") == big);
  CHECK(slurp(path) == "next\n");
}
