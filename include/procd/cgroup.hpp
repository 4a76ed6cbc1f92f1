// procd's cgroup v2 subtree on a real (or, in tests, a fake) cgroupfs:
// setting it up (discovery, layout, moving procd into its `supervisor`
// leaf, enabling controllers), one cgroup per service (created, limits
// written, killed, watched, removed) and tearing it down on a clean exit.
// Every file access goes through the directory tree rooted at the mount
// point, so unit tests run the same code on a temp directory holding the
// files the kernel would (cgroup.events, memory.events, cpu.stat...).
// Decisions and parsing are pure, in cgroup_layout.hpp.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "procd/cgroup_layout.hpp"
#include "procd/error.hpp"

namespace procd {

struct CgroupLimits {
  std::uint64_t memory_max = 0;  // bytes; 0 = none
  std::string cpu_max;           // "50%", "max"; empty = none
  std::int64_t pids_max = 0;     // 0 = none
  int cpu_weight = 0;            // 1..10000; 0 = none
  bool any() const { return memory_max || !cpu_max.empty() || pids_max || cpu_weight; }
};

struct CgroupUsage {
  std::optional<std::uint64_t> cpu_usec;      // cpu.stat usage_usec
  std::optional<std::uint64_t> memory_bytes;  // memory.current (memory controller on)
};

// The operations are virtual for one reason: the simulator (tests/sim)
// substitutes a cgroupfs of its own whose members are fake pids; procd
// itself only ever uses this class.
class CgroupTree {
 public:
  virtual ~CgroupTree() = default;
  // Where to look: the real /proc/self files, or (tests, PROCD_CGROUP_ROOT)
  // a directory taken as the cgroup2 mount with procd's cgroup its root.
  struct Options {
    std::string instance;     // [procd].name
    std::string pid_file;     // absolute: makes the subtree unique per instance
    std::string root_override;
    pid_t self = 0;
  };
  // Discovers, chooses the layout, creates base and `supervisor` and moves
  // procd there. Error PlatformCgroup (10002) when cgroup v2 is not usable.
  static Result<std::unique_ptr<CgroupTree>> setup(const Options& opt);
  // Same from known mount and own cgroup (tests; own_dir = mount + own).
  static Result<std::unique_ptr<CgroupTree>> setup_at(const std::string& mount, const std::string& own, const Options& opt);

  const CgroupLayout& layout() const { return layout_; }
  // The cgroup of a service (a directory path).
  std::string dir_of(const std::string& service) const { return service_cgroup(layout_.base, service); }
  // Creates the service's cgroup; processes still in it (left by a procd
  // that died) are killed: returns their PIDs.
  virtual Result<std::vector<int>> prepare(const std::string& service);
  // Kills the processes of an existing cgroup procd no longer uses (a
  // service's cgroup under an older name) and removes it when empty; never
  // creates it. Returns the PIDs killed.
  virtual Result<std::vector<int>> clean_leftover(const std::string& dir);
  // Writes the limits; one warning Error (PlatformCgroupLimit) per limit
  // that cannot be applied.
  virtual std::vector<Error> apply_limits(const std::string& dir, const CgroupLimits& limits);
  // Kills every process of the cgroup: cgroup.kill, else freeze + SIGKILL each + thaw.
  virtual Result<void> kill(const std::string& dir);
  // Sends sig to every process listed in cgroup.procs.
  virtual void signal_members(const std::string& dir, int sig);
  virtual std::optional<bool> populated(const std::string& dir) const;
  virtual CgroupUsage usage(const std::string& dir) const;
  virtual std::uint64_t oom_kills(const std::string& dir) const;  // memory.events oom_kill (0 when absent)
  // Removes an empty service cgroup (best effort).
  virtual void remove(const std::string& dir);
  // Clean exit: every svc-* cgroup that is empty is removed, procd moves
  // back to the cgroup it started in, and the subtree procd created goes.
  virtual void teardown();
  // Watches the cgroup's cgroup.events: `cb` runs on every change (a drain
  // ends on `populated 0`). The handle is initialised; 0 or a libuv error.
  // Armed only while a drain waits; read cgroup.events after arming.
  virtual int watch_events(uv_fs_event_t* handle, const std::string& dir, uv_fs_event_cb cb);
  // The watch of `dir` is about to be closed (its handle goes).
  virtual void unwatch_events(const std::string& /*dir*/) {}

 protected:
  CgroupTree() = default;
  CgroupLayout layout_;
  std::string own_dir_;   // the cgroup procd started in
  pid_t self_ = 0;

 private:
  bool enable_controller(const std::string& controller);
  // Kills what a populated cgroup holds; returns the PIDs it held.
  Result<std::vector<int>> kill_leftovers(const std::string& dir);
};

// Small file helpers (also used by tests to build fake trees).
std::optional<std::string> read_small_file(const std::string& path);
// write(2) of text to an existing file; 0 or the errno.
int write_cgroup_file(const std::string& path, const std::string& text);

}  // namespace procd
