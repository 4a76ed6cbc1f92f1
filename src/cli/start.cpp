// `procd start` with no names: start the supervisor in the background and
// return once it is ready, or say why it is not. The background procd is a
// plain `procd run` (same binary, same config path, same environment) in its
// own session, with stdin on /dev/null and stdout/stderr appended to a log
// file (opened by open_for_write: never through a planted symlink, hard link
// or FIFO). Invariants: the parent never returns while its child is an unreaped
// zombie; every wait is bounded; when the child fails early, the user sees
// the lines it wrote during this attempt only (the log is read from the
// offset it had before the fork), not an older run's.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <utility>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/config_load.hpp"
#include "procd/file_io.hpp"
#include "start_watch.hpp"

extern char** environ;

namespace procd {
namespace {

using json = nlohmann::json;
using namespace cli;

constexpr std::size_t kTailLines = 10;

// The last lines written to the log after `offset`, read through the fd
// `procd start` opened (never the path again), at most the last 64 KiB.
std::deque<std::string> log_tail(int fd, off_t offset) {
  constexpr off_t kTailBytes = 64 * 1024;
  std::deque<std::string> tail;
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size <= offset) return tail;
  off_t from = std::max(offset, st.st_size - kTailBytes);
  std::string text(static_cast<std::size_t>(st.st_size - from), '\0');
  ssize_t n = ::pread(fd, text.data(), text.size(), from);
  if (n <= 0) return tail;
  text.resize(static_cast<std::size_t>(n));
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    tail.push_back(text.substr(start, end - start));
    if (tail.size() > kTailLines) tail.pop_front();
    start = end + 1;
  }
  return tail;
}

