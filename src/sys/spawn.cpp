// spawn_process(), the one spawn (see spawn.hpp), its fork path's parent
// side, the service environment, and the small process-group and reaping
// syscalls. The child side is spawn_child.cpp, the process creation step
// (fork or clone3) spawn_clone.cpp; the posix_spawn path, taken whenever the
// request needs nothing more, is spawn_posix.cpp.
//
// Invariants:
// - Everything the child needs (argv/envp arrays, resolved executable path,
//   uid/gid/groups, the /dev/null fd, pipes) is prepared here before fork().
// - All signals are blocked in the parent across fork(), so no handler of
//   procd (libuv's signal pipe) can run in the child before its dispositions
//   are reset to SIG_DFL; the parent restores its own mask right after fork().
// - With a cgroup, the child is created by clone3(CLONE_INTO_CGROUP) in
//   that cgroup (spawn_clone.cpp: no migration, and on x86_64 no copy of
//   procd's page tables either). Where clone3 fails (ENOSYS on old kernels
//   and under docker's seccomp, EPERM under others; not EAGAIN / ENOMEM,
//   which fork would meet too) that spawn is retried with fork() and
//   cgroup.procs, whose error is the one reported (4013 for the cgroup); if
//   the fork path then placed the child, clone3 is not tried again in this
//   process. Likewise when the kernel kills a clone3 child before it runs
//   (see spawn.hpp): the child's first byte on the status pipe tells that.
// - Every fd this file creates is O_CLOEXEC; only 0, 1, 2 and 3.. (extra
//   fds) survive exec, or with Inherit procd's fds as they are.
// - Any child-side failure comes back as {stage, errno, detail} on a
//   close-on-exec pipe: EOF there means exec succeeded. On failure the parent
//   reaps the child itself, so the caller only ever sees a running PID or an
//   Error; no fd is leaked on any path.
#include "procd/spawn.hpp"
#include "procd/proc_reader.hpp"


#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "spawn_internal.hpp"

namespace procd {
namespace {

using namespace spawn_detail;

bool make_pipe(Fd& rd, Fd& wr) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return false;
  rd.reset(p[0]);
  wr.reset(p[1]);
  return true;
}

// One /dev/null (O_RDWR, O_CLOEXEC) for every spawn: dup2'd onto a child's
// stdin (and its stdout/stderr for Null), so sharing it is harmless and saves
// an open/close pair per spawn. Retried on the next spawn if the open failed.
int shared_devnull() {
  static int fd = -1;
  if (fd < 0) fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  return fd;
}

void set_nonblock(int fd) {
  // Pipe fds carry no other status flags (O_CLOEXEC is a descriptor flag).
  if (fd >= 0) ::fcntl(fd, F_SETFL, O_NONBLOCK);
}

// Waits for the child's report on the status pipe: EOF = exec succeeded.
// Bounded: the child is between fork and exec, making a few syscalls.
// With `announced`, the child's first byte comes first; EOF before it means
// the child never ran: it is reaped and *unborn set.
Result<void> await_exec(pid_t pid, Fd& st_r, const SpawnRequest& req, const std::string& exe, int* exec_errno,
                        bool announced, bool* unborn) {
  if (announced) {
    char first;
    ssize_t n;
    do n = ::read(st_r.get(), &first, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
      int st;
      while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
      }
      *unborn = true;
      return {};
    }
  }
  ChildReport report{};
  std::size_t got = 0;
  while (got < sizeof report) {
    ssize_t n = ::read(st_r.get(), reinterpret_cast<char*>(&report) + got, sizeof report - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got == 0) return {};
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (got < sizeof report) return make_error(Code::SpawnFailed, fmt::format("{}: child setup failed", req.argv[0]));
  return child_error(req, exe, report, exec_errno);
}

}  // namespace

