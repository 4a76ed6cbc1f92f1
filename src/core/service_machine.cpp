// The service lifecycle: step(state, event, now, spec) -> (state', actions).
// It owns every phase transition, applies the restart policies (never,
// always, on-failure, exponential-backoff, start_limit; their arithmetic is
// in restart_policy.cpp) and the one deadline per service. Invariants, held
// after every step:
//  - each phase change emits exactly one Publish, never the same phase twice;
//  - state.deadline is the one armed timer (0 = none): arming sets it, and
//    leaving the phase that armed it emits CancelTimer and clears it; a timer
//    that fired is spent, so its deadline is cleared without a CancelTimer;
//  - pid > 0 only in starting / running / stopping;
//  - a run stopped on request (want Down) ends in stopped, never restarted;
//  - an event that does not fit the phase leaves the state untouched and
//    yields one Debug Log. Nothing throws, nothing reads a clock.
#include "procd/service_machine.hpp"

#include <algorithm>
#include <utility>

#include <fmt/core.h>

namespace procd {

namespace {

using act::Level;

std::string describe_exit(const ExitStatus& status) {
  if (status.signal > 0) return fmt::format("killed by signal {}", status.signal);
  return fmt::format("exited with code {}", status.code);
}

// One step under construction: a private copy of the state plus the actions
// emitted so far. Handlers either validate first and return through
// ignore()/reject() untouched, or mutate through the primitives below.
class Transition {
 public:
  Transition(const ServiceState& state, Millis now, const MachineSpec& spec) : st_(state), now_(now), spec_(spec) {}

  StepResult finish() && { return StepResult{std::move(st_), std::move(out_)}; }

  void operator()(const ev::StartRequested&) {
    switch (st_.phase) {
      case Phase::Stopped:
      case Phase::Failed: return fresh_start();
      case Phase::Restarting:
        log(Level::Info, std::nullopt, "start requested during the restart delay; starting now");
        return fresh_start();
      case Phase::Starting:
      case Phase::Running: return ignore("start requested but the service is already up");
      case Phase::Stopping: return start_after_stop();
    }
  }

  void operator()(const ev::StopRequested& e) {
    switch (st_.phase) {
      case Phase::Starting:
      case Phase::Running:
        want_down();
        return begin_stop(e.reason);
      case Phase::Stopping:
        if (st_.want == Want::Down && st_.stop_cause == StopCause::Requested)
          return ignore("stop requested but the service is already stopping");
        want_down();
        return log(Level::Debug, std::nullopt, "stop requested: the run being stopped will not be restarted");
      case Phase::Restarting:
        want_down();
        disarm();
        return enter(Phase::Stopped);
      case Phase::Failed:
        // Acknowledges the failure: a failed service the user stops is simply down.
        want_down();
        return enter(Phase::Stopped);
      case Phase::Stopped:
        if (st_.want == Want::Down) return ignore("stop requested but the service is already stopped");
        want_down();
        return log(Level::Debug, std::nullopt, "stop requested: the service is already stopped");
    }
  }

  void operator()(const ev::RestartRequested& e) {
    switch (st_.phase) {
      case Phase::Starting:
      case Phase::Running:
        st_.want = Want::Up;
        st_.stop_cause = StopCause::Restart;
        return begin_stop(e.reason);
      case Phase::Stopping: return start_after_stop();
      case Phase::Stopped:
      case Phase::Failed:
      case Phase::Restarting: return fresh_start();
    }
  }

  void operator()(const ev::Spawned& e) {
    if (e.pid <= 0 || st_.pid != 0 || (st_.phase != Phase::Starting && st_.phase != Phase::Stopping))
      return reject(fmt::format("spawned pid {} while {}", e.pid, phase_name(st_.phase)));
    st_.pid = e.pid;
    st_.spawned_at = now_;
    note_start(st_.recent_starts, spec_.restart, now_);
    if (st_.phase == Phase::Stopping) {
      // A stop arrived while the spawn was in flight: deliver it now.
      signal(spec_.stop_signal);
      return arm(now_ + std::max<Millis>(spec_.stop_timeout_ms, 0));
    }
    switch (spec_.ready.kind) {
      case ReadyKind::Started: return become_running();
      case ReadyKind::MinUptime:
        if (spec_.ready.min_uptime_ms <= 0) return become_running();
        return arm(now_ + spec_.ready.min_uptime_ms);
      case ReadyKind::Notify:
      case ReadyKind::Health:
      case ReadyKind::LogMatch:
        if (spec_.start_timeout_ms > 0) arm(now_ + spec_.start_timeout_ms);
        return;
    }
  }

