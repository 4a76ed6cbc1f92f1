// procd's own process for the process_* metrics: CPU time and RSS through
// the one /proc reader, open descriptors from /proc/self/fd, and the start
// time (/proc/self/stat starttime + /proc/stat btime, read once). Without
// /proc: nullopt.
#pragma once

#include <cstdint>
#include <optional>

namespace procd {

// procd's own process (the process_* series every Prometheus client exports).
struct ProcessMetrics {
  double cpu_seconds = 0;
  std::uint64_t resident_bytes = 0;
  std::uint64_t open_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

std::optional<ProcessMetrics> read_self_metrics();

// Give the heap's free pages back to the system (glibc malloc_trim) after a
// burst that freed much (a config parsed and its services created): the
// parse's peak would otherwise stay in procd's RSS. No-op elsewhere.
void release_free_heap();

}  // namespace procd
