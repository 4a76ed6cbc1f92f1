// Issue 28's invariants (sim_invariants.hpp): the main service's end ends
// procd; every stop has a reason; when a dependency fails for good, the
// services up that need it started or ready are stopped (reason dependency)
// in the same step (or their stops are held while their own dependents
// stop first).
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "procd/dependency_gate.hpp"
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

void check_stop_order(SimWorld& world, const std::vector<Service*>& services, const std::map<std::string, Phase>& before);

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
      // A stop held for its own dependents (stop-order) is under way.
      if (needs && (p == Phase::Starting || p == Phase::Running) && s->intent().held_stop == StopReason::None)
        world.violate("dependency-stop", fmt::format("{} is still {} after its dependency {} failed for good", s->name(),
                                                     phase_name(p), d->name()));
    }
  }
  if (!shutting_down) check_stop_order(world, services, seen.phase);
  seen.phase.clear();
  for (Service* s : services) seen.phase[s->name()] = s->state().phase;
}

// "stop-order": a service whose stop by request or for its own dependency
// begins (it went to Stopping since the last check) has no dependent that
// needs it with a process: they stopped first. (A dependency a reload adds
// later to a service already stopping is not an order it was asked for.)
// "stop-held": a stop is held only while such a dependent has a process,
// and the held service has one itself (settle() asks again after every
// change, so a hold never outlives its cause).
void check_stop_order(SimWorld& world, const std::vector<Service*>& services, const std::map<std::string, Phase>& before) {
  for (Service* s : services) {
    const StopReason held = s->intent().held_stop;
    if (held != StopReason::None && (s->idle() || s->held_for().empty()))
      world.violate("stop-held", fmt::format("{}'s stop ({}) is held with {}", s->name(), stop_reason_name(held),
                                             s->idle() ? "no process of its own" : "no dependent left to wait for"));
    const StopReason why = s->state().stop_reason();
    auto was = before.find(s->name());
    if (s->state().phase != Phase::Stopping || (was != before.end() && was->second == Phase::Stopping) ||
        (why != StopReason::Requested && why != StopReason::Dependency))
      continue;
    for (Service* d : s->dependents()) {
      const bool needs = std::any_of(d->config().depends_on.begin(), d->config().depends_on.end(), [&](const auto& dep) {
        return dep.service == s->name() && dependency_down_stops(Phase::Stopping, why, dep.condition);
      });
      if (needs && !d->idle())
        world.violate("stop-order", fmt::format("{} began stopping ({}) while {}, which needs it, is still {} with a process",
                                                s->name(), stop_reason_name(why), d->name(), phase_name(d->state().phase)));
    }
  }
}

}  // namespace

std::set<std::string> held_stops(Supervisor& sup) {
  std::set<std::string> held;
  if (auto all = sup.select(Request{}, true); all.ok())
    for (Service* s : *all)
      if (s->intent().held_stop != StopReason::None) held.insert(s->name());
  return held;
}

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
