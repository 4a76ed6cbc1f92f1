// The simulated cgroupfs: a CgroupTree (cgroup.hpp) whose cgroups are the
// world's bookkeeping, not directories. A process spawned with a cgroup in
// its request runs in it (health commands too, as their request is the
// run's), its workers stay in it even when they setsid away; cgroup.procs
// lists the members not exited, cgroup.kill SIGKILLs every one of them, a
// signal to the members reaches each; `populated` is whether one is left.
// The cgroup.events watch is recorded, not started: when a cgroup empties
// or fills, the world calls the very callback procd gave (what its
// uv_fs_event would run). Before procd starts, some services' cgroups hold
// a process an earlier procd left (crash recovery: prepare() kills it).
// Limits are accepted silently; usage and OOM counts are empty.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>

#include "procd/cgroup.hpp"
#include "sim_world.hpp"

namespace procd::sim {

// Where the simulated subtree is (procd's base directory).
inline const std::string kSimCgroupBase = "/sim/cgroup/procd";

class SimCgroups final : public CgroupTree {
 public:
  explicit SimCgroups(SimWorld& world);
  ~SimCgroups() override;

  Result<std::vector<int>> prepare(const std::string& service) override;
  Result<std::vector<int>> clean_leftover(const std::string& dir) override;
  std::vector<Error> apply_limits(const std::string&, const CgroupLimits&) override { return {}; }
  Result<void> kill(const std::string& dir) override;
  void signal_members(const std::string& dir, int sig) override;
  std::optional<bool> populated(const std::string& dir) const override;
  CgroupUsage usage(const std::string&) const override { return {}; }
  std::uint64_t oom_kills(const std::string&) const override { return 0; }
  void remove(const std::string& dir) override;
  void teardown() override;
  int watch_events(uv_fs_event_t* handle, const std::string& dir, uv_fs_event_cb cb) override;
  void unwatch_events(const std::string& dir) override { watches_.erase(dir); }

  // Calls the watchers of every cgroup whose `populated` changed since the last call.
  bool deliver_events();
  bool exists(const std::string& dir) const { return dirs_.count(dir) > 0; }

 private:
  Result<std::vector<int>> kill_left(const std::string& dir);

  SimWorld& world_;
  std::set<std::string> dirs_;
  struct Watch {
    uv_fs_event_t* handle;
    uv_fs_event_cb cb;
    bool populated;
  };
  std::map<std::string, Watch> watches_;
};

}  // namespace procd::sim
