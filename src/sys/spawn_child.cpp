// The child side of the one spawn, and what the parent resolves for it.
//
// - resolve_command / resolve_user run in the parent before fork(): PATH
//   lookup against the *request's* PATH (execvpe would use procd's own), so
//   "command not found" is precise; getpwnam/getgrouplist are not
//   async-signal-safe, so the credentials are ready before the child exists.
// - run_child() runs between fork and exec with every signal blocked (the
//   parent blocked them across fork): only async-signal-safe calls, in this
//   order: dispositions to SIG_DFL (every signal, glibc's reserved ones
//   included), the cgroup (unless clone3 created the
//   child in it), fds onto 0, 1, 2, 3.. (or procd's kept
//   as they are for Inherit), session or group (and the terminal), umask,
//   rlimits and nice (while still root: raising them needs it), groups / gid
//   / uid, chdir (as the user, like systemd), an empty signal mask, exec.
//   Any failing step writes {stage, errno, detail} on the close-on-exec
//   status pipe and _exit(127)s; it never returns into procd.
// - child_error() turns that report into the Error with its 4xxx code.
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include "procd/signal_state.hpp"
#include "spawn_internal.hpp"

namespace procd::spawn_detail {
namespace {

// 32-bit ids: on i386 / arm the plain numbers are the 16-bit legacy calls.
#ifdef SYS_setgroups32
constexpr long kSetgroups = SYS_setgroups32, kSetgid = SYS_setgid32, kSetuid = SYS_setuid32;
#else
constexpr long kSetgroups = SYS_setgroups, kSetgid = SYS_setgid, kSetuid = SYS_setuid;
#endif

Code errno_code(int err, Code fallback) {
  switch (err) {
    case EMFILE:
    case ENFILE: return Code::ResourceFds;
    case ENOSPC: return Code::ResourceDiskFull;
    default: return fallback;
  }
}

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
  std::string found;
  for (const auto& kv : env)
    if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=')
      found = kv.substr(key.size() + 1);  // the last definition wins, as in build_service_env
  return found;
}

[[noreturn]] void child_fail(int status_fd, Stage stage, int err, int detail = 0) {
  ChildReport r{static_cast<int>(stage), err, detail};
  ssize_t n;
  do n = ::write(status_fd, &r, sizeof r);
  while (n < 0 && errno == EINTR);
  ::_exit(127);
}

// Lift every source (and the status pipe) above all targets first, so a
// source that already sits on a target number is never clobbered; returns
// the status fd to report on from here.
int place_fds(const ChildPlan& p) {
  int high = static_cast<int>(p.sources.size()) + 3;
  int status_fd = ::fcntl(p.status_fd, F_DUPFD_CLOEXEC, high);
  if (status_fd < 0) child_fail(p.status_fd, Stage::Stdio, errno);
  if (p.sources.empty()) return status_fd;  // Inherit: procd's fds are the child's
  int lifted[kMaxChildFds];
  std::size_t count = p.sources.size() < kMaxChildFds ? p.sources.size() : kMaxChildFds;
  for (std::size_t i = 0; i < count; ++i)
    if ((lifted[i] = ::fcntl(p.sources[i], F_DUPFD_CLOEXEC, high)) < 0) child_fail(status_fd, Stage::Stdio, errno);
  for (std::size_t i = 0; i < count; ++i)  // dup2 clears FD_CLOEXEC on the target
    if (::dup2(lifted[i], static_cast<int>(i)) < 0) child_fail(status_fd, Stage::Stdio, errno);
#ifdef CLOSE_RANGE_CLOEXEC
  // procd's own fds are all O_CLOEXEC, but fds procd inherited without it
  // (a sloppy parent shell) would leak into every service: one syscall marks
  // everything above the targets close-on-exec. Best effort on old kernels.
  ::close_range(static_cast<unsigned>(count), ~0U, CLOSE_RANGE_CLOEXEC);
#endif
  return status_fd;
}

}  // namespace

Error errno_error(Code fallback, int err, const std::string& what) {
  return make_error(errno_code(err, fallback), fmt::format("{}: {}", what, std::strerror(err)));
}

