// service_reason: see service_reason.hpp. The cause of the last run's end
// comes first (a spawn error, an OOM kill, a failure procd stopped it for,
// the exit itself); the state adds what follows from it (giving up,
// restarting in N). Spawn errors are cut before their parenthesised detail
// (errno text, the whole PATH) to keep the reason one short line.
#include "procd/service_reason.hpp"

#include <fmt/core.h>

#include "procd/hooks.hpp"
#include "procd/signal_names.hpp"

namespace procd {

std::string human_millis(Millis ms) {
  if (ms > 0 && ms % 1000 == 0) return fmt::format("{} s", ms / 1000);
  return fmt::format("{} ms", ms);
}

namespace {

struct Cause {
  std::string code;
  std::string text;
  explicit operator bool() const { return !code.empty(); }
};

std::string short_error(const std::string& message) {
  auto cut = message.find(" (");
  return cut == std::string::npos ? message : message.substr(0, cut);
}

Cause failure_cause(const ReasonFacts& f) {
  switch (f.failure) {
    case FailKind::None: return {};
    case FailKind::Unhealthy:
      if (f.failure_checks > 0)
        return {"unhealthy", fmt::format("unhealthy: {} ({} check{})", f.failure_detail, f.failure_checks,
                                         f.failure_checks == 1 ? "" : "s")};
      return {"unhealthy", "unhealthy: " + f.failure_detail};
    case FailKind::MemoryLimit: return {"memory-limit", "over memory_limit"};
    case FailKind::Watchdog: return {"watchdog", "watchdog timeout"};
    case FailKind::StartTimeout:
      return {"start-timeout", f.failure_detail.empty() ? std::string("not ready in time") : f.failure_detail};
  }
  return {};
}

// Why the last run ended; empty when nothing is known.
Cause last_cause(const ReasonFacts& f) {
  if (!f.spawn_error.empty())  // issue 28: a failed pre_start has its own code
    return {is_pre_start_failure(f.spawn_error) ? "pre-start-failed" : "spawn-failed", short_error(f.spawn_error)};
  if (f.oom_killed) return {"oom", "killed by OOM (memory_max)"};
  if (Cause c = failure_cause(f)) return c;
  if (!f.last_exit) return {};
  if (f.last_exit->signal > 0) return {"killed", "killed by " + signal_name(f.last_exit->signal)};
  return {"exited", fmt::format("exited {}", f.last_exit->code)};
}

// A stop procd made for the fleet (not asked for this service alone).
bool fleet_stop(StopReason r) {
  return r == StopReason::Shutdown || r == StopReason::Reload || r == StopReason::Rolling || r == StopReason::Dependency;
}

Reason stopped(const ReasonFacts& f) {
  if (f.blocked) {
    std::string what = f.gate.rfind("dependency ", 0) == 0 ? f.gate.substr(11) : f.gate;
    return {"blocked", "blocked: " + what, "blocked"};
  }
  if (f.waiting) return {"waiting", f.gate.empty() ? std::string("waiting for its dependencies") : f.gate, "waiting"};
  if (f.requested_stop && fleet_stop(f.stop_reason)) {
    std::string why = stop_reason_name(f.stop_reason);
    return {"stopped-by-" + why, "stopped: " + why, "stopped"};
  }
  if (f.requested_stop) return {"stopped-by-request", "stopped by request", "stopped"};
  if (f.last_exit && f.last_exit_ok && f.spawn_error.empty() && f.failure == FailKind::None)
    return {"completed", "completed", "completed"};
  if (!f.ever_ran) return {"not-started", "not started", "stopped"};
  if (Cause c = last_cause(f)) return {c.code, c.text, "stopped"};
  return {"stopped", "stopped", "stopped"};
}

Reason failed(const ReasonFacts& f) {
  Cause c = last_cause(f);
  std::string text = c ? c.text : std::string("failed");
  switch (f.gave_up) {
    case GiveUp::MaxAttempts:
      return {"max-attempts", fmt::format("{}; giving up after {} starts", text, f.gave_up_starts), "failed"};
    case GiveUp::StartLimit:
      return {"start-limit",
              fmt::format("{}; giving up after {} starts in {}", text, f.gave_up_starts,
                          human_millis(f.start_limit_interval_ms)),
              "failed"};
    case GiveUp::None: break;
  }
  return {c ? c.code : std::string("failed"), text, "failed"};
}

Reason stopping(const ReasonFacts& f) {
  if (fleet_stop(f.stop_reason)) {
    std::string why = stop_reason_name(f.stop_reason);
    return {"stopping-" + why, "stopping: " + why, "stopping"};
  }
  switch (f.stop_cause) {
    case StopCause::Requested:
      return {"stop-requested", "stopping by request", "stopping"};
    case StopCause::Restart: return {"restart-requested", "stopping to restart", "stopping"};
    case StopCause::Failure: {
      Cause c = failure_cause(f);
      if (!c) return {"failure", "stopping as a failed run", "stopping"};
      return {c.code, "stopping: " + c.text, "stopping"};
    }
  }
  return {"stopping", "stopping", "stopping"};
}

// Asked to stop while services that need it still have a process: it runs
// on until they have stopped (stop order), and says so.
Reason held(const ReasonFacts& f) {
  std::string asked = f.held_stop == StopReason::Requested ? std::string("stop requested")
                                                           : "stopping: " + std::string(stop_reason_name(f.held_stop));
  return {"stop-held", fmt::format("{}; waiting for {} to stop first", asked, f.held_for), "stopping"};
}

}  // namespace

Reason service_reason(const ReasonFacts& f) {
  if (f.held_stop != StopReason::None && f.phase != Phase::Stopped && f.phase != Phase::Failed &&
      f.phase != Phase::Stopping)
    return held(f);
  switch (f.phase) {
    case Phase::Stopped: return stopped(f);
    case Phase::Failed: return failed(f);
    case Phase::Stopping: return stopping(f);
    case Phase::Restarting: {
      Cause c = last_cause(f);
      std::string in = "restarting in " + human_millis(f.restart_in_ms);
      if (!c) return {"restarting", in, "restarting"};
      return {c.code, c.text + "; " + in, "restarting"};
    }
    case Phase::Starting: return {"starting", "starting", "starting"};
    case Phase::Running:
      if (f.unhealthy) return {"unhealthy", "unhealthy: " + f.health_detail, "running"};
      return {"running", "running", "running"};
  }
  return {"unknown", "unknown", phase_name(f.phase)};
}

}  // namespace procd
