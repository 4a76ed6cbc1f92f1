// The one seam between the Supervisor and the operating system: spawning a
// run, signalling and probing a process group, reaping, the clock, and
// setting up the cgroup subtree, and (for a simulation) the timers.
// The real implementation forwards to src/sys; a test substitutes fake
// pids and fake time to drive the supervisor's decisions without processes.
#pragma once

#include <uv.h>

#include <memory>
#include <optional>

#include "procd/cgroup.hpp"

#include "procd/service_machine.hpp"
#include "procd/spawn.hpp"
#include "procd/timer.hpp"

namespace procd {

class SystemCalls {
 public:
  virtual ~SystemCalls() = default;
  virtual Result<SpawnedProcess> spawn(const SpawnRequest& req) = 0;
  virtual Result<void> signal_group(pid_t pgid, int sig) = 0;
  // kill(-pgid, 0) and one /proc pass for every group (spawn.hpp).
  virtual bool group_exists(pid_t pgid) = 0;
  virtual GroupCensus group_census() = 0;
  virtual std::optional<Reaped> reap_one() = 0;
  virtual Result<void> become_subreaper() = 0;
  // Monotonic milliseconds; the real clock is the loop's (timers agree with it).
  virtual Millis now(uv_loop_t* loop) = 0;
  // procd's cgroup subtree (cgroup.hpp); an error = the process-group
  // fallback. A fake system has none unless it overrides this.
  virtual Result<std::unique_ptr<CgroupTree>> setup_cgroups(const CgroupTree::Options&) {
    return make_error(Code::PlatformCgroup, "no cgroups in this system");
  }
  // A simulated system owns time too: the Supervisor registers this host for
  // its loop (timer.hpp), so every Timer on it fires when the simulation says
  // (now() must be the same clock). nullptr: libuv's timers (the real system).
  virtual TimerHost* timer_host() { return nullptr; }
};

// fork/exec, kill(2), waitpid(-1, WNOHANG) and the libuv loop clock.
SystemCalls& real_system_calls();

}  // namespace procd
