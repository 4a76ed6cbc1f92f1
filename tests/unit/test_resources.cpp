// Unit tests for src/sys/resources.cpp on captured /proc/PID/stat text:
// comm with spaces and ')', short or garbled lines, and the CPU arithmetic.
// sample_group() is exercised only on a pgid no process can have.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "procd/resources.hpp"

using namespace procd;

namespace {

// A real line from a Linux 6.x kernel (sleep 100, pid 4242, pgrp 4240).
const std::string kSleep =
    "4242 (sleep) S 4240 4240 4240 34816 4240 4194304 107 0 0 0 3 5 0 0 20 0 1 0 123456 "
    "8351744 132 18446744073709551615 94000000000000 94000000016000 140000000000000 0 0 0 0 0 0 0 0 0 17 3 0 0 "
    "0 0 0 94000000030000 94000000031000 94000000040000 140000000001000 140000000001020 140000000001020 "
    "140000000004000 0\n";

std::string with_comm(const std::string& comm) {
  return "77 (" + comm + ") R 1 70 70 0 -1 4194560 10 0 0 0 250 125 0 0 20 0 1 0 99 1000 2048 0\n";
}

}  // namespace

TEST_CASE("resources: parse a plain stat line") {
  auto st = parse_proc_stat(kSleep);
  REQUIRE(st.has_value());
  CHECK(st->pid == 4242);
  CHECK(st->state == 'S');
  CHECK(st->ppid == 4240);
  CHECK(st->pgid == 4240);
  CHECK(st->utime_ticks == 3);
  CHECK(st->stime_ticks == 5);
  CHECK(st->rss_pages == 132);
}

TEST_CASE("resources: comm with spaces and parentheses") {
  for (const char* comm : {"my server", "a) b", "((x))", ") R 1 2 3", "(", ""}) {
    CAPTURE(comm);
    auto st = parse_proc_stat(with_comm(comm));
    REQUIRE(st.has_value());
    CHECK(st->pid == 77);
    CHECK(st->state == 'R');
    CHECK(st->ppid == 1);
    CHECK(st->pgid == 70);
    CHECK(st->utime_ticks == 250);
    CHECK(st->stime_ticks == 125);
    CHECK(st->rss_pages == 2048);
  }
}

TEST_CASE("resources: garbled input gives nullopt") {
  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("4242 sleep S 1 2"));                 // no parentheses
  CHECK_FALSE(parse_proc_stat("4242 (sleep) S 4240 4240 4240"));    // truncated
  CHECK_FALSE(parse_proc_stat("abc (x) R 1 70 70 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 10 5"));  // pid
  CHECK_FALSE(parse_proc_stat("7 (x) RR 1 70 70 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 10 5"));    // state
  CHECK_FALSE(parse_proc_stat("7 (x) R 1 7x 70 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 10 5"));     // pgrp
  CHECK_FALSE(parse_proc_stat("7 (x) R 1 70 70 0 -1 0 0 0 0 0 -1 1 0 0 20 0 1 0 9 10 5"));    // utime
  CHECK_FALSE(parse_proc_stat("7) (x R 1 70 70 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 10 5"));     // ')' before '('
  // Exactly up to rss is enough (later fields are not needed).
  auto st = parse_proc_stat("7 (x) Z 1 70 70 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 10 5");
  REQUIRE(st.has_value());
  CHECK(st->state == 'Z');
  CHECK(st->rss_pages == 5);
  // A negative rss is treated as nothing resident.
  auto neg = parse_proc_stat("7 (x) S 1 70 70 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 10 -3");
  REQUIRE(neg.has_value());
  CHECK(neg->rss_pages == 0);
}

TEST_CASE("resources: cpu arithmetic") {
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  CHECK(ticks_to_seconds(0) == 0.0);
  CHECK(ticks_to_seconds(static_cast<std::uint64_t>(hz)) == doctest::Approx(1.0));
  // One full core for one second.
  auto t = static_cast<std::uint64_t>(hz);
  CHECK(cpu_percent(1000, 1000 + t, 1000) == doctest::Approx(100.0));
  // Two cores.
  CHECK(cpu_percent(0, 2 * t, 1000) == doctest::Approx(200.0));
  // Half a core over two seconds.
  CHECK(cpu_percent(0, t, 2000) == doctest::Approx(50.0));
  // Idle, shrinking (a member exited), and a zero interval are all 0.
  CHECK(cpu_percent(50, 50, 1000) == 0.0);
  CHECK(cpu_percent(80, 50, 1000) == 0.0);
  CHECK(cpu_percent(0, 100, 0) == 0.0);
  CHECK(cpu_percent(0, 100, -5) == 0.0);
}

TEST_CASE("resources: sample_group of an impossible group is empty") {
  // pgid 0 and negatives never name a group; no process has pgid INT_MAX.
  for (pid_t pgid : {0, -1, 2147483647}) {
    auto u = sample_group(pgid);
    CHECK(u.processes == 0);
    CHECK(u.cpu_ticks == 0);
    CHECK(u.rss_bytes == 0);
  }
  // Our own group exists and holds at least this test process.
  auto self = sample_group(::getpgrp());
  CHECK(self.processes >= 1);
  CHECK(self.rss_bytes > 0);
}
