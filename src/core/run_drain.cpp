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

DrainVerdict RunDrain::deadline_passed(Millis now) {
  if (phase_ != DrainPhase::Draining || deadline_ == 0 || now < deadline_) return {};
  return finish(DrainVerdict::Kind::KillAndFinish);
}

DrainVerdict RunDrain::finish(DrainVerdict::Kind kind) {
  DrainVerdict v{kind, 0, status_};
  phase_ = DrainPhase::Idle;
  open_ = 0;
  deadline_ = 0;
  return v;
}

}  // namespace procd
