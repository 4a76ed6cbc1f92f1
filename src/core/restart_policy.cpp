// The restart policy: success codes, the restart delay sequence, the
// failure-streak reset and the start_limit window (see restart_policy.hpp).
// Pure: no I/O, no clock reads. Delays never overflow: the backoff compares
// against the cap instead of shifting past it, and every delay is clamped to
// kMaxDurationMs (what validation allows), so `now + delay` cannot overflow
// even for a config that skipped validation.
#include "procd/restart_policy.hpp"

#include <algorithm>

namespace procd {

bool is_success(const ExitStatus& status, const std::vector<int>& success_exit_codes) {
  if (status.signal > 0) return false;
  return std::find(success_exit_codes.begin(), success_exit_codes.end(), status.code) != success_exit_codes.end();
}

namespace {
Millis bounded(Millis ms) { return std::clamp<Millis>(ms, 0, kMaxDurationMs); }
}  // namespace

Millis restart_delay(const RestartConfig& restart, int consecutive_failures) {
  switch (restart.policy) {
    case RestartPolicyKind::Never: return 0;
    case RestartPolicyKind::Always:
    case RestartPolicyKind::OnFailure: return bounded(restart.delay_ms);
    case RestartPolicyKind::ExponentialBackoff: {
      const Millis cap = bounded(restart.max_delay_ms);
      const Millis initial = bounded(restart.initial_delay_ms);
      const int shift = std::max(consecutive_failures, 1) - 1;
      // initial << shift overflows long before n gets large; compare against
      // the cap shifted the other way instead.
      if (shift >= 63 || initial > (cap >> shift)) return cap;
      return initial << shift;
    }
  }
  return 0;
}

bool lasted_reset_window(const RestartConfig& restart, Millis spawned_at, Millis now) {
  const Millis window =
      restart.policy == RestartPolicyKind::ExponentialBackoff ? restart.max_delay_ms : restart.start_limit_interval_ms;
  return window > 0 && now - spawned_at >= window;
}

namespace {

bool start_limit_enabled(const RestartConfig& restart) {
  return restart.start_limit_burst > 0 && restart.start_limit_interval_ms > 0;
}

void forget_starts_before(StartWindow& recent_starts, const RestartConfig& restart, Millis at) {
  const Millis window = restart.start_limit_interval_ms;
  auto inside = std::find_if(recent_starts.begin(), recent_starts.end(), [&](Millis t) { return at - t < window; });
  recent_starts.erase(recent_starts.begin(), inside);
}

}  // namespace

void note_start(StartWindow& recent_starts, const RestartConfig& restart, Millis now) {
  if (!start_limit_enabled(restart)) return recent_starts.clear();
  recent_starts.push_back(now);
  forget_starts_before(recent_starts, restart, now);
}

bool start_limit_reached(StartWindow& recent_starts, const RestartConfig& restart, Millis spawn_at) {
  if (!start_limit_enabled(restart)) return false;
  forget_starts_before(recent_starts, restart, spawn_at);
  return static_cast<int>(recent_starts.size()) >= restart.start_limit_burst;
}

}  // namespace procd
