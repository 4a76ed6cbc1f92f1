// ShutdownBegan: once procd shuts down, no run is brought back — not by the
// restart policy, not by a pending restart delay — while the stop itself
// waits for the service's turn in dependency order (issue 10, defect 6).
#include <doctest/doctest.h>

#include "procd/service_machine.hpp"

using namespace procd;

namespace {

MachineSpec always() {
  MachineSpec s;
  s.restart.policy = RestartPolicyKind::Always;
  s.restart.delay_ms = 100;
  return s;
}

template <typename A>
bool has(const StepResult& r) {
  for (const auto& a : r.actions)
    if (std::holds_alternative<A>(a)) return true;
  return false;
}

ServiceState running(const MachineSpec& spec) {
  ServiceState st = step(ServiceState{}, ev::StartRequested{}, 0, spec).state;
  return step(st, ev::Spawned{42}, 1, spec).state;
}

}  // namespace

TEST_CASE("shutdown began: a running service is not signalled, and its exit is not restarted") {
  MachineSpec spec = always();
  ServiceState st = running(spec);
  REQUIRE(st.phase == Phase::Running);
  auto r = step(st, ev::ShutdownBegan{}, 10, spec);
  CHECK(r.state.phase == Phase::Running);
  CHECK(r.state.want == Want::Down);
  CHECK_FALSE(has<act::Signal>(r));
  auto e = step(r.state, ev::Exited{{1, 0}}, 20, spec);
  CHECK(e.state.phase == Phase::Stopped);
  CHECK_FALSE(has<act::Spawn>(e));
  CHECK_FALSE(has<act::ArmTimer>(e));
}

TEST_CASE("shutdown began: a pending restart delay is dropped") {
  MachineSpec spec = always();
  ServiceState st = running(spec);
  st = step(st, ev::Exited{{1, 0}}, 20, spec).state;
  REQUIRE(st.phase == Phase::Restarting);
  auto r = step(st, ev::ShutdownBegan{}, 30, spec);
  CHECK(r.state.phase == Phase::Stopped);
  CHECK(r.state.deadline == 0);
  CHECK(has<act::CancelTimer>(r));
  CHECK(step(r.state, ev::TimerFired{}, 200, spec).state.phase == Phase::Stopped);
}

TEST_CASE("shutdown began: a run failing its health check ends stopped, not restarted") {
  MachineSpec spec = always();
  ServiceState st = running(spec);
  st = step(st, ev::HealthFailed{"probe"}, 10, spec).state;
  REQUIRE(st.phase == Phase::Stopping);
  st = step(st, ev::ShutdownBegan{}, 11, spec).state;
  auto e = step(st, ev::Exited{{0, 15}}, 12, spec);
  CHECK(e.state.phase == Phase::Stopped);
  CHECK_FALSE(has<act::Spawn>(e));
}

TEST_CASE("shutdown began: the stop request that follows stops the run as usual") {
  MachineSpec spec = always();
  ServiceState st = step(running(spec), ev::ShutdownBegan{}, 10, spec).state;
  auto r = step(st, ev::StopRequested{}, 11, spec);
  CHECK(r.state.phase == Phase::Stopping);
  CHECK(has<act::Signal>(r));
}
