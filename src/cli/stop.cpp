// `procd stop` with no names: ask the running supervisor to shut down and
// wait until its process has exited. The supervisor is asked over the
// control socket ({"cmd":"shutdown"}); when nothing answers there (an old
// procd, a hung socket, a --socket pointing elsewhere) the PID lock names
// the process and SIGTERM does the asking. The wait is bounded by the
// config's [shutdown].kill ceiling plus a margin: past it procd itself gives
// up on stragglers, so waiting longer would only hide a hang.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/config_load.hpp"
#include "procd/pid_lock.hpp"
#include "procd/proc_reader.hpp"

namespace procd {
namespace {

using namespace cli;

constexpr std::int64_t kMarginMs = 5000;
constexpr std::int64_t kDefaultKillMs = 60000;  // [shutdown].kill's default, when no config loads

// Zombie: exited, not yet reaped. Orphan: its parent is init, which may
// reap lazily; any other parent reaps it in its own time (a test harness,
// a shell's `wait`) and nothing is gained by waiting for that.
enum class Liveness { Alive, Zombie, OrphanZombie, Gone };

Liveness liveness(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return Liveness::Gone;
  auto st = read_proc_stat(pid);
  if (!st || !has_exited(*st)) return Liveness::Alive;  // no /proc: kill() decides alone
  return st->ppid == 1 ? Liveness::OrphanZombie : Liveness::Zombie;
}

// Exited = gone, or a zombie: its exit is done and only its parent (init,
// after `procd start`) has yet to reap it. A real init reaps at once, so
// the zombie grace costs nothing there; a lazy one (some container PID 1s
// poll every few seconds) gets a short wait so that callers checking
// /proc/PID right after `procd stop` see it gone. Past the grace, the
// exit is reported all the same: the zombie holds no resources.
constexpr auto kZombieGrace = std::chrono::seconds(5);

int wait_gone(pid_t pid, std::int64_t ceiling_ms) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(ceiling_ms);
  std::optional<Clock::time_point> zombie_until;
  for (;;) {
    Liveness l = liveness(pid);
    if (l == Liveness::OrphanZombie && !zombie_until) zombie_until = Clock::now() + kZombieGrace;
    if (l == Liveness::Gone || l == Liveness::Zombie || (zombie_until && Clock::now() >= *zombie_until)) {
      fmt::print("procd (pid {}) stopped\n", pid);
      return kExitOk;
    }
    if (!zombie_until && Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fmt::print(stderr, "error[{}]: procd (pid {}) still running after {} ms\n",
             static_cast<int>(Code::ShutdownStragglers), pid, ceiling_ms);
  return kExitNotRunning;
}

}  // namespace

int cmd_stop_supervisor(const GlobalOptions& g) {
  const std::string config_path = find_config_path(g.config);
  auto loaded = load_config(config_path);
  const Config* cfg = loaded.ok() ? &*loaded.config : nullptr;
  // A config that no longer loads must not prevent stopping the procd still
  // running the old one: --socket, or the socket that config left behind.
  std::string socket = g.socket;
  if (socket.empty()) {
    if (cfg) socket = cfg->control.socket;
    else if (auto found = fallback_socket(config_path)) socket = *found;
  }
  if (socket.empty()) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.format());
    return kExitUsage;
  }
  const std::int64_t ceiling = (cfg ? cfg->shutdown.kill : kDefaultKillMs) + kMarginMs;

  auto ping = call_ok(socket, make_request("ping"), 2000);
  if (ping.ok()) {
    pid_t pid = static_cast<pid_t>(int_of(*ping, "pid"));
    auto reply = call_ok(socket, make_request("shutdown"), 5000);
    // Already shutting down (9004) is what we want; and a procd that closes
    // the socket at once may never get to answer: the wait below decides.
    if (!reply.ok() && reply.error().code != Code::StateShuttingDown && reply.error().code != Code::IoSocket) {
      return fail(reply.error());
    }
    if (pid <= 0) return kExitOk;
    return wait_gone(pid, ceiling);
  }
  if (ping.error().code != Code::ControlUnreachable && ping.error().code != Code::IoSocket) return fail(ping.error());

  pid_t pid = cfg ? PidLock::holder(cfg->pid_file) : 0;
  if (pid <= 0) {
    fmt::print("procd is not running\n");
    return kExitOk;
  }
  if (::kill(pid, SIGTERM) != 0) {
    return fail(make_error(Code::SignalSendFailed,
                           fmt::format("cannot signal procd (pid {}): {}", pid, std::strerror(errno))));
  }
  return wait_gone(pid, ceiling);
}

}  // namespace procd
