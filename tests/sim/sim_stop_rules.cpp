// Issue 28's invariants (sim_invariants.hpp): the main service's end ends
// procd; every stop has a reason.
#include <fmt/core.h>

#include "sim_invariants.hpp"

namespace procd::sim {

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
}

}  // namespace procd::sim
