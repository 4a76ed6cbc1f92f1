// Whether a service may start now, given its dependencies' states: the
// pure half of depends_on (the supervisor re-asks after every state change
// of any service; nothing polls). Conditions, per SPEC:
//   started   — the dependency has been spawned (starting or running), or has
//               completed successfully
//   ready     — the dependency is running (its readiness condition met), or
//               has completed successfully after being ready
//   completed — the dependency exited with a success code
// A dependency that failed for good (phase failed) blocks its dependents:
// they are not started, and the reason says which one and why.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "procd/config.hpp"
#include "procd/service_machine.hpp"
#include "procd/stop_budget.hpp"

namespace procd {

struct DependencyView {
  Phase phase = Phase::Stopped;
  Want want = Want::Down;
  bool completed_ok = false;  // its last run ended with a success exit
};

enum class GateVerdict { Go, Wait, Blocked };

struct Gate {
  GateVerdict verdict = GateVerdict::Go;
  std::string reason;  // Wait: "waiting for db (ready)"; Blocked: "dependency db failed"
};

using DependencyLookup = std::function<std::optional<DependencyView>(const std::string&)>;

Gate evaluate_dependencies(const std::vector<Dependency>& deps, const DependencyLookup& lookup);

const char* condition_name(DependCondition c);

// A dependency went to `phase` (`reason`: why it stops, when stopping): does
// a dependent holding `condition` on it stop too (StopReason::Dependency)?
// Yes when the dependency went down for good: it failed (gave up its
// restarts), or it is stopping by request or because its own dependency went
// down. Not for a stop that brings it back (restart, reload, rolling,
// unhealthy, memory, watchdog) nor for shutdown (the ladder orders that),
// and never for "completed": a one-shot's end is what its dependents waited for.
bool dependency_down_stops(Phase phase, StopReason reason, DependCondition condition);

}  // namespace procd
