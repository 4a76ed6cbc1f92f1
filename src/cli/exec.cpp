// `procd exec [--kill-group] [--rewrite FROM:TO]... [--wait-all] -- CMD ARGS...`:
// a container entrypoint (tini / dumb-init replacement) with no config.
//
// Design (tini's, no libuv): every forwardable signal is blocked with
// sigprocmask before the child is forked, then consumed synchronously with
// sigwaitinfo(): SIGCHLD -> waitpid(-1, WNOHANG) until nothing is ready;
// any other signal -> forwarded (after --rewrite) to the child, or to its
// process group with --kill-group. procd sleeps in the kernel between
// signals; a timeout (sigtimedwait) is armed only for the --wait-all ladder.
//
// Behaviour (documented for the man page):
// - PID 1 reaps every orphan of its namespace; otherwise procd becomes a
//   child subreaper (PR_SET_CHILD_SUBREAPER; failure is a warning,
//   error[10001]) so orphans of the child are reparented to it and reaped.
// - The child runs CMD via execvp (procd's PATH), inherits stdin/stdout/
//   stderr and every other fd as is, and gets its own process group
//   (setpgid(0,0) in the child and setpgid(pid,pid) in procd, so the group
//   exists before any signal is forwarded). It starts with an empty signal
//   mask and every disposition reset to SIG_DFL (nothing procd blocked or
//   ignored leaks into it).
// - Terminal (docker run -it): when stdin is a terminal whose foreground
//   group is procd's, the child's group is made the foreground group
//   (tcsetpgrp, like tini); procd takes it back once the child has exited.
//   SIGTTIN/SIGTTOU/SIGTSTP are blocked in procd, so they never stop it.
// - Not forwarded: SIGCHLD (reaping); the synchronous fault signals SIGSEGV,
//   SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT (left unblocked so a
//   crash of procd stays a crash); signals procd raised on itself (SIGPIPE
//   from writing to a closed stderr). Everything else, real-time signals
//   included, is forwarded. `--rewrite FROM:TO` (names with or without SIG,
//   any case, or numbers; repeatable, the last one for FROM wins) maps FROM
//   to TO; TO = 0 drops FROM.
// - Exit code: the child's; 128+N if it died of signal N; 127 when CMD
//   cannot be executed because it does not exist (ENOENT/ENOTDIR), 126 for
//   any other exec failure (permission denied, bad format), both with
//   error[4002] on stderr, like a shell; 2 for usage errors (no command:
//   error[6004]; bad --rewrite: error[2003]).
// - Without --wait-all procd exits as soon as the child has exited (orphans
//   still running are left to the kernel / namespace teardown), like tini.
//   With --wait-all it then waits for every remaining descendant (they are
//   all reparented to procd; done when waitpid reports ECHILD) along a
//   ladder, G = $PROCD_EXEC_GRACE_MS (default 10000): up to G for them to
//   exit on their own; then SIGTERM to the child's process group and to
//   each child of procd (/proc/self/task/*/children, else a /proc scan),
//   up to G more; then SIGKILL (repeated every 100 ms
//   for late reparented ones) for at most 2 s, after which procd exits
//   anyway (error[3001] warning). Signals received meanwhile go to the same
//   targets. The exit code is still the child's.
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "procd/cli.hpp"
#include "procd/error.hpp"
#include "procd/signal_names.hpp"
#include "procd/spawn.hpp"

