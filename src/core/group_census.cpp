// GroupCensus: see group_census.hpp. Invariants: each process's descent is
// decided once (memoized), so a census is O(processes) on top of the one
// pass that read them; a parent chain is followed at most 64 steps (a
// snapshot taken while ids are reused could, in theory, hold a cycle).
#include "procd/group_census.hpp"

#include <unordered_map>

namespace procd {
namespace {

struct Walker {
  std::unordered_map<pid_t, pid_t> parent;
  std::unordered_map<pid_t, bool> known;  // pid -> descends from the ancestor
  pid_t ancestor = 0;

  bool descends(pid_t pid) {
    std::vector<pid_t> path;  // the chain walked up, none of it known yet
    bool verdict = false;
    for (pid_t p = pid; path.size() < 64;) {
      path.push_back(p);
      auto it = parent.find(p);
      if (it == parent.end()) break;  // not in the snapshot: exited meanwhile
      pid_t up = it->second;
      if (up == ancestor) {
        verdict = true;
        break;
      }
      if (auto k = known.find(up); k != known.end()) {
        verdict = k->second;
        break;
      }
      if (up <= 1) break;  // init (or the kernel) reached without meeting the ancestor
      p = up;
    }
    for (pid_t q : path) known[q] = verdict;
    return verdict;
  }
};

}  // namespace

GroupCensus GroupCensus::of(const std::vector<ProcStat>& procs, pid_t ancestor) {
  Walker w;
  w.ancestor = ancestor;
  w.parent.reserve(procs.size());
  for (const auto& st : procs) w.parent[st.pid] = st.ppid;
  GroupCensus c;
  for (const auto& st : procs)
    if (!has_exited(st) && st.pgid > 1 && !c.alive_.count(st.pgid) && w.descends(st.pid)) c.alive_.insert(st.pgid);
  return c;
}

GroupCensus GroupCensus::of_groups(std::unordered_set<pid_t> alive) {
  GroupCensus c;
  c.alive_ = std::move(alive);
  return c;
}

}  // namespace procd
