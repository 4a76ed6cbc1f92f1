// procd's shutdown as pure decisions: the ladder of [shutdown] (graceful →
// force → kill, all measured from the moment shutdown began), which
// services get their stop request now (reverse dependency order: a service
// is stopped once every service that depends on it has no process left),
// and the exit code procd ends with. The Supervisor feeds facts and the
// clock; nothing here touches a process or a timer.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/service_machine.hpp"

namespace procd {

enum class ShutdownReason { Signal, Requested, Error, Forced, Critical, Main };
const char* shutdown_reason_name(ShutdownReason reason);

enum class LadderStage {
  Idle,      // not shutting down
  Graceful,  // stop requests out, waiting until `graceful`
  Forced,    // every remaining group got SIGKILL, waiting until `force`
  Ceiling,   // SIGKILL again, waiting until `kill`
  Done,      // gave up: procd exits with code 3 even with processes left
};

struct LadderMove {
  bool kill_all = false;  // SIGKILL every group that still has a process
  bool give_up = false;   // exit now with stragglers (code 3)
  Millis deadline = 0;    // the ladder's next deadline; 0 = none
};

class ShutdownLadder {
 public:
  // Shutdown begins: the graceful wait. Returns the first deadline.
  Millis begin(Millis now, const ShutdownConfig& timeouts);
  // The ladder's deadline passed: climb one rung.
  LadderMove advance(Millis now);
  // A second SIGTERM/SIGINT/SIGQUIT: skip the graceful wait (once).
  std::optional<LadderMove> escalate(Millis now);

  bool active() const { return stage_ != LadderStage::Idle; }
  LadderStage stage() const { return stage_; }
  Millis deadline() const { return deadline_; }
  Millis started_at() const { return started_; }

 private:
  LadderStage stage_ = LadderStage::Idle;
  ShutdownConfig t_;
  Millis started_ = 0;
  Millis deadline_ = 0;
};

// What the stop order sees of one service, in stop order (dependents first).
struct StopCandidate {
  bool stop_sent = false;    // its stop request already went out in this shutdown
  bool has_process = false;  // a process of its run exists, or its exit is still draining
  std::vector<std::size_t> dependents;  // indices (into the same vector) of services depending on it
};

// Indices whose stop request is due now: not sent yet, and no dependent
// has a process left.
std::vector<std::size_t> stops_due(const std::vector<StopCandidate>& services);

// Shutdown is complete when no service has a process left.
bool all_stopped(const std::vector<StopCandidate>& services);

// procd's exit code: 3 when the ceiling was hit with processes left; else
// the main service's code (issue 28: 0 included) when its end caused the
// shutdown; else the critical service's code (never 0: it failed) when one
// caused it; else 0.
int shutdown_exit_code(bool gave_up, std::optional<int> critical_exit_code, std::optional<int> main_exit_code = std::nullopt);

}  // namespace procd
