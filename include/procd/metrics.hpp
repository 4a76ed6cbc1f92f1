// Prometheus text exposition (version 0.0.4) of a typed snapshot the
// Supervisor fills straight from its services (no detour through the
// status JSON). Pure: no I/O; unit-tested. Rendered into one reserved
// string, numbers with std::to_chars: 1000 services in about a millisecond.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procd/histogram.hpp"
#include "procd/self_stats.hpp"  // ProcessMetrics

namespace procd {

struct SupervisorCounters {
  std::uint64_t spawns_total = 0;
  std::uint64_t reloads_ok = 0;
  std::uint64_t reloads_failed = 0;
};

struct ServiceMetrics {
  std::string_view name;
  std::string_view state;                      // lower-case phase name ("running", ...)
  int restarts = 0;
  double uptime_seconds = 0;                   // 0 when no process runs
  std::optional<double> cpu_seconds;           // absent: resources not tracked
  std::optional<std::uint64_t> memory_bytes;   // absent: resources not tracked
  std::optional<bool> healthy;                 // absent: no check, or no result yet
  std::uint64_t spawns = 0;
  std::optional<int> last_exit_code;           // as procd would exit with it (128+N for a signal)
  const DurationHistogram* start = nullptr;    // spawn -> ready
  const DurationHistogram* stop = nullptr;     // stop request -> run over
};

struct MetricsSnapshot {
  std::string_view version;
  std::optional<double> uptime_seconds;        // of procd; absent: no procd_uptime_seconds
  SupervisorCounters counters;
  std::vector<ServiceMetrics> services;
  std::optional<ProcessMetrics> process;
};

// Families, each one contiguous block opened by # HELP and # TYPE, left out
// when it has no sample: procd_build_info{version}, procd_up,
// procd_uptime_seconds, procd_spawns_total, procd_reloads_total{result};
// per service (label service="NAME"): procd_service_up,
// procd_service_state{state} (1 for the current one),
// procd_service_restarts_total, procd_service_uptime_seconds,
// procd_service_cpu_seconds_total, procd_service_memory_bytes,
// procd_service_healthy, procd_service_spawns_total,
// procd_service_last_exit_code, the histograms
// procd_service_start_duration_seconds and procd_service_stop_duration_seconds
// (a service's series appear with its first observation); then
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_start_time_seconds.
// Appends to `out`, which a caller may keep and clear() between scrapes:
// its pages are then reused rather than faulted in again for every scrape.
void render_metrics(const MetricsSnapshot& snapshot, std::string& out);
std::string render_metrics(const MetricsSnapshot& snapshot);

}  // namespace procd
