// Why a run is stopped, and how far a service may move its own deadline
// (issue 28). Pure: no clock reads, no I/O.
//
// StopReason is recorded by the machine when a stop begins and kept until
// the next run starts, so events, `status` and procd's log say why
// ("stopping: reload", "stopped by request"). Each value has one stable
// lower-case name (JSON "stop_reason"); values are only appended.
//
// extended_deadline() is systemd's EXTEND_TIMEOUT_USEC: a notify service
// moves its current start or stop deadline to now + N, never earlier than
// it already is, and never past `cap` (during shutdown: the ladder's
// [shutdown].kill deadline; 0 = no cap).
#pragma once

#include <cstdint>

#include "procd/restart_policy.hpp"  // Millis

namespace procd {

enum class StopReason : std::uint8_t {
  None,          // no stop since the run began
  Requested,     // `procd stop`, the control socket, the API
  Shutdown,      // procd is shutting down
  Reload,        // a reload removed or changed the service
  Restart,       // `procd restart` (or the API's)
  Rolling,       // a rolling restart of a replicated service
  Unhealthy,     // its health check failed
  Memory,        // over memory_limit
  Watchdog,      // no WATCHDOG=1 in time
  Dependency,    // a service it depends on went down
  StartTimeout,  // not ready within start_timeout_ms
};

// "requested", "shutdown", "reload", "restart", "rolling", "unhealthy",
// "memory", "watchdog", "dependency", "start-timeout"; "" for None.
const char* stop_reason_name(StopReason reason);

// The deadline after EXTEND_TIMEOUT_USEC=extend_us at `now`: max(current,
// now + extend_us/1000), bounded by cap when cap > 0; `current` (0 = none)
// when there is nothing to extend or the request would shorten it.
Millis extended_deadline(Millis current, Millis now, std::uint64_t extend_us, Millis cap);

}  // namespace procd