  void operator()(const ev::SpawnFailed& e) {
    if (st_.pid != 0 || (st_.phase != Phase::Starting && st_.phase != Phase::Stopping))
      return reject(fmt::format("spawn failure while {}", phase_name(st_.phase)));
    log(Level::Error, e.error.code, e.error.message);
    st_.failure_facts().spawn_error = e.error.message;
    // A start that failed is a start: a mistyped command hits the start limit.
    note_start(st_.recent_starts, spec_.restart, now_);
    end_run(std::nullopt);
  }

  void operator()(const ev::Exited& e) {
    if (st_.phase != Phase::Starting && st_.phase != Phase::Running && st_.phase != Phase::Stopping)
      return reject(fmt::format("exit ({}) while {}", describe_exit(e.status), phase_name(st_.phase)));
    end_run(e.status);
  }

  void operator()(const ev::Ready&) {
    if (st_.phase != Phase::Starting || st_.pid == 0)
      return ignore(fmt::format("ready while {}", phase_name(st_.phase)));
    disarm();
    become_running();
  }

  void operator()(const ev::TimerFired&) {
    if (st_.deadline == 0 || now_ < st_.deadline) return ignore("stale timer");
    switch (st_.phase) {
      case Phase::Restarting:
        st_.deadline = 0;
        ++st_.restarts;
        return begin_run();
      case Phase::Starting:
        st_.deadline = 0;
        if (spec_.ready.kind == ReadyKind::MinUptime) return become_running();
        log(Level::Warn, Code::TimeoutStart,
            fmt::format("not ready after {} ms; stopping it as a failed start", spec_.start_timeout_ms));
        st_.stop_cause = StopCause::Failure;
        st_.failure = FailKind::StartTimeout;
        st_.failure_facts().failure_detail = fmt::format("not ready after {} ms", spec_.start_timeout_ms);
        return begin_stop(StopReason::StartTimeout);
      case Phase::Stopping:
        if (st_.pid <= 0 || st_.kill_sent) return ignore("stop timeout with nothing left to kill");
        st_.deadline = 0;
        log(Level::Warn, Code::TimeoutStop,
            fmt::format("did not stop within {} ms; sending SIGKILL", spec_.stop_timeout_ms));
        return kill_group();
      case Phase::Stopped:
      case Phase::Running:
      case Phase::Failed: return reject(fmt::format("timer fired while {}", phase_name(st_.phase)));
    }
  }

  void operator()(const ev::ForceKill&) {
    if (st_.pid <= 0) return ignore("force kill with no process");
    if (st_.kill_sent) return ignore("force kill: SIGKILL already sent");
    // The shutdown ladder's last word: nothing brings this run back.
    want_down();
    disarm();
    if (st_.phase != Phase::Stopping) st_.failure_facts().stop_reason = StopReason::Shutdown;
    enter(Phase::Stopping);
    kill_group();
  }

  void operator()(const ev::HealthFailed& e) {
    if (st_.phase != Phase::Starting && st_.phase != Phase::Running)
      return ignore(fmt::format("health failure ({}) while {}", e.why, phase_name(st_.phase)));
    log(Level::Warn, std::nullopt, fmt::format("unhealthy: {}; stopping it as a failed run", e.why));
    st_.stop_cause = StopCause::Failure;
    st_.failure = e.kind == FailKind::None ? FailKind::Unhealthy : e.kind;
    RunFailure& why = st_.failure_facts();
    why.failure_detail = e.why;
    why.failure_checks = e.checks;
    begin_stop(st_.failure == FailKind::MemoryLimit ? StopReason::Memory
               : st_.failure == FailKind::Watchdog  ? StopReason::Watchdog
                                                    : StopReason::Unhealthy);
  }

