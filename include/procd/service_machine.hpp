// The service lifecycle as a pure function: step(state, event, now, spec)
// -> (state', actions). No I/O, no clock reads, no syscalls: the supervisor
// feeds it events and carries out the actions. Deterministic and total: an
// event that makes no sense in the current phase yields a Log action, never
// UB. "want" (what the user asked) is kept apart from "phase" (what is), so
// a service stopped on request is never restarted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/restart_policy.hpp"
#include "procd/stop_budget.hpp"

namespace procd {

enum class Phase : std::uint8_t { Stopped, Starting, Running, Stopping, Failed, Restarting };
enum class Want : std::uint8_t { Down, Up };

const char* phase_name(Phase phase);  // lower-case SPEC names: "running"

// Exit code procd reports for a run (code, or 128 + signal).
int exit_code_of(const ExitStatus& status);

// The parts of a service's configuration the machine reads.
struct MachineSpec {
  RestartConfig restart;
  ReadyConfig ready;
  std::vector<int> success_exit_codes{0};
  int stop_signal = 15;
  Millis stop_timeout_ms = 10000;
  Millis start_timeout_ms = 90000;
};
MachineSpec machine_spec_of(const ServiceConfig& svc, Millis stop_timeout_ms);

// Why a run is being stopped, which decides how its end is read:
//   Requested — by the user or shutdown: it ends stopped;
//   Restart   — part of a restart: it starts again once the run is over;
//   Failure   — start timeout, unhealthy, watchdog, memory: the restart policy decides.
enum class StopCause : std::uint8_t { Requested, Restart, Failure };

// Why a run was stopped as a failure (HealthFailed, the start timeout).
enum class FailKind : std::uint8_t { None, Unhealthy, MemoryLimit, Watchdog, StartTimeout };
// Why the restart policy gave up (phase failed).
enum class GiveUp : std::uint8_t { None, MaxAttempts, StartLimit };

// The texts and counts that say why the last run failed (service_reason.hpp),
// made only when a run fails or is stopped: most services never carry them.
struct RunFailure {
  std::string spawn_error;          // the run could not be spawned: the error's message
  std::string failure_detail;       // the failure's detail (health check result, ...)
  int failure_checks = 0;           // Unhealthy: failed checks in a row
  int gave_up_starts = 0;           // starts counted when the policy gave up
  StopReason stop_reason = StopReason::None;  // issue 28: why this run's stop began (stop_budget.hpp)
};

// One service's machine state, copied by value on every step: the members
// are ordered by size (no padding), small enums are one byte, and the
// failure texts sit behind one shared pointer (88 B in all).
struct ServiceState {
  Millis spawned_at = 0;            // when the current/last run was spawned
  Millis deadline = 0;              // the one timer; 0 = none armed
  StartWindow recent_starts;        // spawn times inside the start_limit window
  // Why the last run failed; null: nothing to say. Shared between copies
  // of the state and never changed in place (see failure_facts()).
  std::shared_ptr<const RunFailure> why;
  int pid = 0;                      // > 0 while a process of this run exists
  int restarts = 0;                 // automatic restarts so far (status column)
  int consecutive_failures = 0;     // failed runs in a row (backoff / max_attempts)
  std::optional<ExitStatus> last_exit;
  Phase phase = Phase::Stopped;
  Want want = Want::Down;
  StopCause stop_cause = StopCause::Requested;  // why the stop in progress happens (meaningful while stopping)
  bool kill_sent = false;           // SIGKILL already sent in this stop
  bool reached_running = false;     // the current/last run became ready (long-run count reset)
  // What `status` and events say why (service_reason.hpp); kept until the next run.
  bool requested_stop = false;      // the last stop was asked for (user or shutdown)
  FailKind failure = FailKind::None;// the last run was stopped as a failure
  GiveUp gave_up = GiveUp::None;    // phase failed because the policy gave up

  const std::string& spawn_error() const { return why ? why->spawn_error : no_text(); }
  const std::string& failure_detail() const { return why ? why->failure_detail : no_text(); }
  int failure_checks() const { return why ? why->failure_checks : 0; }
  int gave_up_starts() const { return why ? why->gave_up_starts : 0; }
  // Why the stop of this run began (kept off the state's fixed size: most runs are never stopped).
  StopReason stop_reason() const { return why ? why->stop_reason : StopReason::None; }
  // A fresh copy of `why` to change (copies of the state keep theirs).
  RunFailure& failure_facts() {
    auto fresh = why ? std::make_shared<RunFailure>(*why) : std::make_shared<RunFailure>();
    RunFailure& facts = *fresh;
    why = std::move(fresh);
    return facts;
  }

 private:
  static const std::string& no_text() {
    static const std::string empty;
    return empty;
  }
};

namespace ev {
struct StartRequested {};            // user or autostart: want up
struct StopRequested {               // user or shutdown: want down
  StopReason reason = StopReason::Requested;
};
struct RestartRequested {            // stop (if running) then start
  StopReason reason = StopReason::Restart;
};
struct Spawned { int pid; };
struct SpawnFailed { Error error; }; // fork/exec/chdir/... failed: counts as a failed run
struct Exited { ExitStatus status; };// the run is over (exit seen and output drained)
struct Ready {};                     // readiness condition met (notify, health, log...)
struct TimerFired {};                // the deadline passed
struct ForceKill {};                 // shutdown ladder: SIGKILL the group now
struct HealthFailed {                // unhealthy / memory limit / watchdog: restart by policy
  std::string why;
  FailKind kind = FailKind::Unhealthy;
  int checks = 0;                    // Unhealthy: failed checks in a row
};
struct ShutdownBegan {};             // procd is shutting down: never restart; the stop comes in dependency order
struct ExtendTimeout {               // sd_notify EXTEND_TIMEOUT_USEC: move the start/stop deadline (stop_budget.hpp)
  std::uint64_t usec = 0;
  Millis cap = 0;                    // shutting down: the ladder's kill deadline; 0 = none
};
}  // namespace ev

using Event = std::variant<ev::StartRequested, ev::StopRequested, ev::RestartRequested, ev::Spawned,
                           ev::SpawnFailed, ev::Exited, ev::Ready, ev::TimerFired, ev::ForceKill,
                           ev::HealthFailed, ev::ShutdownBegan, ev::ExtendTimeout>;

namespace act {
struct Spawn {};                     // fork/exec a new run now; answer with Spawned or SpawnFailed
struct Signal { int sig; };          // to the service's whole process group
struct ArmTimer { Millis deadline; };// (re)arm the service's one timer at this absolute time
struct CancelTimer {};
struct Publish { Phase phase; };     // the phase changed: log once, emit an event
enum class Level { Debug, Info, Warn, Error };
struct Log { Level level; std::optional<Code> code; std::string message; };
}  // namespace act

using Action = std::variant<act::Spawn, act::Signal, act::ArmTimer, act::CancelTimer, act::Publish, act::Log>;

struct StepResult {
  ServiceState state;
  std::vector<Action> actions;
};

StepResult step(const ServiceState& state, const Event& event, Millis now, const MachineSpec& spec);

}  // namespace procd
