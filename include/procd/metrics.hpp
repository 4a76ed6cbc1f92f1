// Prometheus text exposition (version 0.0.4) from a status snapshot (the
// same JSON object `procd status --json` prints) plus procd's counters.
// Pure: no I/O; unit-tested.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace procd {

struct SupervisorCounters {
  std::uint64_t spawns_total = 0;
  std::uint64_t reloads_ok = 0;
  std::uint64_t reloads_failed = 0;
};

// Metrics: procd_up, procd_uptime_seconds, procd_spawns_total,
// procd_reloads_total{result="ok|error"}, and per service (label service="NAME"):
// procd_service_up, procd_service_state{state="..."} (1 for the current one),
// procd_service_restarts_total, procd_service_uptime_seconds,
// procd_service_cpu_seconds_total, procd_service_memory_rss_bytes,
// procd_service_healthy (only when health is not null).
std::string render_metrics(const nlohmann::json& status, const SupervisorCounters& counters);

}  // namespace procd