// Relative PATH entries resolve against the working directory the child will have.
Result<std::string> resolve_command(const SpawnRequest& req, int* exec_errno) {
  const std::string& cmd = req.argv[0];
  if (cmd.find('/') != std::string::npos) return cmd;  // the child's execve reports errors
  std::string path = env_value(req.env, "PATH");
  if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
  bool denied = false;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    // Constructed, not assigned from ".": GCC 12 -O3 warns -Wrestrict on that assign.
    std::string dir = end == start ? std::string(".") : path.substr(start, end - start);
    start = end + 1;
    if (dir[0] != '/' && !req.working_dir.empty()) dir = req.working_dir + "/" + dir;
    std::string candidate = dir + "/" + cmd;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    denied = true;
  }
  if (exec_errno) *exec_errno = denied ? EACCES : ENOENT;
  if (denied) return make_error(Code::ExecFailed, fmt::format("permission denied: {} ({})", cmd, std::strerror(EACCES)));
  return make_error(Code::ExecFailed,
                    fmt::format("command not found: {} ({}; not in PATH={})", cmd, std::strerror(ENOENT), path));
}

Result<Credentials> resolve_user(const std::string& user) {
  Credentials c;
  if (user.empty() || ::getuid() != 0) return c;  // only honoured as root (validation warns)
  errno = 0;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw && user.find_first_not_of("0123456789") == std::string::npos)
    pw = ::getpwuid(static_cast<uid_t>(std::strtoul(user.c_str(), nullptr, 10)));
  if (!pw) return make_error(Code::CredentialsFailed, fmt::format("unknown user {}", user));
  c.change = true;
  c.uid = pw->pw_uid;
  c.gid = pw->pw_gid;
  c.name = pw->pw_name;
  c.home = pw->pw_dir;
  int n = 32;
  for (int tries = 0; tries < 8; ++tries) {
    c.groups.resize(static_cast<std::size_t>(n));
    int want = n;
    if (::getgrouplist(c.name.c_str(), c.gid, c.groups.data(), &want) >= 0) {
      c.groups.resize(static_cast<std::size_t>(want));
      return c;
    }
    n = want > n ? want : n * 2;
  }
  return make_error(Code::CredentialsFailed, fmt::format("cannot list the groups of user {}", user));
}

[[noreturn]] void run_child(const ChildPlan& p) {
  if (p.announce && ::write(p.status_fd, "+", 1) != 1) ::_exit(127);  // EOF then: the parent redoes it by fork
  reset_child_dispositions();  // glibc's reserved 32 and 33 too: exec would keep a SIG_IGN on them

  // Into the service's cgroup first ("0" = the writer), while still root.
  if (p.cgroup_fd >= 0 && ::write(p.cgroup_fd, "0", 1) != 1) child_fail(p.status_fd, Stage::Cgroup, errno);
  int status_fd = place_fds(p);
  if (p.req->group == SpawnGroup::NewGroup) {
    if (::setpgid(0, 0) < 0) child_fail(status_fd, Stage::Setsid, errno);
    // SIGTTOU is still blocked, so a background group may take the terminal;
    // best effort, as tini: no terminal is no reason to fail the command.
    if (p.req->take_terminal) ::tcsetpgrp(STDIN_FILENO, ::getpid());
  } else if (::setsid() < 0) {
    child_fail(status_fd, Stage::Setsid, errno);
  }
  if (p.req->umask) ::umask(static_cast<mode_t>(*p.req->umask & 0777));
  for (std::size_t i = 0; i < p.req->rlimits.size(); ++i) {
    const auto& rl = p.req->rlimits[i];
    rlim_t v = rl.value == UINT64_MAX ? RLIM_INFINITY : static_cast<rlim_t>(rl.value);
    struct rlimit lim {v, v};
    if (::setrlimit(rl.resource, &lim) != 0)
      child_fail(status_fd, Stage::Rlimit, errno, static_cast<int>(i));
  }
  if (p.req->nice != 0 && ::setpriority(PRIO_PROCESS, 0, p.req->nice) != 0) child_fail(status_fd, Stage::Nice, errno);
  if (!p.req->cpu_affinity.empty()) {  // cpu_affinity: a plain syscall, safe after fork
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    for (int cpu : p.req->cpu_affinity)
      if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &cpus);
    if (::sched_setaffinity(0, sizeof cpus, &cpus) != 0) child_fail(status_fd, Stage::Affinity, errno);
  }
  if (p.cred->change) {
    // Raw syscalls: glibc's wrappers would make every thread of its thread
    // list change too (setxid), a list a clone3() child inherits from procd
    // unpruned; the child has one thread, so the kernel call is the change.
    if (::syscall(kSetgroups, p.cred->groups.size(), p.cred->groups.data()) != 0)
      child_fail(status_fd, Stage::Groups, errno);
    if (::syscall(kSetgid, p.cred->gid) != 0) child_fail(status_fd, Stage::Setgid, errno);
    if (::syscall(kSetuid, p.cred->uid) != 0) child_fail(status_fd, Stage::Setuid, errno);
  }
  if (!p.req->working_dir.empty() && ::chdir(p.req->working_dir.c_str()) != 0)
    child_fail(status_fd, Stage::Chdir, errno);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(p.exe, p.argv, p.envp);
  child_fail(status_fd, Stage::Exec, errno);
}

