// CPU and RSS of services' process groups, from Linux /proc (read through
// proc_reader.hpp). sum_by_group() is pure (unit-tested on captured stat
// text); sample_all_groups() reads /proc once per call. Only called on the
// sampling timer, never polled. Processes that have exited (zombies) are
// not counted: they hold no memory and their CPU time moves to the parent.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <sys/types.h>
#include <vector>

#include "procd/proc_reader.hpp"

namespace procd {

struct GroupUsage {
  std::uint64_t cpu_ticks = 0;   // utime + stime summed over the group
  std::uint64_t rss_bytes = 0;   // summed over the group
  int processes = 0;
};

using GroupUsageMap = std::unordered_map<pid_t, GroupUsage>;

// Usage of each process group (pgid > 1) among `procs`, counting live processes only.
GroupUsageMap sum_by_group(const std::vector<ProcStat>& procs, std::uint64_t page_bytes);

// sum_by_group over every process in /proc, with the system's page size.
GroupUsageMap sample_all_groups();

// Usage of the one group `pgid` (empty for pgid <= 0).
GroupUsage sample_group(pid_t pgid);

// CPU percent between two samples taken `elapsed_ms` apart (100 = one core).
double cpu_percent(std::uint64_t ticks_before, std::uint64_t ticks_after, std::int64_t elapsed_ms);
double ticks_to_seconds(std::uint64_t ticks);

}  // namespace procd
