// Shutdown at the Supervisor's edge: the ladder's decisions (shutdown_plan)
// carried out. begin_shutdown() tells every machine no run comes back
// (ev::ShutdownBegan); the stop requests go out from settle() in reverse
// dependency order, as stops_due() allows; the ladder's one timer climbs
// graceful → force → kill; the loop stops once no service has a process
// left, or at the ceiling.
#include <fmt/core.h>
#include <signal.h>

#include "procd/logging.hpp"
#include "procd/signal_names.hpp"
#include "procd/supervisor.hpp"
#include "service_host.hpp"

namespace procd {
namespace {

// Who still has a process, for the ladder's log lines.
std::string stragglers(const std::vector<std::unique_ptr<Service>>& services) {
  std::string left;
  for (const auto& s : services)
    if (!s->idle()) left += fmt::format(" {}(pid {})", s->name(), s->pgid());
  return left;
}

}  // namespace


void Supervisor::begin_shutdown(ShutdownReason reason, int signum) {
  if (ladder_.active()) return;
  Millis t = now();
  Millis deadline = ladder_.begin(t, cfg_.shutdown);
  manager_.stopping();
  Log::write(LogLevel::Info, reason == ShutdownReason::Signal
                                 ? fmt::format("shutting down (reason: signal {})", signal_name(signum))
                                 : fmt::format("shutting down (reason: {})", shutdown_reason_name(reason)));
  for (auto& s : services_) {
    s->mark_waiting(false, {});
    s->hold_stop(StopReason::None);  // the ladder stops everything in reverse dependency order
    dispatch(*s, ev::ShutdownBegan{});
  }
  ladder_timer_.schedule(deadline - t);
  dirty_ = true;  // settle() sends the stop requests
}

// Stop requests that dependency order now allows; the end once all are down.
void Supervisor::advance_shutdown() {
  auto candidates = [this] {
    std::vector<StopCandidate> out(index_.stop_sequence.size());
    for (std::size_t i = 0; i < index_.stop_sequence.size(); ++i) {
      out[i].stop_sent = index_.stop_sequence[i]->intent().stop_sent;
      out[i].has_process = !index_.stop_sequence[i]->idle();
      out[i].dependents = index_.stop_dependents[i];
    }
    return out;
  };
  for (std::size_t i : stops_due(candidates())) {
    index_.stop_sequence[i]->mark_stop_sent();
    dispatch(*index_.stop_sequence[i], ev::StopRequested{StopReason::Shutdown});
  }
  // Every child procd forked is reaped before it exits: a health command
  // its stopped checker SIGKILLed too (the [shutdown].kill ceiling bounds it).
  if (!all_stopped(candidates()) || host_->children_pending()) return;
  exit_code_ = shutdown_exit_code(false, critical_exit_, main_exit_);
  Log::write(LogLevel::Info, fmt::format("all services stopped in {} ms", now() - ladder_.started_at()));
  stop_loop();
}

void Supervisor::climb(const LadderMove& move, const std::string& why) {
  if (move.give_up) {
    // The last rung: whatever is left is SIGKILLed before procd exits (each
    // had its stop signal by the force deadline), so nothing is orphaned
    // alive; what survives even that (D state) is named.
    Log::write(LogLevel::Error, fmt::format("shutdown ceiling reached; killing what is left and exiting:{}", stragglers(services_)),
               code_fields(Code::ShutdownStragglers));
    for (auto& s : services_)
      if (!s->idle()) s->signal(SIGKILL);
    exit_code_ = shutdown_exit_code(true, critical_exit_, main_exit_);
    return stop_loop();
  }
  if (move.kill_all) {
    if (ladder_.stage() == LadderStage::Forced)
      Log::write(LogLevel::Warn, fmt::format("{}; killing:{}", why, stragglers(services_)), code_fields(Code::ShutdownForced));
    const bool first_kill = ladder_.stage() == LadderStage::Forced;
    for (auto& s : services_) {
      if (s->idle()) continue;
      // A service still waiting for its dependents to stop (they used the
      // whole graceful window) is never SIGKILLed before its stop signal:
      // at the graceful deadline its stop request still waits for them
      // (advance_shutdown sends it once they are down); at the force
      // deadline they are stuck, so it goes out now. The ceiling bounds it.
      if (!s->intent().stop_sent) {
        if (first_kill) continue;
        s->mark_stop_sent();
        dispatch(*s, ev::StopRequested{StopReason::Shutdown});
        continue;
      }
      // The machine sends the first SIGKILL of a run (and stops expecting it
      // back); later rungs, and a draining group, are killed here.
      if (s->state().pid > 0 && !s->state().kill_sent) dispatch(*s, ev::ForceKill{});
      else s->signal(SIGKILL);
    }
  }
  if (move.deadline > 0) ladder_timer_.schedule(move.deadline - now());
  dirty_ = true;
}

}  // namespace procd
