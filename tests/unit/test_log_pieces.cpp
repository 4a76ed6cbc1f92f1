// Unit tests for the log pipeline's edges (issue 26): a line past the bound
// is cut into marked pieces that join back into it (LineSplitter, LineFrame,
// log_item); a failing rotation is reported once and retried with back-off
// on the caller's clock (RotatingFile); raw bytes survive the protocol;
// terminal output carries no control byte. No sleep, no fork.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "procd/log_format.hpp"
#include "procd/output.hpp"
#include "procd/protocol.hpp"
#include "temp_dir.hpp"

using namespace procd;

namespace {

struct Piece {
  std::string text;
  bool cut, continues;
};

std::vector<Piece> pieces_of(LineSplitter& s, const std::vector<std::string>& chunks) {
  std::vector<Piece> out;
  auto sink = [&](std::string_view l) { out.push_back({std::string(l), s.cut(), s.continues()}); };
  for (const auto& c : chunks) s.feed(c, sink);
  s.finish(sink);
  return out;
}

constexpr std::size_t k64 = 64 * 1024;

}  // namespace

TEST_CASE("log pieces: a line at the 64 KiB bound is one piece; past it, cut pieces join into it") {
  for (std::size_t len : {k64, k64 + 1, std::size_t{200 * 1024}}) {
    CAPTURE(len);
    const std::string line(len, 'x');
    for (std::size_t chunk : {std::size_t{4096}, len + 1}) {  // in small reads, and in one
      LineSplitter s;
      std::vector<std::string> chunks;
      const std::string bytes = line + "\nend\n";
      for (std::size_t i = 0; i < bytes.size(); i += chunk) chunks.push_back(bytes.substr(i, chunk));
      auto got = pieces_of(s, chunks);
      const std::size_t n = (len + k64 - 1) / k64;
      REQUIRE(got.size() == n + 1);
      std::string joined;
      for (std::size_t i = 0; i < n; ++i) {
        joined += got[i].text;
        CHECK(got[i].cut == (i + 1 < n));
        CHECK(got[i].continues == (i > 0));
      }
      CHECK(joined == line);
      CHECK(got[n].text == "end");
      CHECK_FALSE(got[n].cut);
      CHECK_FALSE(got[n].continues);
    }
  }
}

TEST_CASE("log pieces: a cut piece is marked in procd's text and JSON lines") {
  std::string out;
  append_service_line(out, {}, "TS", "web", false, "abc", true);
  append_service_line(out, {}, "TS", "web", true, "def", true);
  append_service_line(out, {}, "TS", "web", false, "ghi");
  CHECK(out == "TS INFO  web |+abc\nTS INFO  web !+def\nTS INFO  web | ghi\n");
  out.clear();
  append_service_line(out, {true, false}, "TS", "web", false, "abc", true);
  auto j = nlohmann::json::parse(out);
  CHECK(j["msg"] == "abc");
  CHECK(j["partial"] == true);
  out.clear();
  append_service_line(out, {true, false}, "TS", "web", false, "abc");
  CHECK_FALSE(nlohmann::json::parse(out).contains("partial"));
}

TEST_CASE("log pieces: log_item marks a cut piece") {
  auto j = nlohmann::json::parse(log_item({0, "web", false, "abc", true}));
  CHECK(j["partial"] == true);
  CHECK_FALSE(nlohmann::json::parse(log_item({0, "web", false, "abc"})).contains("partial"));
}

TEST_CASE("log pieces: log_item carries bytes that are not UTF-8 exactly") {
  for (std::string bytes : {std::string("ok \xff\xfe mid \x80 end"), std::string("\xc3"), std::string(1, '\0'),
                            std::string("caf\xc3\xa9"), std::string()}) {
    CAPTURE(bytes);
    std::string item = log_item({0, "web", false, bytes});
    auto j = nlohmann::json::parse(item);  // valid JSON, valid UTF-8
    CHECK(log_item_bytes(j) == bytes);
    const bool valid = bytes.find('\xff') == std::string::npos && bytes != "\xc3" &&
                       bytes.find('\x80') == std::string::npos;
    CHECK(j.contains("line_base64") == !valid);  // only when needed
  }
}

TEST_CASE("log pieces: procd's text lines on a terminal carry no control byte") {
  std::string out;
  ServiceLineFormat tty{false, false, true};
  append_service_line(out, tty, "TS", "web", false, "a\x1b]0;t\x07" "b\rc\td");
  CHECK(out == "TS INFO  web | a\\x1b]0;t\\x07b\\x0dc\td\n");
  out.clear();
  append_service_line(out, {}, "TS", "web", false, "a\x1b" "b\rc");  // a pipe or file: byte for byte
  CHECK(out == "TS INFO  web | a\x1b" "b\rc\n");
}

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

TEST_CASE("log pieces: a failing rotation is reported once, retried with back-off, and its recovery told") {
  TempDir dir;
  const std::string path = dir.file("r.log");
  std::int64_t now = 0;
  RotatingFile f(path, 10, 1);
  f.set_clock([&] { return now; });
  REQUIRE(f.open().ok());
  std::filesystem::create_directories(path + ".1/keep");  // rename(path, path.1) fails: EISDIR
  const std::string line = "0123456789\n";
  REQUIRE(f.write(line).ok());
  auto w = f.write(line);  // needs a rotation: it fails, the line is written anyway
  REQUIRE_FALSE(w.ok());
  CHECK(w.error->code == Code::IoRotate);
  CHECK(w.written == line.size());
  int errors = 0;
  for (int i = 0; i < 100; ++i) errors += f.write(line).ok() ? 0 : 1;  // same instant: no retry, no report
  CHECK(errors == 0);
  CHECK(slurp(path).size() == 102 * line.size());  // nothing lost
  now = 999;
  std::filesystem::remove_all(path + ".1");
  CHECK(f.write(line).ok());
  CHECK_FALSE(std::filesystem::exists(path + ".1"));  // not retried before 1 s
  now = 1000;
  w = f.write(line);
  CHECK(w.ok());
  CHECK(w.rotation_recovered);
  CHECK(std::filesystem::is_regular_file(path + ".1"));
  CHECK(slurp(path) == line);
  // A new outage: reported again, then retries after 1 s, 2 s, 4 s … (60 s at most).
  std::filesystem::remove_all(path + ".1");
  std::filesystem::create_directories(path + ".1/keep");
  now = 2000;
  w = f.write(line);
  REQUIRE_FALSE(w.ok());
  CHECK(w.error->code == Code::IoRotate);
  now = 3000;  // retried: fails again, quietly; next try at 3000 + 2000
  CHECK(f.write(line).ok());
  std::filesystem::remove_all(path + ".1");
  now = 4999;
  CHECK(f.write(line).ok());
  CHECK_FALSE(std::filesystem::exists(path + ".1"));
  now = 5000;
  w = f.write(line);
  CHECK(w.ok());
  CHECK(w.rotation_recovered);
  CHECK(std::filesystem::is_regular_file(path + ".1"));
  // The back-off is capped at 60 s.
  std::filesystem::remove_all(path + ".1");
  std::filesystem::create_directories(path + ".1/keep");
  for (int i = 0; i < 12; ++i) {
    now += 60000;
    f.write(line);
  }
  std::filesystem::remove_all(path + ".1");
  now += 60000;
  CHECK(f.write(line).rotation_recovered);
}
