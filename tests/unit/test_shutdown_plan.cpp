// The shutdown ladder, stop order and exit code on fake time.
#include <doctest/doctest.h>

#include "procd/shutdown_plan.hpp"

using namespace procd;

TEST_CASE("ladder: graceful, force, kill, measured from the start") {
  ShutdownLadder l;
  CHECK_FALSE(l.active());
  CHECK(l.advance(5).deadline == 0);  // idle: nothing to climb
  CHECK(l.begin(1000, ShutdownConfig{300, 450, 600}) == 1300);
  CHECK(l.stage() == LadderStage::Graceful);
  CHECK(l.begin(2000, ShutdownConfig{1, 2, 3}) == 1300);  // a second begin changes nothing

  auto m = l.advance(1300);
  CHECK(m.kill_all);
  CHECK_FALSE(m.give_up);
  CHECK(m.deadline == 1450);
  CHECK(l.stage() == LadderStage::Forced);

  m = l.advance(1450);
  CHECK(m.kill_all);
  CHECK(m.deadline == 1600);
  CHECK(l.stage() == LadderStage::Ceiling);

  m = l.advance(1600);
  CHECK(m.give_up);
  CHECK_FALSE(m.kill_all);
  CHECK(m.deadline == 0);
  CHECK(l.stage() == LadderStage::Done);
  CHECK_FALSE(l.advance(1700).give_up);  // done is final
}

TEST_CASE("ladder: a second signal skips the graceful wait, once") {
  ShutdownLadder l;
  CHECK_FALSE(l.escalate(0).has_value());  // not shutting down
  l.begin(0, ShutdownConfig{30000, 45000, 60000});
  auto m = l.escalate(10);
  REQUIRE(m.has_value());
  CHECK(m->kill_all);
  CHECK(m->deadline == 45000);  // force stays measured from the start
  CHECK_FALSE(l.escalate(20).has_value());
}

TEST_CASE("ladder: a late timer never sets a deadline in the past") {
  ShutdownLadder l;
  l.begin(0, ShutdownConfig{100, 150, 200});
  CHECK(l.advance(170).deadline == 170);  // force (150) already passed: now
}

TEST_CASE("stop order: dependents first, the dependency once they have no process") {
  // stop order: web (0) depends on db (2), worker (1) depends on db (2).
  std::vector<StopCandidate> s(3);
  s[0].has_process = true;
  s[1].has_process = true;
  s[2].has_process = true;
  s[2].dependents = {0, 1};
  CHECK(stops_due(s) == std::vector<std::size_t>{0, 1});
  s[0].stop_sent = s[1].stop_sent = true;
  CHECK(stops_due(s).empty());  // db waits while web and worker stop
  s[0].has_process = false;
  CHECK(stops_due(s).empty());
  s[1].has_process = false;
  CHECK(stops_due(s) == std::vector<std::size_t>{2});
  CHECK_FALSE(all_stopped(s));
  s[2].stop_sent = true;
  s[2].has_process = false;
  CHECK(stops_due(s).empty());
  CHECK(all_stopped(s));
}

TEST_CASE("stop order: a dependent that never ran does not hold its dependency") {
  std::vector<StopCandidate> s(2);
  s[1].has_process = true;
  s[1].dependents = {0};
  CHECK(stops_due(s) == std::vector<std::size_t>{0, 1});
}

TEST_CASE("exit code") {
  CHECK(shutdown_exit_code(false, std::nullopt) == 0);
  CHECK(shutdown_exit_code(false, 7) == 7);
  CHECK(shutdown_exit_code(false, 0) == 1);
  CHECK(shutdown_exit_code(true, 7) == 3);
  CHECK(std::string(shutdown_reason_name(ShutdownReason::Critical)) == "critical service failed");
}
