// SimClock: see sim_clock.hpp.
#include "sim_clock.hpp"

namespace procd::sim {

std::optional<std::int64_t> SimClock::next_due() const {
  if (queue_.empty()) return std::nullopt;
  return std::get<0>(*queue_.begin());
}

void SimClock::schedule(Id id, std::int64_t delay_ms, std::int64_t repeat_ms) {
  cancel(id);
  Key key{now_ + delay_ms, seq_++, id};
  queue_.insert(key);
  index_[id] = Armed{key, repeat_ms};
}

void SimClock::cancel(Id id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  queue_.erase(it->second.key);
  index_.erase(it);
}

std::int64_t SimClock::due_in(Id id) const {
  auto it = index_.find(id);
  if (it == index_.end()) return -1;
  std::int64_t d = std::get<0>(it->second.key) - now_;
  return d < 0 ? 0 : d;
}

bool SimClock::fire_next(std::int64_t until) {
  if (queue_.empty()) return false;
  const std::int64_t due = std::get<0>(*queue_.begin());
  Id id = std::get<2>(*queue_.begin());
  if (due > until) return false;
  set_now(due);
  std::int64_t repeat = index_.at(id).repeat;
  cancel(id);
  if (repeat > 0) schedule(id, repeat, repeat);  // as libuv: re-armed before the callback runs
  ++fired_;
  TimerHost::fire(id);
  return true;
}

}  // namespace procd::sim
