// CPU and RSS accounting of services' process groups. The /proc reading is
// proc_reader.cpp's; this file only sums. sum_by_group() is pure: one map
// entry per process group (pgid > 1: 0 and 1 never name a service's group),
// live processes only — a zombie (Z) or dying (X) process holds no memory,
// and its CPU time moves to its parent when it is reaped, so counting it
// would report a process that is not there and count its time twice.
// Nothing here polls: the supervisor calls it from its sampling timer only.
#include "procd/resources.hpp"

#include <unistd.h>

namespace procd {
namespace {

std::uint64_t page_size() {
  static const std::uint64_t size = [] {
    long v = ::sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<std::uint64_t>(v) : 4096u;
  }();
  return size;
}

std::uint64_t clock_ticks_per_second() {
  static const std::uint64_t hz = [] {
    long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<std::uint64_t>(v) : 100u;
  }();
  return hz;
}

void add(GroupUsage& u, const ProcStat& st, std::uint64_t page_bytes) {
  u.cpu_ticks += st.utime_ticks + st.stime_ticks;
  u.rss_bytes += st.rss_pages * page_bytes;
  ++u.processes;
}

}  // namespace

GroupUsageMap sum_by_group(const std::vector<ProcStat>& procs, std::uint64_t page_bytes) {
  GroupUsageMap out;
  for (const auto& st : procs)
    if (st.pgid > 1 && !has_exited(st)) add(out[st.pgid], st, page_bytes);
  return out;
}

GroupUsageMap sample_all_groups() {
  std::vector<ProcStat> procs;
  for_each_proc_stat([&](const ProcStat& st) { procs.push_back(st); });
  return sum_by_group(procs, page_size());
}

GroupUsage sample_group(pid_t pgid) {
  if (pgid <= 0) return {};
  std::vector<ProcStat> members;
  for_each_proc_stat([&](const ProcStat& st) {
    if (st.pgid == pgid) members.push_back(st);
  });
  GroupUsageMap sums = sum_by_group(members, page_size());
  auto it = sums.find(pgid);
  return it == sums.end() ? GroupUsage{} : it->second;
}

double cpu_percent(std::uint64_t ticks_before, std::uint64_t ticks_after, std::int64_t elapsed_ms) {
  // The group's tick sum can shrink when a member exits between samples;
  // report idle rather than a negative or wrapped-around figure.
  if (elapsed_ms <= 0 || ticks_after <= ticks_before) return 0.0;
  double seconds = ticks_to_seconds(ticks_after - ticks_before);
  return seconds * 100000.0 / static_cast<double>(elapsed_ms);
}

double ticks_to_seconds(std::uint64_t ticks) {
  return static_cast<double>(ticks) / static_cast<double>(clock_ticks_per_second());
}

}  // namespace procd