  void operator()(const ev::ShutdownBegan&) {
    // The run in progress is left alone (its stop request comes once its
    // dependents are down); what would bring a run back is dropped.
    want_down();
    if (st_.phase != Phase::Restarting) return;
    disarm();
    enter(Phase::Stopped);
  }

  // systemd's EXTEND_TIMEOUT_USEC: only a start timeout or a stop timeout
  // that has not fired yet moves, and only later (stop_budget.hpp).
  void operator()(const ev::ExtendTimeout& e) {
    const bool starting = st_.phase == Phase::Starting && spec_.ready.kind != ReadyKind::MinUptime;
    const bool stopping = st_.phase == Phase::Stopping && !st_.kill_sent;
    if (st_.pid <= 0 || st_.deadline == 0 || (!starting && !stopping))
      return ignore(fmt::format("EXTEND_TIMEOUT_USEC while {}: no timeout to extend", phase_name(st_.phase)));
    const Millis next = extended_deadline(st_.deadline, now_, e.usec, e.cap);
    if (next == st_.deadline) return ignore("EXTEND_TIMEOUT_USEC: the deadline is already as late (or at its bound)");
    log(Level::Info, std::nullopt,
        fmt::format("{} timeout extended to {} ms from now (EXTEND_TIMEOUT_USEC)", starting ? "start" : "stop", next - now_));
    arm(next);
  }

 private:
  // --- primitives -------------------------------------------------------
  // Builds the action in place in out_: moving a temporary Action (a
  // variant holding a string) makes GCC 12 warn -Wmaybe-uninitialized about
  // the alternatives that temporary never held.
  template <class A, class... Args>
  void emit(Args&&... args) {
    out_.emplace_back(std::in_place_type<A>, A{std::forward<Args>(args)...});
  }
  void log(Level level, std::optional<Code> code, std::string message) {
    emit<act::Log>(level, code, std::move(message));
  }
  // Benign no-op (a duplicate request, a late timer).
  void ignore(std::string why) { log(Level::Debug, std::nullopt, std::move(why)); }
  // An event that should not happen in this phase (a supervisor mix-up).
  void reject(std::string why) { log(Level::Debug, Code::StateInvalidTransition, std::move(why)); }
  void enter(Phase next) {
    if (st_.phase == next) return;
    st_.phase = next;
    emit<act::Publish>(next);
  }
  // 0 means "no timer", so a deadline at the clock's origin moves to 1.
  void arm(Millis deadline) {
    st_.deadline = std::max<Millis>(deadline, 1);
    emit<act::ArmTimer>(st_.deadline);
  }
  void disarm() {
    if (st_.deadline == 0) return;
    st_.deadline = 0;
    emit<act::CancelTimer>();
  }
  void signal(int sig) { emit<act::Signal>(sig); }
  void kill_group() {
    signal(9);
    st_.kill_sent = true;
  }
  void want_down() {
    st_.want = Want::Down;
    st_.stop_cause = StopCause::Requested;
    st_.requested_stop = true;
  }
  void become_running() {
    st_.reached_running = true;
    enter(Phase::Running);
  }

  // --- runs -------------------------------------------------------------
  // A start asked for by a person (or autostart): the failure history and
  // the start-limit window begin again.
  void fresh_start() {
    st_.want = Want::Up;
    st_.consecutive_failures = 0;
    st_.recent_starts.clear();
    begin_run();
  }

  void begin_run() {
    disarm();
    st_.pid = 0;
    st_.kill_sent = false;
    st_.stop_cause = StopCause::Requested;
    st_.reached_running = false;
    // What said why the last run ended belongs to it.
    st_.requested_stop = false;
    st_.why.reset();
    st_.failure = FailKind::None;
    st_.gave_up = GiveUp::None;
    enter(Phase::Starting);
    emit<act::Spawn>();
  }

  void begin_stop(StopReason reason) {
    disarm();
    st_.failure_facts().stop_reason = reason;
    enter(Phase::Stopping);
    st_.kill_sent = false;
    if (st_.pid <= 0) return;  // spawn in flight: Spawned will deliver the signal
    signal(spec_.stop_signal);
    arm(now_ + std::max<Millis>(spec_.stop_timeout_ms, 0));
  }

