// HealthChecker: the schedule of one service's checks, the one completion
// path, and command checks; tcp and http checks are health_http.cpp, the
// shared state health_checker.hpp (read its invariants first).
//  * A command check is spawned through SystemCalls (the one spawn), with the
//    service's own user, umask, rlimits, nice, working_dir and environment
//    and CPUs (HealthContext: the service's own request, one builder in
//    service_request.hpp), never procd's privileges: SPEC Part 2. Its stdio
//    is /dev/null, it gets a session of its own (so a timeout kills the whole
//    group); like the service it never sees NOTIFY_SOCKET / WATCHDOG_* of
//    procd's manager.
//  * Child exits arrive through the ChildReaper, perhaps after the checker
//    is gone: the callback holds a weak_ptr to `alive`.
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "health_checker.hpp"
#include "procd/signal_names.hpp"
#include "procd/service_request.hpp"
#include "procd/spawn.hpp"

namespace procd {

const char* health_status_name(HealthStatus s) {
  switch (s) {
    case HealthStatus::Healthy: return "healthy";
    case HealthStatus::Unhealthy: return "unhealthy";
    case HealthStatus::Unknown: break;
  }
  return "unknown";
}

namespace {

// The request a command check runs with: the service's, but for argv and stdio.
SpawnRequest command_request(const HealthConfig& cfg, const HealthContext& ctx) {
  return health_spawn_request(ctx.run, cfg.command);
}

}  // namespace

HealthChecker::Impl::Impl(uv_loop_t* l, HealthConfig c, HealthContext x, ChildReaper& r, OnChange cb)
    : loop(l), cfg(std::move(c)), ctx(std::move(x)), reaper(r), on_change(std::move(cb)) {
  timer.init(loop, [this] { on_timer(); });
  // Tcp / http targets were parsed once, when the config was loaded
  // (procd/health_target.hpp); a HealthConfig built by hand has none.
  host = cfg.host;
  port = cfg.port;
  path = cfg.path.empty() ? "/" : cfg.path;
  if ((cfg.kind == HealthKind::Tcp || cfg.kind == HealthKind::Http) && (host.empty() || port <= 0))
    target_error = fmt::format("no {} target parsed from '{}'", cfg.kind == HealthKind::Tcp ? "tcp" : "http", cfg.target);
}

void HealthChecker::Impl::arm(std::int64_t ms) { timer.schedule(ms); }

void HealthChecker::Impl::on_timer() {
  if (!running) return;
  if (in_flight) return finish(gen, false, fmt::format("timed out after {} ms", cfg.timeout_ms));
  begin();
}

void HealthChecker::Impl::cancel_io() {
  tcp.close();
  if (resolving) {
    resolving->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving->req));
    resolving = nullptr;
  }
  if (child > 0) ctx.sys->signal_group(child, SIGKILL);  // not reaped yet, so the group id is still ours
  child = -1;
}

void HealthChecker::Impl::finish(std::uint64_t g, bool ok, std::string what) {
  if (!in_flight || g != gen) return;
  in_flight = false;
  cancel_io();
  detail = std::move(what);
  arm(cfg.interval_ms);
  HealthStatus next = status;
  if (ok) {
    failures = 0;
    next = HealthStatus::Healthy;
  } else if (++failures >= std::max(1, cfg.retries)) {
    next = HealthStatus::Unhealthy;
  }
  if (next == status) return;
  status = next;
  if (on_change) on_change(status, detail);
}

void HealthChecker::Impl::begin() {
  ++gen;
  in_flight = true;
  arm(cfg.timeout_ms);
  switch (cfg.kind) {
    case HealthKind::Tcp:
    case HealthKind::Http: return resolve();
    case HealthKind::Command: return run_command();
    case HealthKind::None: return finish(gen, true, "no check configured");
  }
}

void HealthChecker::Impl::run_command() {
  if (cfg.command.empty()) return finish(gen, false, "empty health command");
  auto proc = ctx.sys->spawn(command_request(cfg, ctx));
  if (!proc.ok()) return finish(gen, false, fmt::format("health command: {}", proc.error().message));
  pid_t pid = proc->pid;
  std::weak_ptr<int> token = alive;
  std::uint64_t g = gen;
  reaper.watch_child(pid, [token, this, g](int code, int sig) {
    if (token.expired()) return;
    on_child_exit(g, code, sig);
  });
  child = pid;
}

void HealthChecker::Impl::on_child_exit(std::uint64_t g, int code, int sig) {
  if (g != gen || !in_flight) return;
  child = -1;
  if (sig != 0) return finish(g, false, fmt::format("health command killed by {}", signal_name(sig)));
  finish(g, code == 0, code == 0 ? std::string("health command exited 0") : fmt::format("health command exited {}", code));
}

HealthChecker::HealthChecker(uv_loop_t* loop, HealthConfig cfg, HealthContext ctx, ChildReaper& reaper, OnChange on_change)
    : impl_(std::make_unique<Impl>(loop, std::move(cfg), std::move(ctx), reaper, std::move(on_change))) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start(std::uint64_t first_delay_ms) {
  stop();
  impl_->running = true;
  impl_->status = HealthStatus::Unknown;
  impl_->failures = 0;
  impl_->detail.clear();
  impl_->arm(static_cast<std::int64_t>(first_delay_ms));
}

void HealthChecker::stop() {
  if (!impl_) return;
  impl_->running = false;
  impl_->in_flight = false;
  ++impl_->gen;
  impl_->cancel_io();
  impl_->timer.cancel();
}

HealthStatus HealthChecker::status() const { return impl_->status; }
const std::string& HealthChecker::last_detail() const { return impl_->detail; }

}  // namespace procd
