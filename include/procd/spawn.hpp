// The one spawn of procd: services, health commands and `procd exec` all
// start their processes through spawn_process() (not uv_spawn: a subreaper
// reaps with waitpid(-1), which libuv's one-pid-at-a-time reaping cannot
// share). Whatever the options, the child starts with an empty signal mask
// and every disposition at SIG_DFL (nothing procd blocks or ignores leaks
// into it), the request's credentials, umask, rlimits, nice and working
// directory, and reports any setup/exec failure back through a
// close-on-exec pipe, so spawn_process() returns either a running PID or the
// exact error with its 4xxx code. The caller's own signal mask is unchanged.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/group_census.hpp"

namespace procd {

// Where the child's stdin, stdout and stderr come from.
enum class SpawnStdio {
  Pipes,    // stdin /dev/null; stdout (and stderr unless merge_stderr) on pipes handed to the caller
  Null,     // all three /dev/null (health commands: their output is not kept)
  Inherit,  // procd's own 0, 1, 2 and every fd it holds without O_CLOEXEC (procd exec, like tini)
};

// The child's process group: always its own, so a whole group can be signalled.
enum class SpawnGroup {
  NewSession,  // setsid(): own session and group, no controlling terminal (services, health commands)
  NewGroup,    // setpgid(0, 0): own group in procd's session, so it may own the terminal (procd exec)
};

struct SpawnRequest {
  std::vector<std::string> argv;              // argv[0] is looked up in the request's PATH when it has no '/'
  std::vector<std::string> env;               // full environment, "K=V"
  std::string working_dir;                    // empty = inherit
  std::string user;                           // empty = keep; only honoured as root
  std::optional<unsigned> umask;
  int nice = 0;
  std::vector<Rlimit> rlimits;
  std::vector<int> cpu_affinity;              // CPUs for sched_setaffinity before exec; empty = inherit
  bool merge_stderr = true;                   // Pipes: stderr onto the stdout pipe
  std::vector<int> extra_fds;                 // Pipes / Null: kept open in the child, dup'd to 3.. in order
  SpawnStdio stdio = SpawnStdio::Pipes;
  SpawnGroup group = SpawnGroup::NewSession;
  // NewGroup only: make the child's group the foreground group of the
  // terminal on stdin before exec (the caller checked that procd's group
  // owns it; procd takes it back with tcsetpgrp once the child is gone).
  bool take_terminal = false;
  // A cgroup v2 directory the child runs in from its first instruction
  // (clone3 CLONE_INTO_CGROUP), or, where clone3 cannot do that, moves
  // itself into (cgroup.procs) before anything else: either way nothing it
  // forks escapes. Empty = procd's.
  std::string cgroup;
};

// How a child reaches its request's cgroup in this process. Unknown until
// the first spawn with a cgroup; Clone3 once clone3(CLONE_INTO_CGROUP)
// created one; CgroupProcs (fork, then the child writes cgroup.procs) for
// good from the start with PROCD_NO_CLONE3 set, or once clone3 failed where
// the fork path then placed the child (old kernel, a seccomp filter: `err`
// is clone3's errno), or once the kernel killed a child clone3 created
// before it ran its first instruction (`killed_at_birth`; seen on Linux
// 6.18: once a cgroup was killed through cgroup.kill, every child created
// straight into it is SIGKILLed; the spawn is then redone by fork).
struct CgroupSpawnPath {
  enum Kind { Unknown, Clone3, CgroupProcs } kind = Unknown;
  int err = 0;
  bool killed_at_birth = false;
};
CgroupSpawnPath cgroup_spawn_path();

struct SpawnedProcess {
  pid_t pid = -1;       // also the child's process group id
  int stdout_fd = -1;   // Pipes: read ends, O_NONBLOCK | O_CLOEXEC; caller owns them
  int stderr_fd = -1;   // -1 when merged, and for Null / Inherit
};

// `exec_errno`, when given, receives the errno behind an ExecFailed error
// (ENOENT: not found, EACCES: not executable, ...) and 0 otherwise, for a
// caller that maps it to a shell's 127 / 126 exit codes.
Result<SpawnedProcess> spawn_process(const SpawnRequest& req, int* exec_errno = nullptr);

// Reap one exited child without blocking. nullopt = none ready.
struct Reaped { pid_t pid; int code; int signal; };
std::optional<Reaped> reap_one();

// Linux PR_SET_CHILD_SUBREAPER; error with PlatformSubreaper elsewhere.
Result<void> become_subreaper();

// kill(-pgid, sig); ESRCH is not an error.
Result<void> signal_group(pid_t pgid, int sig);
// kill(-pgid, 0): the group has a member (any, even a zombie or a process
// of a group that reused the id). Cheap: asked before a census.
bool group_exists(pid_t pgid);
// One pass over /proc: every group with a live member descending from
// procd (group_census.hpp). After a run's leader was reaped, this tells
// procd's own leftovers from a new group that reused the id.
GroupCensus group_census();

}  // namespace procd
