// Health checks of one service ([services.NAME.health]): command (exit 0 =
// healthy; run as the service: its user, umask, rlimits, nice, env and
// working_dir; its process group killed at timeout_ms), tcp (connect within
// timeout_ms), http (GET; 2xx/3xx = healthy; response parsed with
// http-parser; they connect to the host / port / path the config loader
// parsed, procd/health_target.hpp). One check at a time, never
// overlapping, each scheduled by the checker's one timer — no polling loop.
// `retries` consecutive failures make the service unhealthy; one success
// makes it healthy again. Runs only between start() and stop() (the
// supervisor starts it when the service's process is up).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "procd/config.hpp"
#include "procd/spawn.hpp"
#include "procd/system_calls.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

enum class HealthStatus { Unknown, Healthy, Unhealthy };
const char* health_status_name(HealthStatus s);  // "healthy" | "unhealthy" | "unknown"

// The supervisor owns reaping (waitpid(-1)); a command check asks it to
// report its child's exit through this interface.
class ChildReaper {
 public:
  virtual ~ChildReaper() = default;
  virtual void watch_child(pid_t pid, std::function<void(int code, int signal)> on_exit) = 0;
};

// What a command check runs with: the service's own identity and limits,
// the same fields its SpawnRequest gets (SPEC Part 2: never procd's).
struct HealthContext {
  // The service's own run request (service_spawn_request): a command check
  // runs with its identity, limits, CPUs, directory, cgroup and environment.
  SpawnRequest run;
  // The seam a command check is spawned and killed through (the service's
  // own SystemCalls: the simulator's in tests/sim).
  SystemCalls* sys = &real_system_calls();
};

class HealthChecker {
 public:
  // Called on every status CHANGE (Unknown -> Healthy, Healthy -> Unhealthy, ...),
  // with a human detail of the last check ("connect 127.0.0.1:8080: connection refused").
  using OnChange = std::function<void(HealthStatus status, const std::string& detail)>;

  HealthChecker(uv_loop_t* loop, HealthConfig cfg, HealthContext ctx, ChildReaper& reaper, OnChange on_change);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Begin checking: the first check runs after `first_delay_ms`, then every interval_ms
  // (measured from the end of the previous check). Status resets to Unknown.
  void start(std::uint64_t first_delay_ms = 0);
  void stop();  // cancels a check in flight (kills a command check's process group)
  HealthStatus status() const;
  const std::string& last_detail() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace procd
