// procd's own process for the process_* metrics: CPU time and RSS through
// the one /proc reader, open descriptors from /proc/self/fd, and the start
// time (/proc/self/stat starttime + /proc/stat btime, read once). Without
// /proc: nullopt.
#pragma once

#include <optional>

#include "procd/metrics.hpp"

namespace procd {

std::optional<ProcessMetrics> read_self_metrics();

}  // namespace procd
