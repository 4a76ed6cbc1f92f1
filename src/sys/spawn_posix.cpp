// The posix_spawn path of the one spawn (glibc: clone(CLONE_VM|CLONE_VFORK),
// no page-table copy, exec errors come back as its return value), taken
// whenever the request needs nothing beyond what posix_spawn offers: no
// user switch, no rlimits, nice 0, no umask, no terminal hand-over.
// Invariants:
// - The working_dir is checked in the parent first (stat, S_ISDIR, access
//   X_OK), so a bad directory still reads as ChdirFailed and an error
//   returned by posix_spawn is the exec's.
// - The child gets an empty signal mask, every disposition at SIG_DFL
//   (glibc's reserved 32 and 33 included) and its own session or process
//   group, exactly as run_child() gives it.
// - Only 0, 1, 2 and 3.. (extra fds) survive exec (addclosefrom_np); with
//   Inherit no fd action at all, so the child has procd's fds as they are.
// - glibc reaps a child whose exec failed before posix_spawn returns.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "spawn_internal.hpp"

namespace procd::spawn_detail {
namespace {

// errno chdir(dir) would most likely fail with, 0 if it should succeed.
int dir_error(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ENOTDIR;
  if (::access(dir.c_str(), X_OK) != 0) return errno;
  return 0;
}

posix_spawnattr_t make_attr(SpawnGroup group) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dfl;
  sigemptyset(&none);
  // Every bit set, not sigfillset(): that leaves out glibc's reserved 32 and
  // 33, which glibc's posix_spawn then sets to SIG_IGN in the child, and
  // exec keeps SIG_IGN. In the set they get SIG_DFL like the rest.
  std::memset(&dfl, 0xff, sizeof dfl);
  sigdelset(&dfl, SIGKILL);
  sigdelset(&dfl, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (group == SpawnGroup::NewGroup) {
    posix_spawnattr_setpgroup(&attr, 0);  // a group of its own, named by its pid
    flags |= POSIX_SPAWN_SETPGROUP;
  } else {
    flags |= POSIX_SPAWN_SETSID;
  }
  posix_spawnattr_setflags(&attr, flags);
  return attr;
}

// Built once per grouping, never destroyed: read-only after construction.
const posix_spawnattr_t* spawn_attr(SpawnGroup group) {
  static const posix_spawnattr_t session = make_attr(SpawnGroup::NewSession);
  static const posix_spawnattr_t pgroup = make_attr(SpawnGroup::NewGroup);
  return group == SpawnGroup::NewGroup ? &pgroup : &session;
}

// File actions, owned; destroyed on every return.
class FileActions {
 public:
  FileActions() { ok_ = posix_spawn_file_actions_init(&fa_) == 0; }
  ~FileActions() {
    if (ok_) posix_spawn_file_actions_destroy(&fa_);
  }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  bool ok() const { return ok_; }
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
  bool ok_ = false;
};

Error chdir_error(const SpawnRequest& req, const std::string& exe, int err) {
  return child_error(req, exe, ChildReport{static_cast<int>(Stage::Chdir), err, 0}, nullptr);
}

}  // namespace

// `sources` are the fds to land on 0, 1, 2, 3.. in order (empty: Inherit).
Result<pid_t> spawn_fast(const SpawnRequest& req, const std::string& exe, char* const* argv, char* const* envp,
                         const std::vector<int>& sources, int* exec_errno) {
  if (!req.working_dir.empty())
    if (int err = dir_error(req.working_dir); err != 0) return chdir_error(req, exe, err);

  // A source sitting on a target number could be clobbered by an earlier
  // dup2: lift such sources above the targets first (parent-side copies).
  const int count = static_cast<int>(sources.size());
  Fd lifted[kMaxChildFds];
  int src[kMaxChildFds];
  for (int i = 0; i < count; ++i) {
    src[i] = sources[static_cast<std::size_t>(i)];
    if (src[i] < count) {
      int fd = ::fcntl(src[i], F_DUPFD_CLOEXEC, count);
      if (fd < 0) return errno_error(Code::SpawnFailed, errno, fmt::format("{}: cannot set up stdio fds", req.argv[0]));
      lifted[i].reset(fd);
      src[i] = fd;
    }
  }

  FileActions fa;
  if (!fa.ok()) return make_error(Code::SpawnFailed, fmt::format("{}: cannot prepare spawn", req.argv[0]));
  int rc = 0;
  for (int i = 0; i < count && rc == 0; ++i) rc = posix_spawn_file_actions_adddup2(fa.get(), src[i], i);
  if (rc == 0 && !req.working_dir.empty()) rc = posix_spawn_file_actions_addchdir_np(fa.get(), req.working_dir.c_str());
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Fds procd inherited without O_CLOEXEC must not leak into services.
  if (rc == 0 && count > 0) rc = posix_spawn_file_actions_addclosefrom_np(fa.get(), count);
#endif
  if (rc != 0) return errno_error(Code::SpawnFailed, rc, fmt::format("{}: cannot prepare spawn", req.argv[0]));

  pid_t pid = -1;
  rc = ::posix_spawn(&pid, exe.c_str(), fa.get(), spawn_attr(req.group), argv, envp);
  if (rc == 0) return pid;
  if (rc == EAGAIN)
    return make_error(Code::ResourceProcesses, fmt::format("{}: cannot fork: {}", req.argv[0], std::strerror(rc)));
  if (rc == EMFILE || rc == ENFILE) return child_error(req, exe, ChildReport{static_cast<int>(Stage::Stdio), rc, 0}, nullptr);
  // posix_spawn does not say whether chdir or execve failed: the directory
  // passed the check above, so it is the exec unless the directory changed since.
  if (!req.working_dir.empty())
    if (int err = dir_error(req.working_dir); err != 0) return chdir_error(req, exe, err);
  return child_error(req, exe, ChildReport{static_cast<int>(Stage::Exec), rc, 0}, exec_errno);
}

}  // namespace procd::spawn_detail
