// RunDrain on fake time: exit and EOF in either order, lingering group
// members, the one drain deadline, and no double finish.
#include <doctest/doctest.h>

#include "procd/run_drain.hpp"

using namespace procd;
using K = DrainVerdict::Kind;

TEST_CASE("drain: exit after EOF finishes at once") {
  RunDrain d;
  d.started(2);
  d.stream_closed();
  d.stream_closed();
  CHECK(d.check(false, 100, 1000).kind == K::Wait);  // still running: nothing to judge
  d.exited({3, 0});
  auto v = d.check(false, 100, 1000);
  CHECK(v.kind == K::Finish);
  CHECK(v.status == ExitStatus{3, 0});
  CHECK(d.phase() == DrainPhase::Idle);
  CHECK(d.check(false, 101, 1000).kind == K::Wait);  // never twice
}

TEST_CASE("drain: exit before EOF arms one deadline, EOF then finishes") {
  RunDrain d;
  d.started(1);
  d.exited({0, 9});
  auto v = d.check(false, 100, 500);
  CHECK(v.kind == K::Arm);
  CHECK(v.deadline == 600);
  CHECK(d.check(false, 200, 500).kind == K::Wait);  // armed once, not pushed out
  CHECK(d.deadline() == 600);
  d.stream_closed();
  v = d.check(false, 300, 500);
  CHECK(v.kind == K::Finish);
  CHECK(v.status == ExitStatus{0, 9});
  CHECK(d.deadline() == 0);
}

TEST_CASE("drain: a lingering group member holds the run until the deadline kills it") {
  RunDrain d;
  d.started(0);
  d.exited({1, 0});
  CHECK(d.check(true, 0, 1000).kind == K::Arm);
  CHECK(d.deadline_passed(999).kind == K::Wait);  // early timer: nothing
  auto v = d.deadline_passed(1000);
  CHECK(v.kind == K::KillAndFinish);
  CHECK(v.status == ExitStatus{1, 0});
  CHECK(d.phase() == DrainPhase::Idle);
  CHECK(d.deadline_passed(2000).kind == K::Wait);
}

TEST_CASE("drain: the group emptying after a reap pass finishes the run") {
  RunDrain d;
  d.started(0);
  d.exited({0, 0});
  CHECK(d.check(true, 10, 1000).kind == K::Arm);
  CHECK(d.check(false, 20, 1000).kind == K::Finish);
}

TEST_CASE("drain: budget is at most 1 s and at least 1 ms") {
  CHECK(drain_budget(10000) == 1000);
  CHECK(drain_budget(200) == 200);
  CHECK(drain_budget(0) == 1);
  CHECK(drain_budget(-5) == 1);
}

TEST_CASE("drain: a populated cgroup at the deadline is killed, then waited for until empty") {
  RunDrain d;
  d.started(1);
  d.exited({0, 15});
  CHECK(d.check(true, 0, 1000).kind == K::Arm);  // a setsid() daemon still in the cgroup
  auto v = d.deadline_passed(1000, true, 5000);
  CHECK(v.kind == K::Kill);
  CHECK(v.deadline == 6000);
  CHECK(d.killed());
  CHECK(d.open_streams() == 0);  // the streams were closed with the kill
  CHECK(d.check(true, 1001, 1000).kind == K::Wait);  // still populated: wait for the event
  v = d.check(false, 1002, 1000);  // cgroup.events: populated 0
  CHECK(v.kind == K::Finish);
  CHECK(v.status == ExitStatus{0, 15});
  CHECK_FALSE(d.killed());
}

TEST_CASE("drain: a cgroup that never empties after the kill finishes at the second deadline") {
  RunDrain d;
  d.started(0);
  d.exited({1, 0});
  CHECK(d.check(true, 0, 100).kind == K::Arm);
  CHECK(d.deadline_passed(100, true, 500).kind == K::Kill);
  CHECK(d.deadline_passed(599, true, 500).kind == K::Wait);
  auto v = d.deadline_passed(600, true, 500);
  CHECK(v.kind == K::KillAndFinish);
  CHECK(d.phase() == DrainPhase::Idle);
}