Result<SpawnedProcess> spawn_process(const SpawnRequest& req, int* exec_errno) {
  if (exec_errno) *exec_errno = 0;
  if (req.argv.empty() || req.argv[0].empty()) return make_error(Code::ExecFailed, "empty command");
  if (req.extra_fds.size() > kMaxChildFds - 3) return make_error(Code::SpawnFailed, "too many extra fds (max 64)");
  if (req.stdio == SpawnStdio::Inherit && !req.extra_fds.empty())
    return make_error(Code::SpawnFailed, "extra fds need stdio Pipes or Null");
  auto exe = resolve_command(req, exec_errno);
  if (!exe) return exe.error();
  auto cred = resolve_user(req.user);
  if (!cred) return cred.error();
  // posix_spawn can do everything but credentials, limits, nice, umask and the terminal.
  const bool take_terminal = req.take_terminal && req.group == SpawnGroup::NewGroup;
  const bool fast = !cred->change && req.rlimits.empty() && req.nice == 0 && !req.umask && !take_terminal &&
                    req.cgroup.empty() && req.cpu_affinity.empty();

  std::vector<std::string> env_store;  // only when the environment differs from req.env
  if (cred->change) {  // like systemd's User=: the child sees its own identity
    env_store = req.env;
    std::erase_if(env_store, [](const std::string& kv) {
      return kv.starts_with("HOME=") || kv.starts_with("USER=") || kv.starts_with("LOGNAME=");
    });
    env_store.push_back("HOME=" + cred->home);
    env_store.push_back("USER=" + cred->name);
    env_store.push_back("LOGNAME=" + cred->name);
  }
  const std::vector<std::string>& env = cred->change ? env_store : req.env;
  std::vector<char*> argv, envp;
  argv.reserve(req.argv.size() + 1);
  envp.reserve(env.size() + 1);
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const bool pipes = req.stdio == SpawnStdio::Pipes;
  int devnull = req.stdio == SpawnStdio::Inherit ? -1 : shared_devnull();
  if (req.stdio != SpawnStdio::Inherit && devnull < 0) return errno_error(Code::IoOpen, errno, "cannot open /dev/null");
  Fd out_r, out_w, err_r, err_w, st_r, st_w;
  if ((pipes && !make_pipe(out_r, out_w)) || (pipes && !req.merge_stderr && !make_pipe(err_r, err_w)) ||
      (!fast && !make_pipe(st_r, st_w)))
    return errno_error(Code::IoPipe, errno, fmt::format("{}: cannot create pipe", req.argv[0]));

  std::vector<int> sources;  // empty for Inherit: the child keeps procd's 0, 1, 2
  if (req.stdio != SpawnStdio::Inherit) {
    sources.reserve(3 + req.extra_fds.size());
    sources.push_back(devnull);
    sources.push_back(pipes ? out_w.get() : devnull);
    sources.push_back(!pipes ? devnull : req.merge_stderr ? out_w.get() : err_w.get());
    sources.insert(sources.end(), req.extra_fds.begin(), req.extra_fds.end());
  }

  pid_t pid = -1;
  int clone3_err = 0;     // clone3 into the cgroup failed with this; the fork path took over
  bool announced = false;  // clone3 created the child: its first byte comes first
  if (fast) {
    auto spawned = spawn_fast(req, *exe, argv.data(), envp.data(), sources, exec_errno);
    if (!spawned) return spawned.error();
    pid = *spawned;
  } else {
    ChildPlan plan{&req, &*cred, exe->c_str(), argv.data(), envp.data(), std::move(sources), st_w.get(), -1};
    Fd cgroup;  // the cgroup directory (clone3), or its cgroup.procs (fork)
    int fork_err = 0;
    const bool via_clone3 = !req.cgroup.empty() && cgroup_path().kind != CgroupSpawnPath::CgroupProcs;
    if (via_clone3) {
      cgroup.reset(::open(req.cgroup.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
      if (cgroup.get() < 0)
        return errno_error(Code::ServiceCgroupFailed, errno, fmt::format("{}: cannot open cgroup {}", req.argv[0], req.cgroup));
      plan.announce = true;
      pid = create_child(plan, cgroup.get(), &fork_err);
      plan.announce = false;
      if (pid > 0) announced = true;
      else if (fork_err != EAGAIN && fork_err != ENOMEM) clone3_err = fork_err;  // retried with fork below
    }
    if (!via_clone3 || clone3_err != 0) {
      if (!req.cgroup.empty()) {
        cgroup.reset(::open((req.cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
        if (cgroup.get() < 0)
          return errno_error(Code::ServiceCgroupFailed, errno,
                             fmt::format("{}: cannot open {}/cgroup.procs", req.argv[0], req.cgroup));
        plan.cgroup_fd = cgroup.get();
      }
      pid = create_child(plan, -1, &fork_err);
    }
    if (pid < 0) {
      Code code = fork_err == EAGAIN ? Code::ResourceProcesses : Code::SpawnFailed;
      return make_error(code, fmt::format("{}: cannot fork: {}", req.argv[0], std::strerror(fork_err)));
    }
    st_w.reset();  // our copy of the child's end must go, or EOF never comes
  }
  out_w.reset();  // likewise for the output pipes
  err_w.reset();
  if (!fast) {
    bool unborn = false;
    auto r = await_exec(pid, st_r, req, *exe, exec_errno, announced, &unborn);
    if (unborn) {  // killed before its first instruction: by fork from now on, this one too
      cgroup_path() = {CgroupSpawnPath::CgroupProcs, 0, true};
      return spawn_process(req, exec_errno);
    }
    if (announced && cgroup_path().kind == CgroupSpawnPath::Unknown) cgroup_path() = {CgroupSpawnPath::Clone3, 0};
    // The fork path placed the child where clone3 failed: clone3 is what
    // does not work here (not the cgroup), so stop trying it.
    if (clone3_err != 0 && (r.ok() || r.error().code != Code::ServiceCgroupFailed))
      cgroup_path() = {CgroupSpawnPath::CgroupProcs, clone3_err};
    if (!r) return r.error();
  }

  set_nonblock(out_r.get());
  set_nonblock(err_r.get());
  return SpawnedProcess{pid, out_r.release(), err_r.release()};
}

std::optional<Reaped> reap_one() {
  int st = 0;
  pid_t pid;
  do pid = ::waitpid(-1, &st, WNOHANG);
  while (pid < 0 && errno == EINTR);
  if (pid <= 0) return std::nullopt;  // 0: nothing ready; ECHILD: no children at all
  if (WIFSIGNALED(st)) return Reaped{pid, -1, WTERMSIG(st)};
  return Reaped{pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0};
}

Result<void> become_subreaper() {
#ifdef __linux__
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0) return {};
  return make_error(Code::PlatformSubreaper, fmt::format("prctl(PR_SET_CHILD_SUBREAPER): {}", std::strerror(errno)));
#else
  return make_error(Code::PlatformSubreaper, "child subreaper is only available on Linux");
#endif
}

Result<void> signal_group(pid_t pgid, int sig) {
  // kill(0) / kill(-1) would hit procd's own group or every process: never.
  if (pgid <= 1) return make_error(Code::SignalSendFailed, fmt::format("refusing to signal process group {}", pgid));
  if (::kill(-pgid, sig) == 0 || errno == ESRCH) return {};
  return make_error(Code::SignalSendFailed,
                    fmt::format("cannot send signal {} to process group {}: {}", sig, pgid, std::strerror(errno)));
}

bool group_exists(pid_t pgid) { return pgid > 1 && (::kill(-pgid, 0) == 0 || errno == EPERM); }

GroupCensus group_census() {
  // The id of a group whose leader was reaped may belong to a new group by
  // now: it is ours only while one of its live members descends from procd
  // (the leftovers were reparented to procd, the subreaper).
  std::vector<ProcStat> procs;
  for_each_proc_stat([&](const ProcStat& st) { procs.push_back(st); });
  return GroupCensus::of(procs, ::getpid());
}

}  // namespace procd
