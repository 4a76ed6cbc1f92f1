// The fields of /proc/PID/stat procd uses, as plain data: read by the one
// /proc reader (procd/proc_reader.hpp, sys), judged by pure code such as
// the group census (procd/group_census.hpp, core).
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace procd {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  char state = '?';  // R S D Z X T t I ...; Z and X have exited
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t rss_pages = 0;
};

// True for a process that has exited and waits to be reaped (Z) or is being
// torn down (X): it holds no memory, and its CPU time moves to its parent.
inline bool has_exited(const ProcStat& st) { return st.state == 'Z' || st.state == 'X'; }

}  // namespace procd
