// Shared between the four parts of the one spawn (src/sys only):
// spawn.cpp (spawn_process: preparation in the parent, the fork path's
// parent side), spawn_clone.cpp (its process creation step: fork or clone3),
// spawn_child.cpp (what runs between fork and exec, and turning a child's
// report into an Error), spawn_posix.cpp (the posix_spawn path).
// Everything a child needs is resolved here in the parent before fork():
// between fork and exec only async-signal-safe calls are made.
#pragma once

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include <unistd.h>

#include "procd/error.hpp"
#include "procd/spawn.hpp"

namespace procd::spawn_detail {

// At most this many fds land in the child (0, 1, 2 and the extra fds).
constexpr std::size_t kMaxChildFds = 64 + 3;

// Owns one fd in the parent; closes it on every early return.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

enum class Stage : int { Stdio = 1, Setsid, Rlimit, Nice, Groups, Setgid, Setuid, Chdir, Exec, Cgroup, Affinity };

// What a child writes on the status pipe when a step fails.
struct ChildReport {
  int stage;
  int err;
  int detail;  // index into rlimits for Stage::Rlimit
};

struct Credentials {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string name, home;
};

// Everything run_child() uses, prepared before fork().
struct ChildPlan {
  const SpawnRequest* req;
  const Credentials* cred;
  const char* exe;
  char* const* argv;
  char* const* envp;
  std::vector<int> sources;  // fd to land on 0, 1, 2, 3.. in order; empty = keep procd's (Inherit)
  int status_fd;
  int cgroup_fd = -1;  // the cgroup.procs to write "0" into first; -1 = none
  // clone3 into a cgroup: the child's first act is one byte on the status
  // pipe, so EOF without it means the child never ran (the kernel killed it).
  bool announce = false;
};

Error errno_error(Code fallback, int err, const std::string& what);

// PATH lookup against the request's PATH; sets *exec_errno on failure.
Result<std::string> resolve_command(const SpawnRequest& req, int* exec_errno);
// getpwnam/getgrouplist (not async-signal-safe), for the user to switch to.
Result<Credentials> resolve_user(const std::string& user);

// This process's way into a cgroup (PROCD_NO_CLONE3 read on first use).
CgroupSpawnPath& cgroup_path();
// fork(), or with a cgroup directory fd clone3(CLONE_INTO_CGROUP) (see
// spawn_clone.cpp); the child runs run_child(plan). All signals are blocked
// across it. -1 with *err.
pid_t create_child(const ChildPlan& plan, int cgroup_dir, int* err);

// Runs in the child between fork and exec: execs or _exit(127)s.
[[noreturn]] void run_child(const ChildPlan& plan);
// The Error for a child's report; sets *exec_errno for Stage::Exec.
Error child_error(const SpawnRequest& req, const std::string& exe, const ChildReport& r, int* exec_errno);

// The posix_spawn path (no credentials, limits, nice, umask or terminal).
Result<pid_t> spawn_fast(const SpawnRequest& req, const std::string& exe, char* const* argv, char* const* envp,
                         const std::vector<int>& sources, int* exec_errno);

}  // namespace procd::spawn_detail
