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
// - The child is started by spawn_process(), procd's one spawn: CMD looked
//   up in procd's PATH, procd's environment, stdin/stdout/stderr and every
//   other fd procd holds without O_CLOEXEC inherited as is, its own process
//   group (made before spawn_process returns, so it exists before any signal
//   is forwarded), an empty signal mask and every disposition reset to
//   SIG_DFL (nothing procd blocked or ignored leaks into it).
// - Terminal (docker run -it): when stdin is a terminal whose foreground
//   group is procd's, the child's group is made the foreground group
//   (tcsetpgrp, like tini); procd takes it back once the child has exited.
// - Job control (like dumb-init in its setsid mode): SIGTSTP/SIGTTIN/SIGTTOU
//   become SIGSTOP to the child's process group (unless --rewrite maps them
//   elsewhere), so a child that catches or ignores SIGTSTP stops too; then
//   procd stops itself with SIGSTOP, so the shell sees the job stopped.
//   SIGCONT resumes procd (the kernel does that) and goes to the child's
//   group, resuming it. As PID 1 of a namespace procd's SIGSTOP is a no-op
//   (the kernel protects init), so there only the child stops.
// - Not forwarded: SIGCHLD (reaping); signals procd raised on itself (SIGPIPE
//   from writing to a closed stderr). The fault signals SIGSEGV, SIGBUS,
//   SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT are forwarded when another
//   process sent them (kill, sigqueue) and kill procd when they are a real
//   fault of procd (exec_faults.cpp). Everything else, real-time signals
//   included, is forwarded. `--rewrite FROM:TO` (names with or without SIG,
//   any case, or numbers; repeatable, the last one for FROM wins) maps FROM
//   to TO; TO = 0 drops FROM.
// - Once the child runs, procd changes its own directory to / so it does not
//   keep a mount busy (the child starts in procd's directory).
// - With --kill-group, when the child exits the rest of its process group
//   gets SIGTERM before procd exits (or starts the --wait-all ladder).
// - Exit code: the child's; 128+N if it died of signal N; 127 when CMD
//   cannot be executed because it does not exist (ENOENT/ENOTDIR), 126 for
//   any other exec failure (permission denied, bad format), both with
//   error[4002] on stderr, like a shell; 2 for usage errors (no command:
//   error[6004]; bad --rewrite: error[2003]).
// - Without --wait-all procd exits as soon as the child has exited (orphans
//   still running are left to the kernel / namespace teardown), like tini.
//   With --wait-all it then waits for every remaining descendant (they are
//   all reparented to procd; done when waitpid reports ECHILD) along a
//   ladder, G = $PROCD_EXEC_GRACE_MS (default 10000; digits only, at most
//   31536000000 = one year, else error[1015] / error[1020] and exit 2
//   before anything starts): up to G for them to
//   exit on their own; then SIGTERM to the child's process group and to
//   each child of procd (/proc/self/task/*/children, else a /proc scan),
//   up to G more; then SIGKILL (repeated every 100 ms
//   for late reparented ones) for at most 2 s, after which procd exits
//   anyway (error[3001] warning). Signals received meanwhile go to the same
//   targets. The exit code is still the child's.
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/core.h>

#include "procd/cli.hpp"
#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/proc_reader.hpp"
#include "procd/signal_names.hpp"
#include "procd/signal_state.hpp"
#include "procd/spawn.hpp"

#include "exec_faults.hpp"

