// The restart policy as pure functions of a service's RestartConfig: which
// exits count as success, how long to wait before the next automatic
// restart (fixed delay, or exponential backoff up to a cap), when a run
// lasted long enough to wipe the failure streak, and the start_limit window
// (at most start_limit_burst spawns within start_limit_interval_ms). No
// clock reads: the caller passes the times. Invariant: a start window holds
// only spawn times still inside the window, and is empty when the limit is
// off, so it stays bounded. The service machine applies these per step.
#pragma once

#include <cstdint>
#include <vector>

#include "procd/config.hpp"

namespace procd {

using Millis = std::int64_t;  // monotonic milliseconds

struct ExitStatus {
  int code = 0;    // exit code when signal == 0
  int signal = 0;  // > 0: killed by this signal
  bool operator==(const ExitStatus&) const = default;
};

// True when `status` counts as success under success_exit_codes.
bool is_success(const ExitStatus& status, const std::vector<int>& success_exit_codes);

// Delay before the next automatic restart after `consecutive_failures`
// failures in a row (1-based), per the policy. Exposed for tests and bench.
Millis restart_delay(const RestartConfig& restart, int consecutive_failures);

// A run that stayed up this long wipes the failure streak: max_delay_ms for
// exponential-backoff (SPEC), the start_limit window for the others.
bool lasted_reset_window(const RestartConfig& restart, Millis spawned_at, Millis now);

// Spawn times inside the start_limit window, oldest first. A vector, not a
// deque: an empty one allocates nothing (a deque took ~600 B a service even
// with no start limit, and again on each copy of the machine state).
using StartWindow = std::vector<Millis>;

// Records a spawn at `now` (or clears the window when there is no limit).
void note_start(StartWindow& recent_starts, const RestartConfig& restart, Millis now);

// True when a spawn at `spawn_at` would exceed the limit; judged at the
// moment the restart would spawn, like systemd's check at start.
bool start_limit_reached(StartWindow& recent_starts, const RestartConfig& restart, Millis spawn_at);

}  // namespace procd
