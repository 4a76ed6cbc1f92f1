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

}  // namespace procd
