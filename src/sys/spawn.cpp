// Spawning one service, and the small process-group/reaping syscalls.
//
// Two paths, same result (a running PID or the exact 4xxx error):
// - posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), no page-table copy, exec
//   errors come back as its return value) whenever the request needs nothing
//   beyond what posix_spawn offers: no user switch, no rlimits, nice 0, no
//   umask. The working_dir is checked in the parent first (stat, S_ISDIR,
//   access X_OK), so a bad directory still reads as ChdirFailed and an error
//   returned by posix_spawn is the exec's.
// - fork + run_child + an exec-status pipe for everything else.
//
// Invariants:
// - Everything the child needs (argv/envp arrays, resolved executable path,
//   uid/gid/groups, the /dev/null fd, pipes) is prepared in the parent before
//   fork(); between fork() and exec the child makes only async-signal-safe
//   calls and never returns into procd: it execs or _exit(127)s.
// - All signals are blocked in the parent across fork(), so no handler of
//   procd (libuv's signal pipe) can run in the child before its dispositions
//   are reset to SIG_DFL; the parent restores its mask right after fork().
// - Every fd this file creates is O_CLOEXEC, and the child marks any other
//   inherited fd close-on-exec with one close_range() call (no close() loop).
//   Only 0, 1, 2 and 3.. (extra_fds) survive exec. The posix_spawn path
//   gets the same effect with addclosefrom_np (closes them in the child).
// - Any child-side failure is reported as {stage, errno, detail} on a
//   close-on-exec pipe: EOF there means exec succeeded. On failure the parent
//   reaps the child itself, so the caller only ever sees a running PID or an
//   Error; no fd is leaked on any path.
#include "procd/spawn.hpp"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace procd {
namespace {

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

enum class Stage : int { Stdio = 1, Setsid, Rlimit, Nice, Groups, Setgid, Setuid, Chdir, Exec };

struct ChildReport {
  int stage;
  int err;
  int detail;  // index into rlimits for Stage::Rlimit
};

Code errno_code(int err, Code fallback) {
  switch (err) {
    case EMFILE:
    case ENFILE: return Code::ResourceFds;
    case ENOSPC: return Code::ResourceDiskFull;
    default: return fallback;
  }
}

Error errno_error(Code fallback, int err, const std::string& what) {
  return make_error(errno_code(err, fallback), fmt::format("{}: {}", what, std::strerror(err)));
}

bool make_pipe(Fd& rd, Fd& wr) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return false;
  rd.reset(p[0]);
  wr.reset(p[1]);
  return true;
}

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
  std::string found;
  for (const auto& kv : env)
    if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=')
      found = kv.substr(key.size() + 1);  // the last definition wins, as in build_service_env
  return found;
}

// PATH lookup done in the parent against the *service's* PATH (execvpe would
// use procd's own), so "command not found" is reported precisely. Relative
// PATH entries resolve against the working directory the child will have.
Result<std::string> resolve_command(const SpawnRequest& req) {
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
  if (denied) return make_error(Code::ExecFailed, fmt::format("permission denied: {} ({})", cmd, std::strerror(EACCES)));
  return make_error(Code::ExecFailed, fmt::format("command not found: {} (not in PATH={})", cmd, path));
}

struct Credentials {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string name, home;
};

