// Roll (procd/rolling.hpp): one pass over the instances per step. Order of
// a step: judge the restarted instances (ready in a new run = replaced; a
// failure or a passed deadline stops the roll), then fill the free slots
// (max_unavailable minus those still restarting) with pending instances in
// order. Start-first: a new run ready while the old one runs = retire the
// old (Retiring until it is gone); a failed or late new run = abandon it;
// one failing (or restarting) while Retiring stops the roll, not abandoned.
// Invariant: unavailable() <= max_unavailable after every step (unless more
// were adopted), and after a failure nothing more is started or retired.
#include "procd/rolling.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace procd {

namespace {
std::string because(const std::string& why) { return why.empty() ? std::string() : " (" + why + ")"; }
}  // namespace

Roll::Roll(std::vector<std::string> instances, int max_unavailable, RollMillis deadline_ms, RollMode mode)
    : max_unavailable_(std::max(1, max_unavailable)), deadline_ms_(deadline_ms), mode_(mode) {
  for (auto& name : instances) items_.push_back(Item{std::move(name)});
}

int Roll::unavailable() const {
  return static_cast<int>(std::count_if(items_.begin(), items_.end(), [](const Item& i) { return i.slot == Slot::Restarting || i.slot == Slot::Retiring; }));
}

std::vector<std::string> Roll::restarting() const {
  std::vector<std::string> out;
  for (const auto& i : items_)
    if (i.slot == Slot::Restarting || i.slot == Slot::Retiring) out.push_back(i.name);
  return out;
}

std::vector<std::string> Roll::pending() const {
  std::vector<std::string> out;
  for (const auto& i : items_)
    if (i.slot == Slot::Pending) out.push_back(i.name);
  return out;
}

RollMillis Roll::next_deadline() const {
  RollMillis out = -1;
  for (const auto& i : items_)
    if (i.slot == Slot::Restarting && (out < 0 || i.deadline < out)) out = i.deadline;
  return out;
}

void Roll::adopt(const std::string& name, std::uint64_t run_now, RollMillis now) {
  for (auto& i : items_)
    if (i.name == name && i.slot == Slot::Pending) {
      i.slot = Slot::Restarting;
      i.old_run = run_now;
      i.deadline = now + deadline_ms_;
    }
}

RollActions Roll::decide(RollMillis now, const std::vector<RollObservation>& seen) {
  RollActions out;
  if (state_ != State::Rolling) return out;
  const bool start_first = mode_ == RollMode::StartFirst;
  for (std::size_t k = 0; k < items_.size(); ++k) {
    Item& i = items_[k];
    const RollObservation o = k < seen.size() ? seen[k] : RollObservation{};
    if (i.slot == Slot::Retiring) {  // start-first: replaced once the old run is gone
      const bool failed = o.run_id != 0 && o.run_id != i.old_run && o.seen == RollSeen::Failed;
      if (failed && state_ == State::Rolling) {  // nothing replaced; the old run stops anyway: not abandoned
        state_ = State::Failed;
        reason_ = fmt::format("{}'s new run failed{} after it was ready; its old run was already stopping; the roll stopped",
                              i.name, because(o.why));
      } else if (!failed && !o.old_running) {
        i.slot = Slot::Replaced;
      }
      continue;
    }
    if (i.slot != Slot::Restarting || state_ != State::Rolling) continue;
    const bool new_run = o.run_id != 0 && o.run_id != i.old_run;
    if (new_run && o.seen == RollSeen::Ready) {
      i.slot = start_first && o.old_running ? Slot::Retiring : Slot::Replaced;
      if (i.slot == Slot::Retiring) out.retire.push_back(i.name);
    } else if (new_run && o.seen == RollSeen::Failed) {
      state_ = State::Failed;
      reason_ = start_first ? fmt::format("{}'s new run failed{}; its old run keeps serving; the roll stopped", i.name, because(o.why))
                            : fmt::format("{} failed after its restart{}; the roll stopped", i.name, because(o.why));
    } else if (now >= i.deadline) {
      state_ = State::Failed;
      timed_out_ = true;
      reason_ = start_first ? fmt::format("{}'s new run was not ready within {} ms{}; its old run keeps serving; the roll stopped",
                                          i.name, deadline_ms_, because(o.why))
                            : fmt::format("{} was not ready within {} ms of its restart{}; the roll stopped", i.name,
                                          deadline_ms_, because(o.why));
    }
    if (state_ == State::Failed && start_first) out.abandon.push_back(i.name);
  }
  if (state_ == State::Failed) return out;
  int free = max_unavailable_ - unavailable();  // negative after adopting more than the bound
  for (std::size_t k = 0; k < items_.size() && free > 0; ++k) {
    Item& i = items_[k];
    if (i.slot != Slot::Pending) continue;
    i.slot = Slot::Restarting;
    i.old_run = k < seen.size() ? seen[k].run_id : 0;
    i.deadline = now + deadline_ms_;
    out.start.push_back(i.name);
    --free;
  }
  if (std::all_of(items_.begin(), items_.end(), [](const Item& i) { return i.slot == Slot::Replaced; })) state_ = State::Done;
  return out;
}

}  // namespace procd
