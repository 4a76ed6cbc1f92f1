// `procd stop` with no names: ask the running supervisor to shut down and
// wait until it has exited. The supervisor is found through its PID lock
// (the control socket takes over this job once it exists); the wait is
// bounded by the config's [shutdown].kill ceiling plus a margin.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "procd/cli.hpp"
#include "procd/config.hpp"
#include "procd/pid_lock.hpp"

namespace procd {

int cmd_stop_supervisor(const GlobalOptions& g) {
  std::string path = find_config_path(g.config);
  auto r = load_config(path);
  if (!r.ok()) {
    for (const auto& e : r.errors) fmt::print(stderr, "{}\n", e.format());
    return kExitUsage;
  }
  const Config& cfg = *r.config;
  pid_t pid = PidLock::holder(cfg.pid_file);
  if (pid <= 0) {
    fmt::print("procd is not running (no lock on {})\n", cfg.pid_file);
    return kExitOk;
  }
  if (::kill(pid, SIGTERM) != 0) {
    fmt::print(stderr, "error[{}]: cannot signal procd (pid {}): {}\n", static_cast<int>(Code::SignalSendFailed), pid,
               std::strerror(errno));
    return kExitRuntime;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.shutdown.kill + 5000);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PidLock::holder(cfg.pid_file) != pid && (::kill(pid, 0) != 0 && errno == ESRCH)) {
      fmt::print("procd (pid {}) stopped\n", pid);
      return kExitOk;
    }
    if (PidLock::holder(cfg.pid_file) == 0) {
      fmt::print("procd (pid {}) stopped\n", pid);
      return kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  fmt::print(stderr, "error[{}]: procd (pid {}) still running after {} ms\n", static_cast<int>(Code::TimeoutStop), pid,
             cfg.shutdown.kill + 5000);
  return kExitNotRunning;
}

}  // namespace procd
