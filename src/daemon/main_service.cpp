// issue 28, the main service at the Supervisor's edge: when the run of the
// service with `main = true` ends (whatever its code; it is never
// restarted), procd shuts everything down along the ladder and exits with
// the main's code: its exit code, 128+N for a signal N, 127 when it could
// not be spawned. A shutdown already under way (SIGTERM, a critical
// service) keeps its own code; a restart of the main (`procd restart main`)
// and a main removed by a reload end nothing.
#include <fmt/core.h>

#include "procd/logging.hpp"
#include "procd/supervisor.hpp"
#include "service_host.hpp"

namespace procd {

namespace {

// 127, as a shell says "command not found", for a run that never started.
constexpr int kMainSpawnFailed = 127;
// The main could not run: a dependency it needs went down for good.
constexpr int kMainDependencyFailed = 4;

int main_exit_code(const ServiceState& st) {
  if (!st.spawn_error().empty()) return kMainSpawnFailed;
  return st.last_exit ? exit_code_of(*st.last_exit) : 0;
}

}  // namespace

void Supervisor::main_ended(Service& svc, Phase phase) {
  if (!svc.config().main || ladder_.active() || svc.intent().removing) return;
  if (phase != Phase::Stopped && phase != Phase::Failed) return;
  // Published within a step that went on (a restart: stopped, then starting).
  const ServiceState& st = svc.state();
  if (st.phase != Phase::Stopped && st.phase != Phase::Failed) return;
  main_exit_ = main_exit_code(st);
  Log::write(LogLevel::Info, fmt::format("main service ended; shutting down with code {}", *main_exit_),
             svc_fields(svc.name(), 0));
  begin_shutdown(ShutdownReason::Main);
}

// A main that a dependency keeps from running for good (blocked before its
// start, or to be stopped for it while it runs): procd has nothing left to
// do, so it says why and shuts down with kMainDependencyFailed, instead of
// running on in a container with nothing useful.
void Supervisor::main_blocked(Service& svc, const std::string& why) {
  if (!svc.config().main || ladder_.active() || svc.intent().removing) return;
  main_exit_ = kMainDependencyFailed;
  Log::write(LogLevel::Error,
             fmt::format("main service cannot run: {}; shutting down with code {}", why, kMainDependencyFailed),
             svc_fields(svc.name(), 0, Code::ServiceMainDependencyFailed));
  begin_shutdown(ShutdownReason::Main);
}

// EXTEND_TIMEOUT_USEC never moves a deadline past the ladder's last rung.
Millis Supervisor::Host::extend_cap() {
  return s_.ladder_.active() ? s_.ladder_.started_at() + s_.cfg_.shutdown.kill : 0;
}

}  // namespace procd
