// Unit tests for src/sys/proc_reader.cpp and src/sys/resources.cpp on
// captured /proc/PID/stat text: comm with spaces and ')', short or garbled
// lines, summing by group (zombies excluded), and the CPU arithmetic.
// sample_group() is exercised only on a pgid no process can have and on
// the test's own group.
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

namespace {

// A stat line of pid `pid` in group `pgid`, state `state`, utime 30, stime 10, 5 pages resident.
ProcStat stat_of(int pid, int pgid, char state) {
  auto st = parse_proc_stat(std::to_string(pid) + " (worker) " + state + " 1 " + std::to_string(pgid) + " " +
                            std::to_string(pgid) + " 0 -1 4194560 10 0 0 0 30 10 0 0 20 0 1 0 99 1000 5 0\n");
  REQUIRE(st.has_value());
  return *st;
}

}  // namespace

TEST_CASE("resources: sum_by_group adds up each group's live processes") {
  auto sums = sum_by_group({stat_of(100, 100, 'S'), stat_of(101, 100, 'R'), stat_of(200, 200, 'D'),
                            stat_of(300, 1, 'S'), stat_of(301, 0, 'S')},
                           4096);
  CHECK(sums.size() == 2);  // groups 0 and 1 never belong to a service
  CHECK(sums[100].processes == 2);
  CHECK(sums[100].cpu_ticks == 80);
  CHECK(sums[100].rss_bytes == 2 * 5 * 4096);
  CHECK(sums[200].processes == 1);
}

TEST_CASE("resources: zombies and dying processes are not counted") {
  // A service whose worker exited but is not reaped yet: the zombie holds
  // no memory and its CPU time moves to the parent on reaping.
  auto sums = sum_by_group({stat_of(100, 100, 'S'), stat_of(101, 100, 'Z'), stat_of(102, 100, 'X')}, 4096);
  CHECK(sums[100].processes == 1);
  CHECK(sums[100].cpu_ticks == 40);
  CHECK(sums[100].rss_bytes == 5 * 4096);
  // A group of zombies only has no usage at all.
  auto dead = sum_by_group({stat_of(500, 500, 'Z')}, 4096);
  CHECK(dead[500].processes == 0);
  CHECK(dead[500].cpu_ticks == 0);
}

TEST_CASE("proc_reader: read_proc_stat of this process and of no process") {
  auto self = read_proc_stat(::getpid());
  REQUIRE(self.has_value());
  CHECK(self->pid == ::getpid());
  CHECK(self->pgid == ::getpgrp());
  CHECK(self->ppid == ::getppid());
  CHECK_FALSE(read_proc_stat(0));
  CHECK_FALSE(read_proc_stat(-1));
  CHECK_FALSE(read_proc_stat(2147483647));
}
