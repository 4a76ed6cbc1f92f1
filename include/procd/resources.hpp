// CPU and RSS of a service's process group, from Linux /proc. The parsing
// functions are pure (unit-tested on captured text); sample_group() walks
// /proc once per call. Only called on the sampling timer, never polled.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <sys/types.h>

namespace procd {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  char state = '?';
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t rss_pages = 0;
};

// Parse the text of /proc/PID/stat (the comm field may hold spaces and ')').
std::optional<ProcStat> parse_proc_stat(std::string_view text);

struct GroupUsage {
  std::uint64_t cpu_ticks = 0;   // utime + stime summed over the group
  std::uint64_t rss_bytes = 0;   // summed over the group
  int processes = 0;
};

// Sum over every process whose pgid is `pgid`.
GroupUsage sample_group(pid_t pgid);

// CPU percent between two samples taken `elapsed_ms` apart (100 = one core).
double cpu_percent(std::uint64_t ticks_before, std::uint64_t ticks_after, std::int64_t elapsed_ms);
double ticks_to_seconds(std::uint64_t ticks);

}  // namespace procd