// How the background child exited, as an exit code of our own: 2 stays 2
// (config or "already running"), everything else is a runtime failure.
int report_early_exit(int status, pid_t pid, const std::string& log_path, int log_fd, off_t offset) {
  std::string how = WIFEXITED(status) ? fmt::format("exited with code {}", WEXITSTATUS(status))
                                      : fmt::format("was killed by signal {}", WTERMSIG(status));
  fmt::print(stderr, "error[{}]: procd (pid {}) {} while starting\n", static_cast<int>(Code::TimeoutReady), pid, how);
  auto tail = log_tail(log_fd, offset);
  ::close(log_fd);
  if (tail.empty()) {
    fmt::print(stderr, "(it wrote nothing to {})\n", log_path);
  } else {
    fmt::print(stderr, "last lines of {}:\n", log_path);
    for (const auto& l : tail) fmt::print(stderr, "  {}\n", l);
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == kExitUsage ? kExitUsage : kExitRuntime;
}

// Outcome of the autostart services in one status snapshot, read from each
// service's `condition` and `reason` (core/service_reason): running or
// completed is done; failed, blocked or stopped after a bad run is a failure;
// anything else (starting, restarting, waiting, not started yet) is pending:
// a restarting service may still reach its start limit.
struct Readiness {
  bool settled = true;               // nothing pending
  std::vector<std::string> failed;   // "typo: command not found: slep; giving up after 5 starts in 10 s"
  std::vector<std::string> pending;  // "web: starting"
};

Readiness judge_autostart(const Config& cfg, const json& status) {
  Readiness r;
  std::map<std::string, const json*> by_name;
  for (const auto& s : list_of(status, "services")) by_name[str_of(s, "name")] = &s;
  for (const auto& svc : cfg.services) {
    if (!svc.autostart) continue;
    auto it = by_name.find(svc.name);
    if (it == by_name.end()) continue;  // not in this snapshot: nothing to wait for
    const json& s = *it->second;
    std::string cond = str_of(s, "condition");
    if (cond.empty()) cond = str_of(s, "state");
    std::string reason = str_of(s, "reason");
    std::string code = str_of(s, "reason_code");
    if (reason.empty()) reason = cond;
    if (cond == "running" || cond == "completed") continue;
    if (cond == "failed" || cond == "blocked" || (cond == "stopped" && code != "not-started")) {
      if (code != "stopped-by-request") r.failed.push_back(fmt::format("{}: {}", svc.name, reason));
      continue;
    }
    r.settled = false;
    r.pending.push_back(fmt::format("{}: {}", svc.name, reason));
  }
  return r;
}

// On a terminal: one line per service still starting, redrawn in place and
// erased before the outcome is printed. Elsewhere: nothing.
class Progress {
 public:
  Progress() : tty_(::isatty(STDOUT_FILENO) == 1) {
    struct winsize ws {};
    if (tty_ && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 4) width_ = ws.ws_col - 1;
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress() { clear(); }
  void draw(const std::vector<std::string>& pending) {
    if (!tty_ || pending == shown_) return;
    clear();
    for (const auto& p : pending) {
      std::string line = "  " + p;
      if (line.size() > width_) line.resize(width_);
      fmt::print("{}\n", line);
    }
    shown_ = pending;
    std::fflush(stdout);
  }
  void clear() {
    if (tty_ && !shown_.empty()) fmt::print("\033[{}F\033[J", shown_.size());
    shown_.clear();
    std::fflush(stdout);
  }

 private:
  bool tty_;
  std::size_t width_ = 79;
  std::vector<std::string> shown_;
};

// Stop the supervisor this command started: SIGTERM (its ordinary graceful
// shutdown), reaped within its own [shutdown].kill ceiling plus a margin,
// SIGKILL past it. Never leaves a zombie.
void stop_child(pid_t pid, const Config& cfg, StartWatch& watch) {
  ::kill(pid, SIGTERM);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.shutdown.kill + 5000);
  int status = 0;
  for (;;) {
    auto wake = watch.wait(until, status);
    if (wake == StartWatch::Wake::ChildExited) return;
    if (wake == StartWatch::Wake::Timeout) break;
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
}

std::string summary_counts(const json& status) {
  // running first, stopped second, then any other state in first-seen order.
  std::vector<std::pair<std::string, int>> counts = {{"running", 0}, {"stopped", 0}};
  for (const auto& s : list_of(status, "services")) {
    std::string st = str_of(s, "state");
    auto it = std::find_if(counts.begin(), counts.end(), [&](auto& c) { return c.first == st; });
    if (it == counts.end()) counts.emplace_back(st, 1);
    else ++it->second;
  }
  std::string out;
  for (const auto& [state, n] : counts) {
    if (n == 0 && state != "running") continue;
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", n, state);
  }
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

int cmd_start_supervisor(const GlobalOptions& g, bool keep) {
  std::string path = find_config_path(g.config);
  auto loaded = load_config(path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.format());
    return kExitUsage;
  }
  const Config& cfg = *loaded.config;
  const std::string socket = g.socket.empty() ? cfg.control.socket : g.socket;
  if (auto ping = call_ok(socket, make_request("ping"), 2000); ping.ok()) {
    fmt::print("procd is already running (pid {})\n", int_of(*ping, "pid"));
    return kExitOk;
  }

  const std::string log_path = cfg.logging.file.empty() ? default_state_file(cfg.path, "log") : cfg.logging.file;
  // Like every file procd writes: no symlink or hard link followed, no
  // blocking on a FIFO, a regular file only (procd/file_io.hpp).
  auto opened = open_for_write(log_path, O_RDWR | O_CREAT | O_APPEND);
  if (!opened.ok())
    return fail(make_error(opened.error().code, fmt::format("cannot open {}: {}", log_path, opened.error().message)));
  int log_fd = *opened;
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  off_t offset = ::lseek(log_fd, 0, SEEK_END);
  if (offset < 0) offset = 0;

  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls.
  // The resolved binary path, not /proc/self/exe itself: exec'ing the
  // symlink would name the process "exe" in ps/pgrep.
  std::string exe = "/proc/self/exe";
  char buf[4096];
  if (ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1); n > 0) exe.assign(buf, static_cast<std::size_t>(n));
  std::vector<std::string> args = {"procd", "-c", cfg.path};
  if (!g.socket.empty()) args.insert(args.end(), {"--socket", g.socket});
  args.push_back("run");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The child's environment is ours, with NOTIFY_SOCKET pointing at the
  // watch (start_watch.hpp): its first sd_notify message wakes us.
  StartWatch watch;
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("NOTIFY_SOCKET=") || kv.starts_with("WATCHDOG_")) continue;
    env_strings.emplace_back(kv);
  }
  if (!watch.notify_env().empty()) env_strings.push_back(watch.notify_env());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  std::fflush(nullptr);  // no buffered output duplicated into the child
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return fail(make_error(Code::SpawnFailed, fmt::format("cannot fork: {}", std::strerror(errno))));
  }
  if (pid == 0) {
    ::setsid();  // own session: the shell's Ctrl-C and hangup no longer reach it
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(exe.c_str(), argv.data(), envp.data());
    const char msg[] = "procd start: cannot execute the procd binary\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  if (null_fd >= 0) ::close(null_fd);
  watch.attach(pid);
  // log_fd stays open in the parent: an early failure's lines are read
  // through it; every other return closes it.
  struct CloseFd {
    int& fd;
    ~CloseFd() {
      if (fd >= 0) ::close(fd);
    }
  } close_log{log_fd};

  // Ready means: answering on the socket and every autostart service settled.
  std::int64_t longest = 0;
  for (const auto& s : cfg.services)
    if (s.autostart) longest = std::max(longest, s.start_timeout_ms);
  auto budget = std::max<std::chrono::milliseconds>(std::chrono::seconds(30), std::chrono::milliseconds(longest + 5000));
  auto deadline = std::chrono::steady_clock::now() + budget;
  bool answered = false;
  Readiness last;
  Progress progress;
  // After the first failure, a short grace lets what follows from it show
  // (a dependent turning blocked) so every failing service is reported.
  constexpr auto kFailureGrace = std::chrono::milliseconds(1000);
  std::optional<std::chrono::steady_clock::time_point> first_failure;
  auto give_up = [&](const std::string& what) {
    progress.clear();
    for (const auto& f : last.failed) fmt::print(stderr, "{}\n", f);
    fmt::print(stderr, "error[{}]: {}; {}\nlog: {}\n", static_cast<int>(what.empty() ? Code::ServiceExitFailure : Code::TimeoutReady),
               what.empty() ? fmt::format("procd (pid {}) started, but {} service{} did not", pid, last.failed.size(),
                                          last.failed.size() == 1 ? "" : "s")
                            : what,
               keep ? fmt::format("procd (pid {}) keeps running (--keep)", pid) : "procd stopped", log_path);
    if (!keep) stop_child(pid, cfg, watch);
    return kExitRuntime;
  };
  // Woken by the child's notify message, its events or its exit (no
  // polling); each wake-up judges one status snapshot.
  for (;;) {
    auto until = deadline;
    if (first_failure) until = std::min(until, *first_failure + kFailureGrace);
    int status = 0;
    auto wake = watch.wait(until, status);
    if (wake == StartWatch::Wake::ChildExited) {
      progress.clear();
      return report_early_exit(status, pid, log_path, std::exchange(log_fd, -1), offset);
    }
    auto now = std::chrono::steady_clock::now();
    if (wake == StartWatch::Wake::Timeout && now >= deadline) break;
    // Subscribed before the snapshot: no change falls between the two.
    watch.subscribe(socket);
    auto st = call_ok(socket, make_request("status"), 2000);
    // Another procd may own the socket (a race with a second `procd start`);
    // ours then exits on the PID lock, which the watch reports.
    if (!st.ok() || int_of(*st, "pid") != pid) continue;
    answered = true;
    last = judge_autostart(cfg, *st);
    if (!last.failed.empty() && !first_failure) first_failure = now;
    if (!last.failed.empty() && (last.settled || now - *first_failure >= kFailureGrace)) return give_up("");
    if (last.settled) {
      progress.clear();
      fmt::print("procd started (pid {}): {}\nlog: {}\n", pid, summary_counts(*st), log_path);
      return kExitOk;
    }
    progress.draw(last.pending);
  }
  // The last resort: still not settled within the budget.
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(budget).count();
  if (!answered) return give_up(fmt::format("procd (pid {}) did not answer on {} within {}s", pid, socket, secs));
  return give_up(fmt::format("procd (pid {}) not ready after {}s: {}", pid, secs, join(last.pending, ", ")));
}

}  // namespace procd
