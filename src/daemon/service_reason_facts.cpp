// Service::reason: the facts service_reason() reads (service_reason.hpp),
// gathered from the machine state, the fleet's marks (waiting / blocked by
// a dependency), the health checker and the last run's OOM verdict.
#include "procd/service.hpp"

#include <fmt/core.h>

#include "procd/dependency_gate.hpp"

namespace procd {

Reason Service::reason(Millis now, Phase phase) const {
  const ServiceState& st = state_;
  ReasonFacts f;
  f.phase = phase;
  f.want = st.want;
  f.stop_cause = st.stop_cause;
  f.stop_reason = st.stop_reason();
  f.requested_stop = st.requested_stop;
  f.ever_ran = st.last_exit.has_value() || !st.spawn_error().empty() || st.spawned_at > 0 || stats_.spawns > 0;
  f.last_exit = st.last_exit;
  f.last_exit_ok = st.last_exit && is_success(*st.last_exit, spec_.success_exit_codes);
  f.spawn_error = st.spawn_error();
  f.failure = st.failure;
  f.failure_detail = st.failure_detail();
  f.failure_checks = st.failure_checks();
  f.oom_killed = oom_killed_;
  f.gave_up = st.gave_up;
  f.gave_up_starts = st.gave_up_starts();
  f.start_limit_interval_ms = spec_.restart.start_limit_interval_ms;
  f.restart_in_ms = phase == Phase::Restarting && st.deadline > now ? st.deadline - now : 0;
  f.restarts = st.restarts;
  f.waiting = marks_.waiting;
  f.blocked = !marks_.waiting && !marks_.reason.empty();
  f.gate = marks_.reason;
  f.held_stop = marks_.held_stop;
  if (f.held_stop != StopReason::None) f.held_for = held_for();
  if (auto h = health(); h && *h == HealthStatus::Unhealthy) {
    f.unhealthy = true;
    f.health_detail = health_->last_detail();
  }
  return service_reason(f);
}

bool Service::stops_with(const std::string& dependency, Phase phase, StopReason why) const {
  for (const auto& dep : config().depends_on)
    if (dep.service == dependency && dependency_down_stops(phase, why, dep.condition)) return true;
  return false;
}

std::string Service::held_for() const {
  std::vector<const Service*> left;
  for (const Service* d : dependents_)
    if (!d->idle() && d->stops_with(name(), Phase::Stopping, marks_.held_stop)) left.push_back(d);
  std::string names;
  for (std::size_t i = 0; i < left.size() && i < 3; ++i) names += (i ? ", " : "") + left[i]->name();
  if (left.size() > 3) names += fmt::format(" (+{} more)", left.size() - 3);
  return names;
}

}  // namespace procd
