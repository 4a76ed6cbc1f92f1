// Why a service is in the state it is in, as one pure function of plain
// facts: a short human reason ("exited 1; giving up after 5 starts in
// 10 s", "command not found: slep", "waiting for migrate (completed)",
// "blocked: migrate failed", "completed", "stopped by request"), a stable
// machine code ("start-limit", "spawn-failed", "waiting", "blocked",
// "completed", "stopped-by-request", ...) and the condition word `status`
// shows (the six states, with stopped told apart as completed, waiting or
// blocked). No clock reads, no I/O: the daemon fills the facts from the
// service's machine state, its dependency gate and its health checker.
// Invariant: the text and code are never empty.
#pragma once

#include <optional>
#include <string>

#include "procd/service_machine.hpp"

namespace procd {

struct ReasonFacts {
  Phase phase = Phase::Stopped;
  Want want = Want::Down;
  StopCause stop_cause = StopCause::Requested;  // while stopping
  StopReason stop_reason = StopReason::None;    // why the last stop began (stop_budget.hpp)
  bool requested_stop = false;                  // the last stop was asked for (user, shutdown)
  bool ever_ran = false;                        // a run was attempted at least once
  std::optional<ExitStatus> last_exit;
  bool last_exit_ok = false;                    // a success under success_exit_codes
  std::string spawn_error;                      // the last run never started: why ("command not found: x (...)")
  FailKind failure = FailKind::None;            // the last run was stopped as a failure: why
  std::string failure_detail;                   // the check's last result, "not ready after 500 ms", ...
  int failure_checks = 0;                       // Unhealthy: failed checks in a row
  bool oom_killed = false;                      // the cgroup's OOM killer ended the last run
  GiveUp gave_up = GiveUp::None;
  int gave_up_starts = 0;                       // starts counted when it gave up
  Millis start_limit_interval_ms = 0;
  Millis restart_in_ms = 0;                     // restarting: time left before the next start
  int restarts = 0;
  bool waiting = false;                         // held back by its dependencies
  bool blocked = false;                         // a dependency failed for good
  std::string gate;                             // the gate's words: "waiting for db (ready)", "dependency db failed"
  StopReason held_stop = StopReason::None;      // asked to stop; waits for its dependents to stop first
  std::string held_for;                         // the dependents it waits for: "web", "web@0, web@1"
  bool unhealthy = false;                       // running, its health check says unhealthy
  std::string health_detail;
};

struct Reason {
  std::string code;       // stable, lower-case, dash-separated
  std::string text;       // short, one line
  std::string condition;  // starting running stopping stopped failed restarting completed waiting blocked
};

Reason service_reason(const ReasonFacts& facts);

// "10 s" for whole seconds, else "250 ms".
std::string human_millis(Millis ms);

}  // namespace procd