namespace procd {
namespace {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr int kExitNotFound = 127;
constexpr int kExitCannotExec = 126;
constexpr long kDefaultGraceMs = 10000;
constexpr Ms kKillRepeat{100};
constexpr Ms kKillCeiling{2000};
constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};

void print_error(Code code, const std::string& msg) { fmt::print(stderr, "{}\n", make_error(code, msg).format()); }

// The signals procd waits for: all catchable ones but the fault signals.
sigset_t wait_set() {
  sigset_t set;
  sigfillset(&set);  // glibc leaves out its reserved real-time signals
  sigdelset(&set, SIGKILL);
  sigdelset(&set, SIGSTOP);
  for (int s : kFaultSignals) sigdelset(&set, s);
  return set;
}

using RewriteMap = std::array<int, NSIG>;  // map[FROM] = TO; 0 = drop

bool parse_rewrites(const std::vector<std::string>& specs, const sigset_t& waited, RewriteMap& map) {
  for (int s = 0; s < NSIG; ++s) map[s] = s;
  for (const auto& spec : specs) {
    auto colon = spec.find(':');
    if (colon == std::string::npos) {
      print_error(Code::SignalUnknown, fmt::format("--rewrite \"{}\": expected FROM:TO (e.g. TERM:QUIT)", spec));
      return false;
    }
    std::string from_s = spec.substr(0, colon), to_s = spec.substr(colon + 1);
    auto from = parse_signal(from_s);
    auto to = to_s == "0" ? std::optional<int>(0) : parse_signal(to_s);
    for (auto [name, sig] : {std::pair{from_s, from}, std::pair{to_s, to}}) {
      if (!sig) {
        print_error(Code::SignalUnknown, fmt::format("--rewrite \"{}\": unknown signal \"{}\"", spec, name));
        return false;
      }
    }
    if (*from == SIGCHLD || !sigismember(&waited, *from)) {
      print_error(Code::SignalUnknown,
                  fmt::format("--rewrite \"{}\": {} is not forwarded by procd exec", spec, signal_name(*from)));
      return false;
    }
    map[*from] = *to;
  }
  return true;
}

long grace_ms() {
  const char* v = std::getenv("PROCD_EXEC_GRACE_MS");
  if (!v || !*v) return kDefaultGraceMs;
  char* end = nullptr;
  errno = 0;
  long ms = std::strtol(v, &end, 10);
  if (errno || *end || ms < 0) {
    fmt::print(stderr, "procd exec: warning: PROCD_EXEC_GRACE_MS=\"{}\" is not a number of milliseconds; using {}\n",
               v, kDefaultGraceMs);
    return kDefaultGraceMs;
  }
  return ms;
}

// Child side of fork(): only async-signal-safe calls, then exec or _exit.
[[noreturn]] void exec_child(char* const* argv, bool take_tty, int report_fd) {
  ::setpgid(0, 0);
  if (take_tty) ::tcsetpgrp(STDIN_FILENO, ::getpid());  // SIGTTOU still blocked: cannot stop us
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);  // KILL/STOP/reserved: EINVAL, harmless
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execvp(argv[0], argv);
  int err = errno;
  (void)!::write(report_fd, &err, sizeof err);
  ::_exit(kExitNotFound);
}

