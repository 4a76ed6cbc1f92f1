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

namespace procd {

void Supervisor::begin_shutdown(ShutdownReason reason, int signum) {
  if (ladder_.active()) return;
  Millis t = now();
  Millis deadline = ladder_.begin(t, cfg_.shutdown);
  manager_stopping();
  Log::write(LogLevel::Info, reason == ShutdownReason::Signal
                                 ? fmt::format("shutting down (reason: signal {})", signal_name(signum))
                                 : fmt::format("shutting down (reason: {})", shutdown_reason_name(reason)));
  for (auto& s : services_) {
    s->waiting = false;
    dispatch(*s, ev::ShutdownBegan{});
  }
  ladder_timer_.schedule(deadline - t);
  dirty_ = true;  // settle() sends the stop requests
}

// Stop requests that dependency order now allows; the end once all are down.
void Supervisor::advance_shutdown() {
  auto candidates = [this] {
    std::vector<StopCandidate> out(stop_sequence_.size());
    for (std::size_t i = 0; i < stop_sequence_.size(); ++i) {
      out[i].stop_sent = stop_sequence_[i]->stop_sent;
      out[i].has_process = !stop_sequence_[i]->idle();
      out[i].dependents = stop_dependents_[i];
    }
    return out;
  };
  for (std::size_t i : stops_due(candidates())) {
    stop_sequence_[i]->stop_sent = true;
    dispatch(*stop_sequence_[i], ev::StopRequested{});
  }
  if (!all_stopped(candidates())) return;
  exit_code_ = shutdown_exit_code(false, critical_exit_);
  Log::write(LogLevel::Info, fmt::format("all services stopped in {} ms", now() - ladder_.started_at()));
  stop_loop();
}

std::string Supervisor::stragglers() const {
  std::string left;
  for (auto& s : services_)
    if (!s->idle()) left += fmt::format(" {}(pid {})", s->cfg.name, s->pgid);
  return left;
}

void Supervisor::on_ladder_deadline() { climb(ladder_.advance(now()), "graceful shutdown timed out"); }

void Supervisor::climb(const LadderMove& move, const std::string& why) {
  if (move.give_up) {
    Log::write(LogLevel::Error, fmt::format("shutdown ceiling reached; exiting with processes left:{}", stragglers()),
               code_fields(Code::ShutdownStragglers));
    exit_code_ = shutdown_exit_code(true, critical_exit_);
    return stop_loop();
  }
  if (move.kill_all) {
    if (ladder_.stage() == LadderStage::Forced)
      Log::write(LogLevel::Warn, fmt::format("{}; killing:{}", why, stragglers()), code_fields(Code::ShutdownForced));
    const bool first_kill = ladder_.stage() == LadderStage::Forced;
    for (auto& s : services_) {
      if (s->idle()) continue;
      // A service still waiting for its dependents to stop (they used the
      // whole graceful window) is never SIGKILLed before its stop signal:
      // at the graceful deadline its stop request still waits for them
      // (advance_shutdown sends it once they are down); at the force
      // deadline they are stuck, so it goes out now. The ceiling bounds it.
      if (!s->stop_sent) {
        if (first_kill) continue;
        s->stop_sent = true;
        dispatch(*s, ev::StopRequested{});
        continue;
      }
      // The machine sends the first SIGKILL of a run (and stops expecting it
      // back); later rungs, and a draining group, are killed here.
      if (s->state.pid > 0 && !s->state.kill_sent) dispatch(*s, ev::ForceKill{});
      else signal_run(*s, SIGKILL);
    }
  }
  if (move.deadline > 0) ladder_timer_.schedule(move.deadline - now());
  dirty_ = true;
}

}  // namespace procd
