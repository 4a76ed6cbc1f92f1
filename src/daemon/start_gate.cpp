// Starting services with depends_on honoured, and what users ask of one
// service. A start brings up the service's stopped dependencies first (like
// `docker compose up web`), then goes now or waits for the pure gate
// (dependency_gate.hpp) to say Go; waiting services are re-asked in
// settle() after every change, nothing polls. A stop goes the other way:
// the dependents that need the service first, its own stop held until they
// have exited, and asked again in settle() the same way.
#include <fmt/core.h>

#include "procd/dependency_gate.hpp"
#include "procd/front_ends.hpp"
#include "procd/logging.hpp"
#include "procd/supervisor.hpp"

namespace procd {

namespace {

// A stopped dependency a start brings up: one that never ran, or one that
// was stopped (by request, or because its own dependency went down); a run
// that ended by itself (a one-shot that completed) is not run again.
bool comes_back(const ServiceState& st) {
  return !st.last_exit || st.stop_reason() == StopReason::Requested || st.stop_reason() == StopReason::Dependency;
}

}  // namespace

// A start brings up the dependencies a request or the fleet finds stopped
// (settle()'s asking again does not: it would undo a later `procd stop`);
// only a request takes back a dependency's stop held for its dependents. A
// held dependency counts as stopping for the gate: its dependents wait.
void Supervisor::start_service(Service& svc, StartBy by) {
  if (ladder_.active() || svc.intent().removing) return;  // a removed copy only stops, then is forgotten
  svc.hold_stop(StopReason::None);  // the newer request wins
  for (const auto& dep : svc.config().depends_on) {
    Service* d = index_.find(dep.service);
    if (!d || by == StartBy::Reask) continue;
    if ((by == StartBy::Request && d->intent().held_stop != StopReason::None) ||
        (!d->intent().wants_up() && d->state().phase == Phase::Stopped && d->idle() && comes_back(d->state())))
      start_service(*d, by);
  }
  Gate gate = evaluate_dependencies(svc.config().depends_on, [this](const std::string& n) -> std::optional<DependencyView> {
    Service* d = index_.find(n);
    if (!d) return std::nullopt;
    bool ok = d->state().last_exit && is_success(*d->state().last_exit, d->spec().success_exit_codes);
    Phase phase = d->intent().held_stop != StopReason::None ? Phase::Stopping : d->state().phase;
    return DependencyView{phase, d->state().want, ok};
  });
  Intent before = svc.intent();
  svc.mark_waiting(gate.verdict == GateVerdict::Wait, gate.reason);
  if (gate.verdict == GateVerdict::Go) {
    dispatch(svc, ev::StartRequested{});
  } else if (gate.verdict == GateVerdict::Blocked) {
    Log::write(LogLevel::Error, "not started: " + gate.reason, svc_fields(svc.name(), 0, Code::ServiceDependencyFailed));
    main_blocked(svc, gate.reason);
  } else if (!before.waiting || before.reason != gate.reason) {
    Log::write(LogLevel::Info, gate.reason, svc_fields(svc.name()));
  }
}

// A stop by request, or for the service's own dependency, goes in reverse
// dependency order (as shutdown, systemd and s6-rc do): the dependents that
// need it stop first, and it runs on, held, until none of them has a
// process; settle() asks again after every change. Any other stop goes now.
void Supervisor::stop_service(Service& svc, StopReason reason) {
  const bool was_held = svc.intent().held_stop != StopReason::None;
  svc.mark_waiting(false, {});
  svc.hold_stop(StopReason::None);
  if ((reason == StopReason::Requested || reason == StopReason::Dependency) && !ladder_.active()) {
    stop_dependents_first(svc, reason);
    if (ladder_.active()) return;  // the main needed it: shutdown stops everything in order
    svc.hold_stop(reason);
    if (!svc.idle() && !svc.held_for().empty()) {
      if (was_held) return;
      const Reason why = svc.reason(now(), svc.state().phase);  // said once: in the log and as an event
      Log::write(LogLevel::Info, why.text, svc_fields(svc.name(), svc.state().pid));
      return front_->publish_event(svc, svc.state().phase);
    }
    svc.hold_stop(StopReason::None);
  }
  dispatch(svc, ev::StopRequested{reason});
}

// Stops the dependents of `svc` that need it (started or ready) and are up.
void Supervisor::stop_dependents_first(Service& svc, StopReason reason) {
  for (Service* d : svc.dependents()) stop_for_dependency(svc, Phase::Stopping, reason, *d);
}

// `svc` went to `phase`: its dependents still up stop too when it went down
// for good (dependency_down_stops), with StopReason::Dependency; they stay
// stopped (`procd start NAME` brings the dependency back first).
void Supervisor::dependency_down(Service& svc, Phase phase) {
  if (ladder_.active() || svc.dependents().empty()) return;
  for (Service* d : svc.dependents()) stop_for_dependency(svc, phase, svc.state().stop_reason(), *d);
}

// A run that became `d` late (a start-first new run promoted with a config
// whose dependency is down for good already) stops as the others did.
void Supervisor::dependencies_down(Service& d) {
  if (ladder_.active()) return;
  for (const auto& dep : d.config().depends_on)
    if (Service* s = index_.find(dep.service); s && (s->state().phase == Phase::Failed || s->state().phase == Phase::Stopped) &&
                                               stop_for_dependency(*s, s->state().phase, s->state().stop_reason(), d))
      return;
}

bool Supervisor::stop_for_dependency(Service& svc, Phase phase, StopReason why, Service& d) {
  const Phase dp = d.state().phase;
  if (!d.intent().wants_up() || dp == Phase::Stopped || dp == Phase::Failed) return false;  // up, or coming back
  if (!d.stops_with(svc.name(), phase, why)) return false;
  const std::string down = phase == Phase::Failed
                               ? fmt::format("dependency {} failed", svc.name())
                               : fmt::format("dependency {} {} ({})", svc.name(), phase == Phase::Stopped ? "stopped" : "stopping",
                                             stop_reason_name(why));
  Log::write(LogLevel::Info, fmt::format("{}; stopping {}{}", down, d.name(), phase == Phase::Stopping ? " first" : ""),
             svc_fields(d.name()));
  main_blocked(d, down);  // the main: procd shuts down (the ladder stops it)
  if (!ladder_.active()) stop_service(d, StopReason::Dependency);
  return true;
}

// A restart of a service that is up goes through the machine (stop, then
// start); one that is not up (stopped, failed, waiting, in a restart delay)
// is a start, so its dependencies come up first.
void Supervisor::restart_service(Service& svc, StopReason reason) {
  // No restart once shutdown has begun: a reload whose critical service
  // failed at once began it, and its next changed service must not come back
  // (seed 416986); the ladder stops it.
  if (svc.intent().removing || ladder_.active()) return;
  if (reason == StopReason::Restart) svc.hold_stop(StopReason::None);  // by hand: the newer request wins
  Phase phase = svc.state().phase;
  bool up = phase == Phase::Starting || phase == Phase::Running || phase == Phase::Stopping;
  if (up) return dispatch(svc, ev::RestartRequested{reason});
  if (phase == Phase::Restarting) dispatch(svc, ev::StopRequested{reason});
  start_service(svc, reason == StopReason::Restart ? StartBy::Request : StartBy::Fleet);
}

}  // namespace procd
