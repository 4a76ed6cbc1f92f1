// Which process groups still have a live member descending from procd,
// answered for every group from one snapshot of the process table. Without
// cgroups, the end of a run whose leader was reaped is "its group has no
// live member descending from procd" (orphans are reparented to procd, the
// subreaper; a group id without one may have been reused). The Supervisor
// takes one census lazily when a draining run first asks, and drops it at
// the next loop phase or reap: one /proc pass answers every draining
// service, instead of one pass per service per change (O(N^2) passes in a
// shutdown of N such services). Pure: the snapshot is read in src/sys.
#pragma once

#include <sys/types.h>

#include <unordered_set>
#include <vector>

#include "procd/proc_stat.hpp"

namespace procd {

class GroupCensus {
 public:
  // From a snapshot of /proc: the groups with a live (not exited) member
  // whose parent chain, within the snapshot and at most 64 steps, reaches
  // `ancestor` (ancestor 1, procd as PID 1: every process with a parent
  // chain to 1). A process whose parent is missing from the snapshot
  // (exited meanwhile) does not count.
  static GroupCensus of(const std::vector<ProcStat>& procs, pid_t ancestor);
  // The groups named alive (tests, the fake system).
  static GroupCensus of_groups(std::unordered_set<pid_t> alive);

  bool alive(pid_t pgid) const { return pgid > 1 && alive_.count(pgid) > 0; }
  std::size_t groups() const { return alive_.size(); }

 private:
  std::unordered_set<pid_t> alive_;
};

}  // namespace procd
