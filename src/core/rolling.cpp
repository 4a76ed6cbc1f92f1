// Roll (procd/rolling.hpp): one pass over the instances per step. Order of
// a step: judge the restarted instances (ready in a new run = replaced; a
// failure or a passed deadline stops the roll), then fill the free slots
// (max_unavailable minus those still restarting) with pending instances in
// order. Invariant: unavailable() <= max_unavailable after every step, and
// after a failure nothing more is returned.
#include "procd/rolling.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace procd {

namespace {
std::string because(const std::string& why) { return why.empty() ? std::string() : " (" + why + ")"; }
}  // namespace

Roll::Roll(std::vector<std::string> instances, int max_unavailable, RollMillis deadline_ms)
    : max_unavailable_(std::max(1, max_unavailable)), deadline_ms_(deadline_ms) {
  for (auto& name : instances) items_.push_back(Item{std::move(name)});
}

int Roll::unavailable() const {
  return static_cast<int>(std::count_if(items_.begin(), items_.end(), [](const Item& i) { return i.slot == Slot::Restarting; }));
}

std::vector<std::string> Roll::restarting() const {
  std::vector<std::string> out;
  for (const auto& i : items_)
    if (i.slot == Slot::Restarting) out.push_back(i.name);
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

std::vector<std::string> Roll::step(RollMillis now, const std::vector<RollObservation>& seen) {
  std::vector<std::string> restart;
  if (state_ != State::Rolling) return restart;
  for (std::size_t k = 0; k < items_.size(); ++k) {
    Item& i = items_[k];
    if (i.slot != Slot::Restarting) continue;
    const RollObservation o = k < seen.size() ? seen[k] : RollObservation{};
    const bool new_run = o.run_id != 0 && o.run_id != i.old_run;
    if (new_run && o.seen == RollSeen::Ready) {
      i.slot = Slot::Replaced;
    } else if (new_run && o.seen == RollSeen::Failed) {
      state_ = State::Failed;
      reason_ = fmt::format("{} failed after its restart{}; the roll stopped", i.name, because(o.why));
    } else if (now >= i.deadline) {
      state_ = State::Failed;
      timed_out_ = true;
      reason_ = fmt::format("{} was not ready within {} ms of its restart{}; the roll stopped", i.name, deadline_ms_,
                            because(o.why));
    }
  }
  if (state_ == State::Failed) return restart;
  int free = max_unavailable_ - unavailable();  // negative after adopting more than the bound
  for (std::size_t k = 0; k < items_.size() && free > 0; ++k) {
    Item& i = items_[k];
    if (i.slot != Slot::Pending) continue;
    i.slot = Slot::Restarting;
    i.old_run = k < seen.size() ? seen[k].run_id : 0;
    i.deadline = now + deadline_ms_;
    restart.push_back(i.name);
    --free;
  }
  if (std::all_of(items_.begin(), items_.end(), [](const Item& i) { return i.slot == Slot::Replaced; })) state_ = State::Done;
  return restart;
}

}  // namespace procd
