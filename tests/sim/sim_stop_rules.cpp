// Issue 28's invariants (sim_invariants.hpp): the main service's end ends
// procd; every stop has a reason; when a dependency fails for good, the
// services up that need it started or ready are stopped (reason dependency)
// in the same step.
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "sim_invariants.hpp"

namespace procd::sim {

namespace {

// Each service's phase at the last check (of this world: reset when a new
// sequence starts, its clock back at the start).
struct SeenPhases {
  const SimWorld* world = nullptr;
  Millis last = 0;
  std::map<std::string, Phase> phase;
};

void check_dependency_stops(SimWorld& world, const std::vector<Service*>& services, bool shutting_down) {
  static SeenPhases seen;
  if (seen.world != &world || world.time() < seen.last) seen = SeenPhases{&world, 0, {}};
  seen.last = world.time();
  for (Service* d : services) {
    auto before = seen.phase.find(d->name());
    const bool newly_failed = d->state().phase == Phase::Failed && before != seen.phase.end() &&
                              before->second != Phase::Failed;
    if (!newly_failed || shutting_down) continue;
    for (Service* s : d->dependents()) {
      const Phase p = s->state().phase;
      const bool needs = std::any_of(s->config().depends_on.begin(), s->config().depends_on.end(), [&](const auto& dep) {
        return dep.service == d->name() && dep.condition != DependCondition::Completed;
      });
      if (needs && (p == Phase::Starting || p == Phase::Running))
        world.violate("dependency-stop", fmt::format("{} is still {} after its dependency {} failed for good", s->name(),
                                                     phase_name(p), d->name()));
    }
  }
  seen.phase.clear();
  for (Service* s : services) seen.phase[s->name()] = s->state().phase;
}

}  // namespace

void check_main_and_stops(SimWorld& world, const std::vector<Service*>& services, bool shutting_down) {
  for (Service* s : services) {
    const ServiceState& st = s->state();
    const bool ended = st.phase == Phase::Stopped || st.phase == Phase::Failed;
    if (s->config().main && ended && s->stats().spawns > 0 && !s->intent().removing && !shutting_down)
      world.violate("main-ended", fmt::format("main service {} ended ({}), but procd is not shutting down", s->name(),
                                              phase_name(st.phase)));
    if (st.phase == Phase::Stopping && st.stop_reason() == StopReason::None)
      world.violate("stop-reason", fmt::format("{} is stopping with no stop reason", s->name()));
  }
  check_dependency_stops(world, services, shutting_down);
}

}  // namespace procd::sim
