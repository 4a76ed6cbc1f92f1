// Shutdown ladder, stop order and exit code: see shutdown_plan.hpp.
// Invariants: the ladder only climbs (Idle → Graceful → Forced → Ceiling →
// Done); deadlines are absolute and never before the moment shutdown began.
#include "procd/shutdown_plan.hpp"

#include <algorithm>

namespace procd {

const char* shutdown_reason_name(ShutdownReason reason) {
  switch (reason) {
    case ShutdownReason::Signal: return "signal";
    case ShutdownReason::Requested: return "requested";
    case ShutdownReason::Error: return "error";
    case ShutdownReason::Forced: return "forced";
    case ShutdownReason::Critical: return "critical service failed";
    case ShutdownReason::Main: return "main service ended";
  }
  return "?";
}

Millis ShutdownLadder::begin(Millis now, const ShutdownConfig& timeouts) {
  if (stage_ != LadderStage::Idle) return deadline_;
  t_ = timeouts;
  started_ = now;
  stage_ = LadderStage::Graceful;
  deadline_ = started_ + std::max<Millis>(t_.graceful, 0);
  return deadline_;
}

LadderMove ShutdownLadder::advance(Millis now) {
  LadderMove m;
  switch (stage_) {
    case LadderStage::Idle:
    case LadderStage::Done: return m;
    case LadderStage::Graceful:
      stage_ = LadderStage::Forced;
      m.kill_all = true;
      deadline_ = std::max(now, started_ + std::max<Millis>(t_.force, 0));
      break;
    case LadderStage::Forced:
      stage_ = LadderStage::Ceiling;
      m.kill_all = true;
      deadline_ = std::max(now, started_ + std::max<Millis>(t_.kill, 0));
      break;
    case LadderStage::Ceiling:
      stage_ = LadderStage::Done;
      m.give_up = true;
      deadline_ = 0;
      break;
  }
  m.deadline = deadline_;
  return m;
}

std::optional<LadderMove> ShutdownLadder::escalate(Millis now) {
  if (stage_ != LadderStage::Graceful) return std::nullopt;
  return advance(now);
}

std::vector<std::size_t> stops_due(const std::vector<StopCandidate>& services) {
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < services.size(); ++i) {
    const StopCandidate& s = services[i];
    if (s.stop_sent) continue;
    bool dependents_down = std::none_of(s.dependents.begin(), s.dependents.end(), [&](std::size_t d) {
      return d < services.size() && services[d].has_process;
    });
    if (dependents_down) due.push_back(i);
  }
  return due;
}

bool all_stopped(const std::vector<StopCandidate>& services) {
  return std::none_of(services.begin(), services.end(), [](const StopCandidate& s) { return s.has_process; });
}

int shutdown_exit_code(bool gave_up, std::optional<int> critical_exit_code, std::optional<int> main_exit_code) {
  if (gave_up) return 3;
  if (main_exit_code) return *main_exit_code;
  if (critical_exit_code) return *critical_exit_code == 0 ? 1 : *critical_exit_code;
  return 0;
}

}  // namespace procd