int status_code(int st) {
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

// PIDs whose parent is procd (orphans reparented to us, not yet reaped).
std::vector<pid_t> own_children() {
  std::vector<pid_t> out;
  pid_t self = ::getpid();
  long pid;
  // One "children" file per thread; procd has one thread (tid == pid).
  std::string path = fmt::format("/proc/{}/task/{}/children", self, self);
  if (FILE* f = std::fopen(path.c_str(), "re")) {
    while (std::fscanf(f, "%ld", &pid) == 1) out.push_back(static_cast<pid_t>(pid));
    std::fclose(f);
    return out;
  }
  // Kernel without CONFIG_PROC_CHILDREN: scan /proc/*/stat for ppid == us.
  DIR* dir = ::opendir("/proc");
  if (!dir) return out;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char buf[512];
    int fd = ::open(fmt::format("/proc/{}/stat", e->d_name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    const char* rp = std::strrchr(buf, ')');  // comm may hold spaces and parens
    long ppid = 0;
    if (rp && std::sscanf(rp + 1, " %*c %ld", &ppid) == 1 && ppid == self) out.push_back(std::atoi(e->d_name));
  }
  ::closedir(dir);
  return out;
}

class Entrypoint {
 public:
  Entrypoint(const ExecOptions& o, const RewriteMap& m, const sigset_t& w) : opts_(o), map_(m), waited_(w) {}

  int run() {
    std::vector<char*> argv;
    for (const auto& a : opts_.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    take_tty_ = ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();

    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
      print_error(Code::IoPipe, fmt::format("cannot create pipe: {}", std::strerror(errno)));
      return kExitRuntime;
    }
    child_ = ::fork();
    if (child_ < 0) {
      int err = errno;
      ::close(report[0]);
      ::close(report[1]);
      print_error(err == EAGAIN ? Code::ResourceProcesses : Code::SpawnFailed,
                  fmt::format("cannot fork: {}", std::strerror(err)));
      return kExitRuntime;
    }
    if (child_ == 0) exec_child(argv.data(), take_tty_, report[1]);
    ::setpgid(child_, child_);  // EACCES once it has exec'd: it did it itself then
    ::close(report[1]);
    int err = 0;
    ssize_t n;
    do n = ::read(report[0], &err, sizeof err);
    while (n < 0 && errno == EINTR);
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof err)) {
      ::waitpid(child_, nullptr, 0);
      restore_tty();
      print_error(Code::ExecFailed, fmt::format("cannot execute {}: {}", opts_.command[0], std::strerror(err)));
      return err == ENOENT || err == ENOTDIR ? kExitNotFound : kExitCannotExec;
    }

    while (!child_done_) wait_one(nullptr);
    restore_tty();
    if (opts_.wait_all) wait_all();
    return status_code(child_status_);
  }

 private:
  // Wait for one signal (bounded by `until` when given) and handle it.
  // Returns false on timeout.
  bool wait_one(const Clock::time_point* until) {
    siginfo_t info;
    int sig;
    if (until) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*until - Clock::now());
      if (left.count() <= 0) return false;
      timespec ts{static_cast<time_t>(left.count() / 1000000000), static_cast<long>(left.count() % 1000000000)};
      sig = ::sigtimedwait(&waited_, &info, &ts);
    } else {
      sig = ::sigwaitinfo(&waited_, &info);
    }
    if (sig < 0) return errno != EAGAIN;  // EINTR: just loop again
    if (sig == SIGCHLD) {
      reap();
    } else if (!(info.si_code == SI_USER && info.si_pid == ::getpid())) {  // not raised by procd itself
      forward(sig);
    }
    return true;
  }

  void reap() {
    int st;
    pid_t pid;
    for (;;) {
      pid = ::waitpid(-1, &st, WNOHANG);
      if (pid > 0) {
        if (pid == child_) {
          child_done_ = true;
          child_status_ = st;
        }
        continue;
      }
      if (pid < 0 && errno == EINTR) continue;
      no_children_ = pid < 0 && errno == ECHILD;
      return;
    }
  }

  void forward(int sig) {
    int to = map_[sig];
    if (to == 0) return;
    if (!child_done_) {
      if (opts_.kill_group)
        (void)signal_group(child_, to);
      else
        ::kill(child_, to);
    } else {
      signal_rest(to);
    }
  }

  // After the child has exited: its process group and procd's own children.
  void signal_rest(int sig) {
    (void)signal_group(child_, sig);
    for (pid_t p : own_children()) ::kill(p, sig);
  }

  void restore_tty() {
    if (take_tty_) ::tcsetpgrp(STDIN_FILENO, ::getpgrp());  // SIGTTOU blocked: allowed
    take_tty_ = false;
  }

  void wait_all() {
    long g = grace_ms();
    reap();
    auto start = Clock::now();
    auto term_at = start + Ms(g), kill_at = term_at + Ms(g), give_up = kill_at + kKillCeiling;
    while (!no_children_ && Clock::now() < term_at) wait_one(&term_at);
    if (!no_children_) signal_rest(SIGTERM);
    while (!no_children_ && Clock::now() < kill_at) wait_one(&kill_at);
    while (!no_children_ && Clock::now() < give_up) {
      signal_rest(SIGKILL);
      auto next = std::min(give_up, Clock::now() + kKillRepeat);
      while (!no_children_ && wait_one(&next)) {
      }
    }
    if (!no_children_) {
      auto left = own_children().size();
      print_error(Code::ShutdownStragglers,
                  fmt::format("procd exec --wait-all: {} process{} still alive after SIGKILL; exiting anyway", left,
                              left == 1 ? "" : "es"));
    }
  }

  const ExecOptions& opts_;
  const RewriteMap& map_;
  sigset_t waited_;
  pid_t child_ = -1;
  bool take_tty_ = false;
  bool child_done_ = false;
  bool no_children_ = false;
  int child_status_ = 0;
};

}  // namespace

int cmd_exec(const ExecOptions& opts) {
  if (opts.command.empty() || opts.command[0].empty()) {
    print_error(Code::RuntimeUsage, "procd exec: no command given (usage: procd exec [OPTIONS] -- CMD ARGS...)");
    return kExitUsage;
  }
  sigset_t waited = wait_set();
  RewriteMap map;
  if (!parse_rewrites(opts.rewrites, waited, map)) return kExitUsage;

  if (::getpid() != 1) {
    auto r = become_subreaper();
    if (!r) fmt::print(stderr, "procd exec: warning: {} (orphans will not be reaped)\n", r.error().format());
  }
  // A SIGCHLD inherited as SIG_IGN would make the kernel auto-reap the child
  // and hide its exit status.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(SIGCHLD, &dfl, nullptr);

  // Blocked for the rest of procd's life: a signal that arrives after the
  // child's exit must not kill procd with its default action on the way out.
  ::sigprocmask(SIG_BLOCK, &waited, nullptr);
  Entrypoint ep(opts, map, waited);
  return ep.run();
}

}  // namespace procd