  void start_after_stop() {
    if (st_.want == Want::Up && st_.stop_cause == StopCause::Restart) return ignore("start already pending after the stop");
    st_.want = Want::Up;
    st_.stop_cause = StopCause::Restart;
    log(Level::Debug, std::nullopt, "will start again once the current run has exited");
  }

  // The run is over: its process exited (status) or never existed (nullopt).
  void end_run(const std::optional<ExitStatus>& status) {
    const bool stopped_on_request = st_.phase == Phase::Stopping && st_.stop_cause != StopCause::Failure;
    const bool forced_failure = st_.stop_cause == StopCause::Failure;
    const bool start_again = st_.stop_cause == StopCause::Restart;
    const bool ran_long =
        status.has_value() && st_.reached_running && lasted_reset_window(spec_.restart, st_.spawned_at, now_);
    st_.pid = 0;
    st_.kill_sent = false;
    st_.stop_cause = StopCause::Requested;
    if (status) st_.last_exit = *status;
    disarm();

    if (stopped_on_request || st_.want == Want::Down) {
      log(Level::Info, std::nullopt,
          status ? fmt::format("stopped ({})", describe_exit(*status)) : std::string("stopped before it started"));
      enter(Phase::Stopped);
      if (start_again) fresh_start();
      return;
    }
    if (ran_long) st_.consecutive_failures = 0;
    const bool failed = forced_failure || !status || !is_success(*status, spec_.success_exit_codes);
    apply_policy(failed, status, forced_failure);
  }

  void apply_policy(bool failed, const std::optional<ExitStatus>& status, bool forced_failure) {
    const RestartConfig& restart = spec_.restart;
    const bool restart_wanted =
        restart.policy == RestartPolicyKind::Always || (failed && restart.policy != RestartPolicyKind::Never);
    st_.consecutive_failures = failed ? st_.consecutive_failures + 1 : 0;
    log_exit(failed, status, forced_failure, restart_wanted ? Level::Warn : Level::Error);
    if (!restart_wanted) return enter(failed ? Phase::Failed : Phase::Stopped);

    if (restart.policy == RestartPolicyKind::ExponentialBackoff && restart.max_attempts > 0 &&
        st_.consecutive_failures >= restart.max_attempts) {
      log(Level::Error, Code::ServiceGaveUp,
          fmt::format("{} consecutive failures; giving up", st_.consecutive_failures));
      st_.gave_up = GiveUp::MaxAttempts;
      st_.failure_facts().gave_up_starts = st_.consecutive_failures;
      return enter(Phase::Failed);
    }
    const Millis delay = restart_delay(restart, st_.consecutive_failures);
    if (start_limit_reached(st_.recent_starts, restart, now_ + delay)) {
      log(Level::Error, Code::ServiceStartLimit,
          fmt::format("{} starts within {} ms; not restarting", st_.recent_starts.size(),
                      restart.start_limit_interval_ms));
      st_.gave_up = GiveUp::StartLimit;
      st_.failure_facts().gave_up_starts = static_cast<int>(st_.recent_starts.size());
      return enter(Phase::Failed);
    }
    enter(Phase::Restarting);
    // Even at 0 ms the restart goes through the loop (a timer due now): a
    // spawn that fails at once would otherwise restart inside this dispatch
    // for ever, and SIGTERM and the control socket would never be served.
    arm(now_ + delay);
  }

  void log_exit(bool failed, const std::optional<ExitStatus>& status, bool forced_failure, Level failure_level) {
    if (!status) return;  // a spawn failure was logged with its own code
    if (!failed) return log(Level::Info, std::nullopt, describe_exit(*status));
    if (forced_failure) return log(failure_level, std::nullopt, describe_exit(*status) + " (counted as a failure)");
    log(failure_level, status->signal > 0 ? Code::ServiceKilledBySignal : Code::ServiceExitFailure,
        describe_exit(*status));
  }

  ServiceState st_;
  Millis now_;
  const MachineSpec& spec_;
  std::vector<Action> out_;
};

}  // namespace

StepResult step(const ServiceState& state, const Event& event, Millis now, const MachineSpec& spec) {
  Transition transition(state, now, spec);
  std::visit(transition, event);
  return std::move(transition).finish();
}

}  // namespace procd
