// fork/exec of a service, owned by procd (not uv_spawn: a subreaper reaps
// with waitpid(-1), which libuv's one-pid-at-a-time reaping cannot share).
// The child gets its own session and process group, stdin from /dev/null,
// stdout/stderr on pipes, a reset signal mask and dispositions, and reports
// any setup/exec failure back through a close-on-exec pipe, so spawn()
// returns either a running PID or the exact error with its 4xxx code.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"

namespace procd {

struct SpawnRequest {
  std::vector<std::string> argv;              // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;               // full environment, "K=V"
  std::string working_dir;                    // empty = inherit
  std::string user;                           // empty = keep; only honoured as root
  std::optional<unsigned> umask;
  int nice = 0;
  std::vector<Rlimit> rlimits;
  bool merge_stderr = true;                   // stderr onto the stdout pipe
  std::vector<int> extra_fds;                 // kept open in the child (e.g. notify), dup'd to 3.. in order
};

struct SpawnedProcess {
  pid_t pid = -1;
  int stdout_fd = -1;   // read ends, O_NONBLOCK | O_CLOEXEC; caller owns them
  int stderr_fd = -1;   // -1 when merged
};

// Builds the environment: inherited `base` + env_file lines + env table + PROCD_SERVICE.
Result<std::vector<std::string>> build_service_env(const ServiceConfig& svc, const std::vector<std::string>& base);

Result<SpawnedProcess> spawn_process(const SpawnRequest& req);

// Reap one exited child without blocking. nullopt = none ready.
struct Reaped { pid_t pid; int code; int signal; };
std::optional<Reaped> reap_one();

// Linux PR_SET_CHILD_SUBREAPER; error with PlatformSubreaper elsewhere.
Result<void> become_subreaper();

// kill(-pgid, sig); ESRCH is not an error.
Result<void> signal_group(pid_t pgid, int sig);
// True while any process is in the group.
bool group_alive(pid_t pgid);

}  // namespace procd