// getpwnam/getgrouplist are not async-signal-safe: resolved before fork.
Result<Credentials> resolve_user(const std::string& user) {
  Credentials c;
  if (user.empty() || ::getuid() != 0) return c;  // only honoured as root (validation warns)
  errno = 0;
  struct passwd* pw = ::getpwnam(user.c_str());
  if (!pw && !user.empty() && user.find_first_not_of("0123456789") == std::string::npos)
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

[[noreturn]] void child_fail(int status_fd, Stage stage, int err, int detail = 0) {
  ChildReport r{static_cast<int>(stage), err, detail};
  ssize_t n;
  do n = ::write(status_fd, &r, sizeof r);
  while (n < 0 && errno == EINTR);
  ::_exit(127);
}

struct ChildPlan {
  const SpawnRequest* req;
  const Credentials* cred;
  const char* exe;
  char* const* argv;
  char* const* envp;
  std::vector<int> sources;  // fd to land on 0, 1, 2, 3.. in order
  int status_fd;
};

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void run_child(const ChildPlan& p) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);  // EINVAL on glibc-reserved ones: fine
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // Lift every source (and the status pipe) above all targets first, so a
  // source that already sits on a target number is never clobbered.
  int high = static_cast<int>(p.sources.size()) + 3;
  int status_fd = ::fcntl(p.status_fd, F_DUPFD_CLOEXEC, high);
  if (status_fd < 0) child_fail(p.status_fd, Stage::Stdio, errno);
  int lifted[64 + 3];
  std::size_t count = p.sources.size() < 67 ? p.sources.size() : 67;
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

  if (::setsid() < 0) child_fail(status_fd, Stage::Setsid, errno);
  if (p.req->umask) ::umask(static_cast<mode_t>(*p.req->umask & 0777));
  // Limits and nice before dropping privileges: raising them needs root.
  for (std::size_t i = 0; i < p.req->rlimits.size(); ++i) {
    const auto& rl = p.req->rlimits[i];
    rlim_t v = rl.value == UINT64_MAX ? RLIM_INFINITY : static_cast<rlim_t>(rl.value);
    struct rlimit lim {v, v};
    if (::setrlimit(rl.resource, &lim) != 0)
      child_fail(status_fd, Stage::Rlimit, errno, static_cast<int>(i));
  }
  if (p.req->nice != 0 && ::setpriority(PRIO_PROCESS, 0, p.req->nice) != 0) child_fail(status_fd, Stage::Nice, errno);
  if (p.cred->change) {
    if (::setgroups(p.cred->groups.size(), p.cred->groups.data()) != 0) child_fail(status_fd, Stage::Groups, errno);
    if (::setgid(p.cred->gid) != 0) child_fail(status_fd, Stage::Setgid, errno);
    if (::setuid(p.cred->uid) != 0) child_fail(status_fd, Stage::Setuid, errno);
  }
  // chdir as the service user, so permissions are the user's (as systemd does).
  if (!p.req->working_dir.empty() && ::chdir(p.req->working_dir.c_str()) != 0)
    child_fail(status_fd, Stage::Chdir, errno);
  ::execve(p.exe, p.argv, p.envp);
  child_fail(status_fd, Stage::Exec, errno);
}

Error child_error(const SpawnRequest& req, const std::string& exe, const ChildReport& r) {
  const std::string& cmd = req.argv[0];
  const char* text = std::strerror(r.err);
  switch (static_cast<Stage>(r.stage)) {
    case Stage::Exec:
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
    case Stage::Stdio:
      return make_error(errno_code(r.err, Code::SpawnFailed), fmt::format("{}: cannot set up stdio fds: {}", cmd, text));
    case Stage::Setsid:
      return make_error(Code::SpawnFailed, fmt::format("{}: cannot create a session: {}", cmd, text));
  }
  return make_error(errno_code(r.err, Code::SpawnFailed), fmt::format("{}: child setup failed: {}", cmd, text));
}


// One /dev/null (O_CLOEXEC) for every spawn: dup2'd onto the child's stdin,
// never written to, so sharing it is harmless and saves an open/close pair
// per spawn. Retried on the next spawn if the first open failed.
int shared_devnull() {
  static int fd = -1;
  if (fd < 0) fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd;
}

// errno chdir(dir) would most likely fail with, 0 if it should succeed.
int dir_error(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ENOTDIR;
  if (::access(dir.c_str(), X_OK) != 0) return errno;
  return 0;
}

void set_nonblock(int fd) {
  // Pipe fds carry no other status flags (O_CLOEXEC is a descriptor flag).
  if (fd >= 0) ::fcntl(fd, F_SETFL, O_NONBLOCK);
}

