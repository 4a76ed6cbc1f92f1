// evaluate_dependencies: each condition against each dependency phase, and blocking.
#include <doctest/doctest.h>

#include <map>

#include "procd/dependency_gate.hpp"

using namespace procd;

namespace {

struct World {
  std::map<std::string, DependencyView> views;
  DependencyLookup lookup() const {
    return [this](const std::string& n) -> std::optional<DependencyView> {
      auto it = views.find(n);
      if (it == views.end()) return std::nullopt;
      return it->second;
    };
  }
};

GateVerdict verdict(DependCondition c, DependencyView v) {
  World w;
  w.views["db"] = v;
  return evaluate_dependencies({{"db", c}}, w.lookup()).verdict;
}

}  // namespace

TEST_CASE("dependency_gate: no dependencies means go") {
  World w;
  CHECK(evaluate_dependencies({}, w.lookup()).verdict == GateVerdict::Go);
}

TEST_CASE("dependency_gate: started") {
  CHECK(verdict(DependCondition::Started, {Phase::Stopped, Want::Down, false}) == GateVerdict::Wait);
  CHECK(verdict(DependCondition::Started, {Phase::Starting, Want::Up, false}) == GateVerdict::Go);
  CHECK(verdict(DependCondition::Started, {Phase::Running, Want::Up, false}) == GateVerdict::Go);
  CHECK(verdict(DependCondition::Started, {Phase::Restarting, Want::Up, false}) == GateVerdict::Wait);
  CHECK(verdict(DependCondition::Started, {Phase::Stopped, Want::Up, true}) == GateVerdict::Go);
}

TEST_CASE("dependency_gate: ready") {
  CHECK(verdict(DependCondition::Ready, {Phase::Starting, Want::Up, false}) == GateVerdict::Wait);
  CHECK(verdict(DependCondition::Ready, {Phase::Running, Want::Up, false}) == GateVerdict::Go);
  CHECK(verdict(DependCondition::Ready, {Phase::Stopping, Want::Down, false}) == GateVerdict::Wait);
  CHECK(verdict(DependCondition::Ready, {Phase::Stopped, Want::Up, true}) == GateVerdict::Go);
}

TEST_CASE("dependency_gate: completed") {
  CHECK(verdict(DependCondition::Completed, {Phase::Running, Want::Up, false}) == GateVerdict::Wait);
  CHECK(verdict(DependCondition::Completed, {Phase::Stopped, Want::Up, false}) == GateVerdict::Wait);
  CHECK(verdict(DependCondition::Completed, {Phase::Stopped, Want::Up, true}) == GateVerdict::Go);
  CHECK(verdict(DependCondition::Completed, {Phase::Restarting, Want::Up, false}) == GateVerdict::Wait);
}

TEST_CASE("dependency_gate: a failed dependency blocks, naming it") {
  World w;
  w.views["db"] = {Phase::Failed, Want::Up, false};
  w.views["cache"] = {Phase::Starting, Want::Up, false};
  Gate g = evaluate_dependencies({{"cache", DependCondition::Ready}, {"db", DependCondition::Ready}}, w.lookup());
  CHECK(g.verdict == GateVerdict::Blocked);
  CHECK(g.reason == "dependency db failed");
}

TEST_CASE("dependency_gate: waiting lists every unmet condition") {
  World w;
  w.views["db"] = {Phase::Starting, Want::Up, false};
  w.views["migrate"] = {Phase::Running, Want::Up, false};
  Gate g = evaluate_dependencies({{"db", DependCondition::Ready}, {"migrate", DependCondition::Completed}}, w.lookup());
  CHECK(g.verdict == GateVerdict::Wait);
  CHECK(g.reason == "waiting for db (ready), migrate (completed)");
}

TEST_CASE("dependency_gate: an unknown dependency blocks") {
  World w;
  Gate g = evaluate_dependencies({{"ghost", DependCondition::Ready}}, w.lookup());
  CHECK(g.verdict == GateVerdict::Blocked);
  CHECK(g.reason == "dependency ghost does not exist");
}

TEST_CASE("dependency_gate: a dependency down for good stops its started/ready dependents") {
  for (auto c : {DependCondition::Started, DependCondition::Ready}) {
    CHECK(dependency_down_stops(Phase::Failed, StopReason::None, c));
    CHECK(dependency_down_stops(Phase::Stopping, StopReason::Requested, c));
    CHECK(dependency_down_stops(Phase::Stopping, StopReason::Dependency, c));  // a chain stops in turn
    for (auto r : {StopReason::Restart, StopReason::Reload, StopReason::Rolling, StopReason::Unhealthy,
                   StopReason::Memory, StopReason::Watchdog, StopReason::Shutdown})
      CHECK_FALSE(dependency_down_stops(Phase::Stopping, r, c));
    CHECK_FALSE(dependency_down_stops(Phase::Restarting, StopReason::None, c));
    CHECK_FALSE(dependency_down_stops(Phase::Stopped, StopReason::None, c));
  }
  CHECK_FALSE(dependency_down_stops(Phase::Failed, StopReason::None, DependCondition::Completed));
  CHECK_FALSE(dependency_down_stops(Phase::Stopping, StopReason::Requested, DependCondition::Completed));
}
