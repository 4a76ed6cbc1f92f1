// The service lifecycle as a pure function: step(state, event, now, spec)
// -> (state', actions). No I/O, no clock reads, no syscalls: the supervisor
// feeds it events and carries out the actions. Deterministic and total: an
// event that makes no sense in the current phase yields a Log action, never
// UB. "want" (what the user asked) is kept apart from "phase" (what is), so
// a service stopped on request is never restarted.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/restart_policy.hpp"

namespace procd {

enum class Phase { Stopped, Starting, Running, Stopping, Failed, Restarting };
enum class Want { Down, Up };

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
enum class StopCause { Requested, Restart, Failure };

// Why a run was stopped as a failure (HealthFailed, the start timeout).
enum class FailKind { None, Unhealthy, MemoryLimit, Watchdog, StartTimeout };
// Why the restart policy gave up (phase failed).
enum class GiveUp { None, MaxAttempts, StartLimit };

struct ServiceState {
  Phase phase = Phase::Stopped;
  Want want = Want::Down;
  int pid = 0;                      // > 0 while a process of this run exists
  Millis spawned_at = 0;            // when the current/last run was spawned
  Millis deadline = 0;              // the one timer; 0 = none armed
  int restarts = 0;                 // automatic restarts so far (status column)
  int consecutive_failures = 0;     // failed runs in a row (backoff / max_attempts)
  std::optional<ExitStatus> last_exit;
  StartWindow recent_starts;        // spawn times inside the start_limit window
  bool kill_sent = false;           // SIGKILL already sent in this stop
  StopCause stop_cause = StopCause::Requested;  // why the stop in progress happens (meaningful while stopping)
  bool reached_running = false;     // the current/last run became ready (long-run count reset)
  // What `status` and events say why (service_reason.hpp); kept until the next run.
  bool requested_stop = false;      // the last stop was asked for (user or shutdown)
  std::string spawn_error;          // the last run could not be spawned: the error's message
  FailKind failure = FailKind::None;// the last run was stopped as a failure
  std::string failure_detail;
  int failure_checks = 0;
  GiveUp gave_up = GiveUp::None;    // phase failed because the policy gave up
  int gave_up_starts = 0;
};

namespace ev {
struct StartRequested {};            // user or autostart: want up
struct StopRequested {};             // user or shutdown: want down
struct RestartRequested {};          // stop (if running) then start
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
}  // namespace ev

using Event = std::variant<ev::StartRequested, ev::StopRequested, ev::RestartRequested, ev::Spawned,
                           ev::SpawnFailed, ev::Exited, ev::Ready, ev::TimerFired, ev::ForceKill,
                           ev::HealthFailed, ev::ShutdownBegan>;

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