const posix_spawnattr_t* spawn_attr() {
  static posix_spawnattr_t attr;
  static bool ready = [] {
    posix_spawnattr_init(&attr);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigfillset(&dfl);
    sigdelset(&dfl, SIGKILL);
    sigdelset(&dfl, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    return true;
  }();
  (void)ready;
  return &attr;
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

// The posix_spawn path. `sources` are the fds to land on 0, 1, 2, 3.. in order.
Result<pid_t> spawn_fast(const SpawnRequest& req, const std::string& exe, char* const* argv, char* const* envp,
                         const std::vector<int>& sources) {
  if (!req.working_dir.empty())
    if (int err = dir_error(req.working_dir); err != 0)
      return child_error(req, exe, ChildReport{static_cast<int>(Stage::Chdir), err, 0});

  // A source sitting on a target number could be clobbered by an earlier
  // dup2: lift such sources above the targets first (parent-side copies).
  const int count = static_cast<int>(sources.size());
  Fd lifted[64 + 3];
  int src[64 + 3];
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
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(fa.get(), count);
#endif
  if (rc != 0) return errno_error(Code::SpawnFailed, rc, fmt::format("{}: cannot prepare spawn", req.argv[0]));

  pid_t pid = -1;
  rc = ::posix_spawn(&pid, exe.c_str(), fa.get(), spawn_attr(), argv, envp);
  if (rc == 0) return pid;
  if (rc == EAGAIN)
    return make_error(Code::ResourceProcesses, fmt::format("{}: cannot fork: {}", req.argv[0], std::strerror(rc)));
  if (rc == EMFILE || rc == ENFILE) return child_error(req, exe, ChildReport{static_cast<int>(Stage::Stdio), rc, 0});
  // posix_spawn does not say whether chdir or execve failed: the directory
  // passed the check above, so it is the exec unless the directory changed since.
  if (!req.working_dir.empty())
    if (int err = dir_error(req.working_dir); err != 0)
      return child_error(req, exe, ChildReport{static_cast<int>(Stage::Chdir), err, 0});
  return child_error(req, exe, ChildReport{static_cast<int>(Stage::Exec), rc, 0});
}


// ---- environment -----------------------------------------------------------

// Ordered "K=V" list where a later definition replaces an earlier one in place.
class EnvList {
 public:
  void set(std::string_view key, std::string_view value) {
    std::string kv = fmt::format("{}={}", key, value);
    auto [it, fresh] = index_.try_emplace(std::string(key), list_.size());
    if (fresh) list_.push_back(std::move(kv));
    else list_[it->second] = std::move(kv);
  }
  std::vector<std::string> take() { return std::move(list_); }

 private:
  std::vector<std::string> list_;
  std::map<std::string, std::size_t> index_;
};

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r";
  std::size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// `"a\"b"` -> `a"b` (\\, \", \n, \t escapes); `'x'` -> `x` literally.
std::string unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') return std::string(v.substr(1, v.size() - 2));
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  v = v.substr(1, v.size() - 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\' || i + 1 == v.size()) {
      out.push_back(v[i]);
      continue;
    }
    char c = v[++i];
    out.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c);
  }
  return out;
}

