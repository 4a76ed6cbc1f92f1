// RunDrain: see run_drain.hpp. Invariants: open_ >= 0; deadline_ != 0 only
// while Draining; Finish/KillAndFinish return to Idle exactly once per run.
#include "procd/run_drain.hpp"

#include <algorithm>

namespace procd {

Millis drain_budget(Millis stop_timeout_ms) { return std::min<Millis>(1000, std::max<Millis>(stop_timeout_ms, 1)); }

void RunDrain::started(int open_streams) {
  phase_ = DrainPhase::Running;
  open_ = std::max(open_streams, 0);
  deadline_ = 0;
  status_ = {};
  killed_ = false;
}

void RunDrain::exited(const ExitStatus& status) {
  if (phase_ != DrainPhase::Running) return;  // a second exit for one run cannot happen; ignore it
  phase_ = DrainPhase::Draining;
  status_ = status;
}

void RunDrain::stream_closed() {
  if (open_ > 0) --open_;
}

DrainVerdict RunDrain::check(bool group_alive, Millis now, Millis budget) {
  if (phase_ != DrainPhase::Draining) return {};
  if (open_ == 0 && !group_alive) return finish(DrainVerdict::Kind::Finish);
  if (deadline_ != 0) return {};
  deadline_ = std::max<Millis>(now + std::max<Millis>(budget, 0), 1);
  return DrainVerdict{DrainVerdict::Kind::Arm, deadline_, status_};
}

DrainVerdict RunDrain::deadline_passed(Millis now, bool cgroup_populated, Millis kill_wait) {
  if (phase_ != DrainPhase::Draining || deadline_ == 0 || now < deadline_) return {};
  if (cgroup_populated && !killed_) {
    killed_ = true;
    open_ = 0;  // the caller closes the streams
    deadline_ = std::max<Millis>(now + std::max<Millis>(kill_wait, 0), 1);
    return DrainVerdict{DrainVerdict::Kind::Kill, deadline_, status_};
  }
  return finish(DrainVerdict::Kind::KillAndFinish);
}

DrainVerdict RunDrain::finish(DrainVerdict::Kind kind) {
  DrainVerdict v{kind, 0, status_};
  phase_ = DrainPhase::Idle;
  open_ = 0;
  deadline_ = 0;
  killed_ = false;
  return v;
}

}  // namespace procd
