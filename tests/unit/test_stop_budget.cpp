// Issue 28 in the pure core: EXTEND_TIMEOUT_USEC (stop_budget.hpp and the
// machine's ev::ExtendTimeout), stop reasons recorded when a stop begins,
// the main service's spec (never restarted) and procd's exit code after a
// main service ended. Fake time only: `now` is what each event is fed at.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "procd/service_machine.hpp"
#include "procd/shutdown_plan.hpp"
#include "procd/stop_budget.hpp"

using namespace procd;

namespace {

struct Machine {
  MachineSpec spec;
  ServiceState state;
  std::vector<Action> last;
  void feed(const Event& e, Millis now) {
    auto r = step(state, e, now, spec);
    state = std::move(r.state);
    last = std::move(r.actions);
  }
  std::vector<int> signals() const {
    std::vector<int> out;
    for (const auto& a : last)
      if (const auto* s = std::get_if<act::Signal>(&a)) out.push_back(s->sig);
    return out;
  }
  void run(Millis now) {
    feed(ev::StartRequested{}, now);
    feed(ev::Spawned{42}, now);
  }
};

}  // namespace

TEST_CASE("extended_deadline: later only, bounded by the cap, nothing without a deadline") {
  CHECK(extended_deadline(2000, 1100, 3000000, 0) == 4100);
  CHECK(extended_deadline(2000, 1100, 500000, 0) == 2000);     // now + 500 ms is earlier: unchanged
  CHECK(extended_deadline(2000, 1100, 3000000, 2500) == 2500); // shutdown: never past [shutdown].kill
  CHECK(extended_deadline(3000, 1100, 9000000, 2500) == 3000); // the cap never shortens it
  CHECK(extended_deadline(0, 1100, 3000000, 0) == 0);          // no deadline armed
  CHECK(extended_deadline(2000, 1100, 999, 0) == 2000);        // under a millisecond
  CHECK(extended_deadline(2000, 0, UINT64_MAX, 0) > 2000);     // no overflow
}

TEST_CASE("EXTEND_TIMEOUT_USEC moves the stop deadline: no SIGKILL before it") {
  Machine m;
  m.spec.stop_timeout_ms = 1000;
  m.run(0);
  m.feed(ev::StopRequested{}, 1000);
  REQUIRE(m.state.deadline == 2000);
  m.feed(ev::ExtendTimeout{3000000, 0}, 1100);
  CHECK(m.state.deadline == 4100);
  m.feed(ev::TimerFired{}, 2000);  // the old deadline: stale
  CHECK(m.signals().empty());
  CHECK(m.state.phase == Phase::Stopping);
  m.feed(ev::TimerFired{}, 4100);
  CHECK(m.signals() == std::vector<int>{9});
}

TEST_CASE("EXTEND_TIMEOUT_USEC during shutdown stops at the cap") {
  Machine m;
  m.spec.stop_timeout_ms = 1000;
  m.run(0);
  m.feed(ev::StopRequested{StopReason::Shutdown}, 1000);
  m.feed(ev::ExtendTimeout{60000000, 2500}, 1100);
  CHECK(m.state.deadline == 2500);
}

TEST_CASE("EXTEND_TIMEOUT_USEC moves a start timeout, and is ignored with no timeout or after SIGKILL") {
  Machine m;
  m.spec.ready.kind = ReadyKind::Notify;
  m.spec.start_timeout_ms = 500;
  m.run(0);
  REQUIRE(m.state.deadline == 500);
  m.feed(ev::ExtendTimeout{2000000, 0}, 100);
  CHECK(m.state.deadline == 2100);
  m.feed(ev::Ready{}, 200);
  REQUIRE(m.state.phase == Phase::Running);
  m.feed(ev::ExtendTimeout{2000000, 0}, 300);
  CHECK(m.state.deadline == 0);  // running: nothing to extend
  m.spec.stop_timeout_ms = 100;
  m.feed(ev::StopRequested{}, 400);
  m.feed(ev::TimerFired{}, 500);
  REQUIRE(m.state.kill_sent);
  m.feed(ev::ExtendTimeout{2000000, 0}, 600);
  CHECK(m.state.deadline == 0);  // SIGKILL sent: too late
}