Result<std::string> read_whole(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error(Code::IoOpen, errno, fmt::format("cannot read env_file {}", path));
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return errno_error(Code::IoRead, err, fmt::format("cannot read env_file {}", path));
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

// KEY=VALUE lines; blank lines and # comments ignored; optional `export `.
Result<void> apply_env_file(const std::string& path, EnvList& env) {
  auto text = read_whole(path);
  if (!text) return text.error();
  std::string_view rest = *text;
  for (int lineno = 1; !rest.empty(); ++lineno) {
    std::size_t nl = rest.find('\n');
    std::string_view line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export ") || line.starts_with("export\t")) line = trim(line.substr(7));
    std::size_t eq = line.find('=');
    std::string_view key = eq == std::string_view::npos ? std::string_view{} : trim(line.substr(0, eq));
    if (key.empty() || key.find_first_of(" \t") != std::string_view::npos) {
      Error e = make_error(Code::ConfigInvalidValue, fmt::format("env_file: expected KEY=VALUE, got \"{}\"", line));
      e.where = Location{path, lineno, 1};
      return e;
    }
    env.set(key, unquote(trim(line.substr(eq + 1))));
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> build_service_env(const ServiceConfig& svc, const std::vector<std::string>& base) {
  EnvList env;
  for (const auto& kv : base) {
    std::size_t eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) env.set(std::string_view(kv).substr(0, eq), std::string_view(kv).substr(eq + 1));
  }
  if (!svc.env_file.empty())
    if (auto r = apply_env_file(svc.env_file, env); !r) return r.error();
  for (const auto& [k, v] : svc.env) env.set(k, v);
  env.set("PROCD_SERVICE", svc.name);
  return env.take();
}

Result<SpawnedProcess> spawn_process(const SpawnRequest& req) {
  if (req.argv.empty() || req.argv[0].empty()) return make_error(Code::ExecFailed, "empty command");
  if (req.extra_fds.size() > 64) return make_error(Code::SpawnFailed, "too many extra fds (max 64)");
  auto exe = resolve_command(req);
  if (!exe) return exe.error();
  auto cred = resolve_user(req.user);
  if (!cred) return cred.error();
  // posix_spawn can do everything but credentials, limits, nice and umask.
  const bool fast = !cred->change && req.rlimits.empty() && req.nice == 0 && !req.umask;

  std::vector<std::string> env_store;  // only when the environment differs from req.env
  if (cred->change) {  // like systemd's User=: the service sees its own identity
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

  int devnull = shared_devnull();
  if (devnull < 0) return errno_error(Code::IoOpen, errno, "cannot open /dev/null");
  Fd out_r, out_w, err_r, err_w, st_r, st_w;
  if (!make_pipe(out_r, out_w) || (!req.merge_stderr && !make_pipe(err_r, err_w)) || (!fast && !make_pipe(st_r, st_w)))
    return errno_error(Code::IoPipe, errno, fmt::format("{}: cannot create pipe", req.argv[0]));

  std::vector<int> sources;
  sources.reserve(3 + req.extra_fds.size());
  sources.push_back(devnull);
  sources.push_back(out_w.get());
  sources.push_back(req.merge_stderr ? out_w.get() : err_w.get());
  sources.insert(sources.end(), req.extra_fds.begin(), req.extra_fds.end());

  if (fast) {
    auto pid = spawn_fast(req, *exe, argv.data(), envp.data(), sources);
    if (!pid) return pid.error();
    out_w.reset();  // our copies of the child's ends must go, or EOF never comes
    err_w.reset();
    set_nonblock(out_r.get());
    set_nonblock(err_r.get());
    return SpawnedProcess{*pid, out_r.release(), err_r.release()};
  }

  ChildPlan plan{&req, &*cred, exe->c_str(), argv.data(), envp.data(), std::move(sources), st_w.get()};

  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) run_child(plan);
  int fork_err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    Code code = fork_err == EAGAIN ? Code::ResourceProcesses : Code::SpawnFailed;
    return make_error(code, fmt::format("{}: cannot fork: {}", req.argv[0], std::strerror(fork_err)));
  }

  // Our copies of the child's ends must go, or EOF never comes.
  st_w.reset();
  out_w.reset();
  err_w.reset();
  ChildReport report{};
  std::size_t got = 0;
  while (got < sizeof report) {
    ssize_t n = ::read(st_r.get(), reinterpret_cast<char*>(&report) + got, sizeof report - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > 0) {
    int st;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (got < sizeof report) return make_error(Code::SpawnFailed, fmt::format("{}: child setup failed", req.argv[0]));
    return child_error(req, *exe, report);
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

bool group_alive(pid_t pgid) {
  if (pgid <= 1) return false;
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

}  // namespace procd
