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
