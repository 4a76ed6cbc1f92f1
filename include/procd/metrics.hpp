// Prometheus text exposition (version 0.0.4) from a status snapshot (the
// same JSON object `procd status --json` prints) plus procd's counters.
// Pure: no I/O; unit-tested.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "procd/histogram.hpp"

namespace procd {

struct SupervisorCounters {
  std::uint64_t spawns_total = 0;
  std::uint64_t reloads_ok = 0;
  std::uint64_t reloads_failed = 0;
};

// What the status snapshot does not carry, per service (matched by name).
struct ServiceMetricsExtra {
  std::string name;
  std::uint64_t spawns = 0;
  std::optional<int> last_exit_code;          // as procd would exit with it (128+N for a signal)
  const DurationHistogram* start = nullptr;   // spawn -> ready
  const DurationHistogram* stop = nullptr;    // stop request -> run over
};

// procd's own process (the process_* series every Prometheus client exports).
struct ProcessMetrics {
  double cpu_seconds = 0;
  std::uint64_t resident_bytes = 0;
  std::uint64_t open_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

struct MetricsExtras {
  std::string version;
  std::vector<ServiceMetricsExtra> services;
  std::optional<ProcessMetrics> process;
};

// Metrics: procd_build_info{version}, procd_up, procd_uptime_seconds,
// procd_spawns_total, procd_reloads_total{result="ok|error"}, and per
// service (label service="NAME"): procd_service_up,
// procd_service_state{state="..."} (1 for the current one),
// procd_service_restarts_total, procd_service_spawns_total,
// procd_service_last_exit_code, procd_service_healthy (only when health is
// not null), procd_service_uptime_seconds, procd_service_cpu_seconds_total,
// procd_service_memory_bytes, the histograms
// procd_service_start_duration_seconds and procd_service_stop_duration_seconds;
// then process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_start_time_seconds.
std::string render_metrics(const nlohmann::json& status, const SupervisorCounters& counters,
                           const MetricsExtras& extras = {});

}  // namespace procd
