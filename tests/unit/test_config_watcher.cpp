// ConfigWatcher on a real loop and real files: a change made after the
// config was read but before the watch was armed is not lost.
#include "procd/config_watcher.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>

#include "temp_dir.hpp"
#include "test_loop.hpp"

namespace {

std::int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("config watcher: a file changed between the read and the watch is seen (one check, debounced)") {
  TestLoop t;
  TempDir dir;
  write(dir.file("procd.toml"), "a\n");
  int changes = 0;
  {
    // Read after the last write: nothing to report.
    procd::ConfigWatcher w(&t.loop, [&](bool) { ++changes; }, 1);
    CHECK(w.watch({dir.file("procd.toml")}, {}, realtime_ns() + 200'000'000).empty());
    CHECK_FALSE(t.run_until([&] { return changes > 0; }, 100));
    w.stop();
  }
  const std::int64_t read_at = realtime_ns();
  write(dir.file("procd.toml"), "b\n");  // after the read, before the watch is armed: no event for it
  {
    procd::ConfigWatcher w(&t.loop, [&](bool) { ++changes; }, 1);
    CHECK(w.watch({dir.file("procd.toml")}, {}, read_at).empty());
    CHECK(t.run_until([&] { return changes > 0; }, 2000));
    CHECK_FALSE(t.run_until([&] { return changes > 1; }, 50));  // once
    w.stop();
  }
  CHECK(changes == 1);
}

TEST_CASE("config watcher: a drop-in directory made between the read and the watch is seen") {
  TestLoop t;
  TempDir dir;
  write(dir.file("procd.toml"), "a\n");
  const std::int64_t read_at = realtime_ns();
  std::filesystem::create_directory(dir.file("conf.d"));
  write(dir.file("conf.d/b.toml"), "b\n");
  int changes = 0;
  bool before_watch = false;
  procd::ConfigWatcher w(&t.loop, [&](bool b) { ++changes, before_watch = b; }, 1);
  CHECK(w.watch({dir.file("procd.toml")}, {dir.file("conf.d/*.toml")}, read_at).empty());
  CHECK(t.run_until([&] { return changes > 0; }, 2000));
  CHECK(before_watch);  // told apart from a change the watch saw
  w.stop();
}

TEST_CASE("config watcher: no read time (a config built in memory): no check") {
  TestLoop t;
  TempDir dir;
  write(dir.file("procd.toml"), "a\n");
  int changes = 0;
  procd::ConfigWatcher w(&t.loop, [&](bool) { ++changes; }, 1);
  CHECK(w.watch({dir.file("procd.toml")}, {}, 0).empty());
  CHECK_FALSE(t.run_until([&] { return changes > 0; }, 100));
  w.stop();
}
