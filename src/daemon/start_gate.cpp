// Starting services with depends_on honoured, and what users ask of one
// service. A start brings up the service's stopped dependencies first (like
// `docker compose up web`), then goes now or waits for the pure gate
// (dependency_gate.hpp) to say Go; waiting services are re-asked in
// settle() after every change, nothing polls.
#include <fmt/core.h>

#include "procd/dependency_gate.hpp"
#include "procd/logging.hpp"
#include "procd/supervisor.hpp"

namespace procd {

void Supervisor::request_start(ServiceRunner& svc) {
  if (ladder_.active() || svc.removing) return;  // a removed copy only stops, then is forgotten
  for (const auto& dep : svc.cfg.depends_on)
    if (ServiceRunner* d = find(dep.service); d && d->state.want == Want::Down && !d->waiting &&
                                              d->state.phase == Phase::Stopped && d->idle() && !d->state.last_exit)
      request_start(*d);
  Gate gate = evaluate_dependencies(svc.cfg.depends_on, [this](const std::string& n) -> std::optional<DependencyView> {
    ServiceRunner* d = find(n);
    if (!d) return std::nullopt;
    bool ok = d->state.last_exit && is_success(*d->state.last_exit, d->spec.success_exit_codes);
    return DependencyView{d->state.phase, d->state.want, ok};
  });
  bool was_waiting = svc.waiting;
  std::string old_reason = svc.gate_reason;
  svc.waiting = gate.verdict == GateVerdict::Wait;
  svc.gate_reason = gate.reason;
  if (gate.verdict == GateVerdict::Go) {
    dispatch(svc, ev::StartRequested{});
  } else if (gate.verdict == GateVerdict::Blocked) {
    Log::write(LogLevel::Error, "not started: " + gate.reason, svc_fields(svc.cfg.name, 0, Code::ServiceDependencyFailed));
  } else if (!was_waiting || old_reason != gate.reason) {
    Log::write(LogLevel::Info, gate.reason, svc_fields(svc.cfg.name));
  }
}

void Supervisor::regate() {
  for (auto& s : services_)
    if (s->waiting) request_start(*s);
}

void Supervisor::start_service(ServiceRunner& svc) { request_start(svc); }

void Supervisor::stop_service(ServiceRunner& svc) {
  svc.waiting = false;
  dispatch(svc, ev::StopRequested{});
}

// A restart of a service that is up goes through the machine (stop, then
// start); one that is not up (stopped, failed, waiting, in a restart delay)
// is a start, so its dependencies come up first.
void Supervisor::restart_service(ServiceRunner& svc) {
  if (svc.removing) return;
  bool up = svc.state.phase == Phase::Starting || svc.state.phase == Phase::Running ||
            svc.state.phase == Phase::Stopping;
  if (up) return dispatch(svc, ev::RestartRequested{});
  if (svc.state.phase == Phase::Restarting) dispatch(svc, ev::StopRequested{});
  request_start(svc);
}

}  // namespace procd