TEST_CASE("stop reasons: recorded when the stop begins, kept until the next run") {
  Machine m;
  m.run(0);
  CHECK(m.state.stop_reason() == StopReason::None);
  m.feed(ev::StopRequested{}, 10);
  CHECK(m.state.stop_reason() == StopReason::Requested);
  m.feed(ev::StopRequested{StopReason::Shutdown}, 11);  // a second stop: the first reason stays
  CHECK(m.state.stop_reason() == StopReason::Requested);
  m.feed(ev::Exited{ExitStatus{0, 15}}, 20);
  CHECK(m.state.phase == Phase::Stopped);
  CHECK(m.state.stop_reason() == StopReason::Requested);
  m.run(30);
  CHECK(m.state.stop_reason() == StopReason::None);
  m.feed(ev::RestartRequested{StopReason::Reload}, 40);
  CHECK(m.state.stop_reason() == StopReason::Reload);
  m.feed(ev::Exited{ExitStatus{0, 15}}, 50);  // starts again: a new run
  CHECK(m.state.stop_reason() == StopReason::None);
  m.feed(ev::Spawned{43}, 50);
  m.feed(ev::HealthFailed{"over", FailKind::MemoryLimit}, 60);
  CHECK(m.state.stop_reason() == StopReason::Memory);
}

TEST_CASE("stop reasons: watchdog, unhealthy, start timeout, shutdown's SIGKILL; names are stable") {
  for (auto [kind, want] : {std::pair{FailKind::Watchdog, StopReason::Watchdog}, std::pair{FailKind::Unhealthy, StopReason::Unhealthy}}) {
    Machine m;
    m.run(0);
    m.feed(ev::HealthFailed{"x", kind}, 10);
    CHECK(m.state.stop_reason() == want);
  }
  Machine t;
  t.spec.ready.kind = ReadyKind::Notify;
  t.spec.start_timeout_ms = 100;
  t.run(0);
  t.feed(ev::TimerFired{}, 100);
  CHECK(t.state.stop_reason() == StopReason::StartTimeout);
  Machine k;
  k.run(0);
  k.feed(ev::ForceKill{}, 10);
  CHECK(k.state.stop_reason() == StopReason::Shutdown);
  CHECK(std::string(stop_reason_name(StopReason::Requested)) == "requested");
  CHECK(std::string(stop_reason_name(StopReason::Reload)) == "reload");
  CHECK(std::string(stop_reason_name(StopReason::Rolling)) == "rolling");
  CHECK(std::string(stop_reason_name(StopReason::Dependency)) == "dependency");
  CHECK(std::string(stop_reason_name(StopReason::Memory)) == "memory");
  CHECK(std::string(stop_reason_name(StopReason::StartTimeout)) == "start-timeout");
}

TEST_CASE("the main service is never restarted, and its code is procd's") {
  ServiceConfig svc;
  svc.main = true;
  svc.restart.policy = RestartPolicyKind::Always;
  Machine m;
  m.spec = machine_spec_of(svc, 1000);
  CHECK(m.spec.restart.policy == RestartPolicyKind::Never);
  m.run(0);
  m.feed(ev::Exited{ExitStatus{7, 0}}, 10);
  CHECK(m.state.phase == Phase::Failed);
  CHECK(m.state.deadline == 0);
  CHECK(shutdown_exit_code(false, std::nullopt, 7) == 7);
  CHECK(shutdown_exit_code(false, std::nullopt, 0) == 0);
  CHECK(shutdown_exit_code(false, std::nullopt, 143) == 143);
  CHECK(shutdown_exit_code(true, std::nullopt, 0) == 3);  // the ceiling with processes left wins
}