namespace procd {
namespace {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr int kExitNotFound = 127;
constexpr int kExitCannotExec = 126;
constexpr std::int64_t kDefaultGraceMs = 10000;
constexpr int kJobStops[] = {SIGTSTP, SIGTTIN, SIGTTOU};
constexpr Ms kKillRepeat{100};
constexpr Ms kKillCeiling{2000};
// The ladder's deadlines (now + 2 G + the ceiling) in the clock's
// nanoseconds: with G bounded they cannot overflow, however long procd ran.
static_assert(Clock::duration::max() / 4 > Ms(2 * kMaxDurationMs) + kKillCeiling);

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

bool parse_rewrites(const std::vector<std::string>& specs, const sigset_t& waited, RewriteMap& map) {
  for (int s = 0; s < NSIG; ++s) map[s] = s;
  // dumb-init's setsid-mode default: a child that catches or ignores
  // SIGTSTP must stop all the same when its job does (--rewrite TSTP:TSTP
  // hands the signal itself over instead).
  for (int s : kJobStops) map[s] = SIGSTOP;
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
    bool fault = std::find(std::begin(kFaultSignals), std::end(kFaultSignals), *from) != std::end(kFaultSignals);
    if (*from == SIGCHLD || !(sigismember(&waited, *from) || fault)) {
      print_error(Code::SignalUnknown,
                  fmt::format("--rewrite \"{}\": {} is not forwarded by procd exec", spec, signal_name(*from)));
      return false;
    }
    map[*from] = *to;
  }
  return true;
}

// PROCD_EXEC_GRACE_MS: digits only, 0..kMaxDurationMs (one year, the bound
// of every duration in the config); unset or empty is the default. nullopt
// after printing the error.
std::optional<std::int64_t> grace_ms() {
  const char* v = std::getenv("PROCD_EXEC_GRACE_MS");
  if (!v || !*v) return kDefaultGraceMs;
  std::string_view text(v);
  std::int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  bool digits = text.find_first_not_of("0123456789") == std::string_view::npos;
  if (digits && (ec == std::errc::result_out_of_range || ms > kMaxDurationMs)) {
    print_error(Code::ConfigOutOfRange, fmt::format("PROCD_EXEC_GRACE_MS={}: above the maximum of {} ms (one year)",
                                                    v, kMaxDurationMs));
    return std::nullopt;
  }
  if (!digits || ec != std::errc() || end != text.data() + text.size()) {
    print_error(Code::ConfigOverrideBadValue,
                fmt::format("PROCD_EXEC_GRACE_MS=\"{}\": expected a whole number of milliseconds from 0 to {}", v,
                            kMaxDurationMs));
    return std::nullopt;
  }
  return ms;
}

int status_code(int st) {
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

// PIDs whose parent is procd (orphans reparented to us, not yet reaped).
std::vector<pid_t> own_children() { return children_of(::getpid()); }

class Entrypoint {
 public:
  Entrypoint(const ExecOptions& o, const RewriteMap& m, const sigset_t& w, std::int64_t grace_ms)
      : opts_(o), map_(m), waited_(w), grace_(grace_ms) {}

  int run() {
    take_tty_ = ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
    SpawnRequest req;
    req.argv = opts_.command;
    for (char** e = environ; e && *e; ++e) req.env.emplace_back(*e);
    req.stdio = SpawnStdio::Inherit;
    req.group = SpawnGroup::NewGroup;  // exists before spawn_process returns: signals can go to it
    req.take_terminal = take_tty_;
    int exec_errno = 0;
    auto spawned = spawn_process(req, &exec_errno);
    if (!spawned.ok()) {
      restore_tty();  // the child may have taken the terminal before its exec failed
      print_error(spawned.error().code, spawned.error().message);
      if (spawned.error().code != Code::ExecFailed) return kExitRuntime;
      return exec_errno == ENOENT || exec_errno == ENOTDIR ? kExitNotFound : kExitCannotExec;
    }
    child_ = spawned->pid;
    set_fault_target(child_, false);
    // The child has its directory; procd must not pin a mount.
    if (::chdir("/") != 0) fmt::print(stderr, "procd exec: warning: chdir /: {}\n", std::strerror(errno));

    while (!child_done_) wait_one(nullptr);
    set_fault_target(child_, true);
    restore_tty();
    // Nothing of the group outlives procd unasked (dumb-init's setsid mode).
    if (opts_.kill_group) (void)signal_group(child_, SIGTERM);
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
    bool stop = std::find(std::begin(kJobStops), std::end(kJobStops), sig) != std::end(kJobStops);
    if (!child_done_) {
      // Job control stops and resumes the child's whole group, as a
      // terminal does with a foreground job.
      if (opts_.kill_group || stop || sig == SIGCONT)
        (void)signal_group(child_, to);
      else
        ::kill(child_, to);
      // The child is stopped, now procd (the shell's job).
      if (stop) ::kill(::getpid(), SIGSTOP);
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
    reap();
    auto start = Clock::now();
    auto term_at = start + grace_, kill_at = term_at + grace_, give_up = kill_at + kKillCeiling;
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
  Ms grace_;
  pid_t child_ = -1;
  bool take_tty_ = false;
  bool child_done_ = false;
  bool no_children_ = false;
  int child_status_ = 0;
};

}  // namespace

int cmd_exec(const ExecOptions& opts) {
  // Nothing inherited survives: a SIGCHLD left at SIG_IGN would make the
  // kernel auto-reap the child and hide its status; a blocked fault signal
  // would never be forwarded.
  reset_signal_state();
  if (opts.command.empty() || opts.command[0].empty()) {
    print_error(Code::RuntimeUsage, "procd exec: no command given (usage: procd exec [OPTIONS] [--] CMD ARGS...)");
    return kExitUsage;
  }
  sigset_t waited = wait_set();
  RewriteMap map;
  if (!parse_rewrites(opts.rewrites, waited, map)) return kExitUsage;
  auto grace = opts.wait_all ? grace_ms() : std::optional<std::int64_t>(kDefaultGraceMs);
  if (!grace) return kExitUsage;

  if (::getpid() != 1) {
    auto r = become_subreaper();
    if (!r) fmt::print(stderr, "procd exec: warning: {} (orphans will not be reaped)\n", r.error().format());
  }
  // Blocked for the rest of procd's life: a signal that arrives after the
  // child's exit must not kill procd with its default action on the way out.
  ::sigprocmask(SIG_BLOCK, &waited, nullptr);
  install_fault_forwarding(map, opts.kill_group);
  Entrypoint ep(opts, map, waited, *grace);
  return ep.run();
}

}  // namespace procd
