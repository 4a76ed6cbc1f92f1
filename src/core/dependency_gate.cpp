// evaluate_dependencies: see dependency_gate.hpp. Blocked wins over Wait so
// that a dependent of a failed service says so at once instead of waiting.
#include "procd/dependency_gate.hpp"

#include <fmt/core.h>

namespace procd {

const char* condition_name(DependCondition c) {
  switch (c) {
    case DependCondition::Started: return "started";
    case DependCondition::Ready: return "ready";
    case DependCondition::Completed: return "completed";
  }
  return "?";
}

namespace {

bool satisfied(DependCondition c, const DependencyView& d) {
  switch (c) {
    case DependCondition::Started:
      return d.phase == Phase::Starting || d.phase == Phase::Running || (d.phase == Phase::Stopped && d.completed_ok);
    case DependCondition::Ready:
      return d.phase == Phase::Running || (d.phase == Phase::Stopped && d.completed_ok);
    case DependCondition::Completed:
      return d.phase == Phase::Stopped && d.completed_ok;
  }
  return false;
}

}  // namespace

Gate evaluate_dependencies(const std::vector<Dependency>& deps, const DependencyLookup& lookup) {
  Gate gate;
  std::string waiting;
  for (const auto& dep : deps) {
    auto view = lookup(dep.service);
    if (!view) {
      return {GateVerdict::Blocked, fmt::format("dependency {} does not exist", dep.service)};
    }
    if (view->phase == Phase::Failed)
      return {GateVerdict::Blocked, fmt::format("dependency {} failed", dep.service)};
    if (!satisfied(dep.condition, *view))
      waiting += fmt::format("{}{} ({})", waiting.empty() ? "" : ", ", dep.service, condition_name(dep.condition));
  }
  if (!waiting.empty()) return {GateVerdict::Wait, "waiting for " + waiting};
  return gate;
}

bool dependency_down_stops(Phase phase, StopReason reason, DependCondition condition) {
  if (condition == DependCondition::Completed) return false;
  if (phase == Phase::Failed) return true;
  return phase == Phase::Stopping && (reason == StopReason::Requested || reason == StopReason::Dependency);
}

}  // namespace procd
