// The small pure helpers around the service machine (service_machine.hpp):
// phase names, the exit code of a run, and the MachineSpec a service's
// configuration gives the machine.
#include "procd/service_machine.hpp"

namespace procd {

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::Stopped: return "stopped";
    case Phase::Starting: return "starting";
    case Phase::Running: return "running";
    case Phase::Stopping: return "stopping";
    case Phase::Failed: return "failed";
    case Phase::Restarting: return "restarting";
  }
  return "unknown";
}

int exit_code_of(const ExitStatus& status) { return status.signal > 0 ? 128 + status.signal : status.code; }

MachineSpec machine_spec_of(const ServiceConfig& svc, Millis stop_timeout_ms) {
  MachineSpec spec;
  spec.restart = svc.restart;
  // The main service runs once: its end ends procd (supervisor.cpp), so
  // its restart policy is ignored (`check` warns when one is set).
  if (svc.main) spec.restart.policy = RestartPolicyKind::Never;
  spec.ready = svc.ready;
  spec.success_exit_codes = svc.success_exit_codes;
  spec.stop_signal = svc.stop_signal;
  spec.stop_timeout_ms = stop_timeout_ms;
  spec.start_timeout_ms = svc.start_timeout_ms;
  return spec;
}

}  // namespace procd