Error child_error(const SpawnRequest& req, const std::string& exe, const ChildReport& r, int* exec_errno) {
  const std::string& cmd = req.argv[0];
  const char* text = std::strerror(r.err);
  switch (static_cast<Stage>(r.stage)) {
    case Stage::Exec:
      if (exec_errno) *exec_errno = r.err;
      if (r.err == ENOENT) {
        // execve also says ENOENT when a script's #! interpreter is missing.
        std::string where = exe[0] == '/' || req.working_dir.empty() ? exe : req.working_dir + "/" + exe;
        if (struct stat st {}; ::stat(where.c_str(), &st) == 0)
          return make_error(Code::ExecFailed, fmt::format("cannot execute {}: its interpreter was not found ({})", cmd, text));
        return make_error(Code::ExecFailed, fmt::format("command not found: {} ({})", cmd, text));
      }
      if (r.err == EACCES) return make_error(Code::ExecFailed, fmt::format("permission denied: {} ({})", cmd, text));
      return make_error(Code::ExecFailed, fmt::format("cannot execute {}: {}", cmd, text));
    case Stage::Chdir:
      return make_error(Code::ChdirFailed, fmt::format("{}: cannot change to working_dir {}: {}", cmd, req.working_dir, text));
    case Stage::Groups:
    case Stage::Setgid:
    case Stage::Setuid:
      return make_error(Code::CredentialsFailed, fmt::format("{}: cannot switch to user {}: {}", cmd, req.user, text));
    case Stage::Rlimit: {
      std::size_t i = static_cast<std::size_t>(r.detail);
      std::string name = i < req.rlimits.size() ? req.rlimits[i].name : "?";
      return make_error(Code::ServiceSetupFailed, fmt::format("{}: cannot set rlimit {}: {}", cmd, name, text));
    }
    case Stage::Nice:
      return make_error(Code::ServiceSetupFailed, fmt::format("{}: cannot set nice {}: {}", cmd, req.nice, text));
    case Stage::Affinity:
      return make_error(Code::ServiceSetupFailed, fmt::format("{}: cannot set cpu_affinity: {}", cmd, text));
    case Stage::Stdio:
      return make_error(errno_code(r.err, Code::SpawnFailed), fmt::format("{}: cannot set up stdio fds: {}", cmd, text));
    case Stage::Setsid:
      return make_error(Code::SpawnFailed, fmt::format("{}: cannot create a session or process group: {}", cmd, text));
    case Stage::Cgroup:
      return make_error(Code::ServiceCgroupFailed, fmt::format("{}: cannot move into cgroup {}: {}", cmd, req.cgroup, text));
  }
  return make_error(errno_code(r.err, Code::SpawnFailed), fmt::format("{}: child setup failed: {}", cmd, text));
}

}  // namespace procd::spawn_detail
