// stop_budget: see stop_budget.hpp.
#include "procd/stop_budget.hpp"

#include <algorithm>
#include <limits>

namespace procd {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::None: return "";
    case StopReason::Requested: return "requested";
    case StopReason::Shutdown: return "shutdown";
    case StopReason::Reload: return "reload";
    case StopReason::Restart: return "restart";
    case StopReason::Rolling: return "rolling";
    case StopReason::Unhealthy: return "unhealthy";
    case StopReason::Memory: return "memory";
    case StopReason::Watchdog: return "watchdog";
    case StopReason::Dependency: return "dependency";
    case StopReason::StartTimeout: return "start-timeout";
  }
  return "";
}

Millis extended_deadline(Millis current, Millis now, std::uint64_t extend_us, Millis cap) {
  if (current <= 0) return current;  // no deadline armed: nothing to extend
  const std::uint64_t ms = extend_us / 1000;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Millis>::max() / 2);
  const Millis wanted = now + static_cast<Millis>(std::min(ms, kMax));
  Millis next = std::max(current, wanted);
  if (cap > 0) next = std::min(next, std::max(current, cap));
  return next;
}

}  // namespace procd
