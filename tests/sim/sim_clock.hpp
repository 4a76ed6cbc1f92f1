// Simulated time for a loop: a TimerHost (timer.hpp) whose clock moves only
// when the simulator says so. Timers are kept in deadline order, ties in the
// order they were armed, so the same calls fire the same timers in the same
// order on every run (nothing here depends on pointer values).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "procd/timer.hpp"

namespace procd::sim {

class SimClock final : public TimerHost {
 public:
  std::int64_t now() const { return now_; }
  // Moves the clock forward to t (never back); fires nothing.
  void set_now(std::int64_t t) {
    if (t > now_) now_ = t;
  }
  // The earliest armed deadline.
  std::optional<std::int64_t> next_due() const;
  // Fires the earliest timer due at or before `until`, moving the clock to
  // its deadline; false when none is due by then.
  bool fire_next(std::int64_t until);
  std::size_t armed() const { return queue_.size(); }
  std::uint64_t fired() const { return fired_; }

  void schedule(Id id, std::int64_t delay_ms, std::int64_t repeat_ms) override;
  void cancel(Id id) override;
  bool is_active(Id id) const override { return index_.count(id) > 0; }
  std::int64_t due_in(Id id) const override;
  void forget(Id id) override { cancel(id); }

 private:
  using Key = std::tuple<std::int64_t, std::uint64_t, Id>;  // deadline, arm order, id
  struct Armed {
    Key key;
    std::int64_t repeat;
  };
  std::int64_t now_ = 1000;  // not 0: 0 means "no deadline" to the service machine
  std::uint64_t seq_ = 0;
  std::uint64_t fired_ = 0;
  std::set<Key> queue_;
  std::unordered_map<Id, Armed> index_;
};

}  // namespace procd::sim
