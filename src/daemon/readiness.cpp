// Readiness and health at the Supervisor's edge: the sd_notify socket for
// `ready = "notify"` services (READY=1, STATUS=, WATCHDOG=1 — each ping
// moves the service's watchdog deadline), the log-line
// readiness pattern (RE2, compiled once per config), health checkers (started with each run, stopped when it
// stops), and the memory limit. Each turns into a machine event (Ready or
// HealthFailed) through dispatch(); the policy decides what happens next.
#include <fmt/core.h>
#include <signal.h>

#include <algorithm>

#include "procd/logging.hpp"
#include "procd/proc_reader.hpp"
#include "procd/service_request.hpp"
#include "procd/spawn.hpp"
#include "procd/supervision_rules.hpp"
#include "procd/supervisor.hpp"

namespace procd {
namespace {

pid_t pgid_of(pid_t pid) {
  auto st = read_proc_stat(pid);
  return st ? st->pgid : -1;
}

}  // namespace

void Supervisor::watch_child(pid_t pid, std::function<void(int, int)> on_exit) { child_watchers_[pid] = std::move(on_exit); }

bool Supervisor::start_notify_server() {
  if (notify_) return true;
  notify_ = std::make_unique<NotifyServer>(&loop_, [this](pid_t pid, const std::map<std::string, std::string>& f) {
    on_notify(pid, f);
  });
  if (auto r = notify_->listen(cfg_.control.notify_socket()); !r.ok()) {
    Log::error(r.error());
    notify_.reset();
    return false;
  }
  return true;
}

void Supervisor::setup_readiness(ServiceRunner& svc) {
  svc.ready_pattern.reset();
  if (svc.cfg.ready.kind == ReadyKind::LogMatch) {
    if (auto compiled = LogPattern::compile(svc.cfg.ready.log_regex); compiled.ok())
      svc.ready_pattern = std::move(compiled.value());
    else  // validated at load; keep procd alive regardless
      Log::write(LogLevel::Error, fmt::format("ready.log pattern: {}", compiled.error().message),
                 svc_fields(svc.cfg.name, 0, Code::ConfigInvalidRegex));
  }
  if (svc.cfg.uses_notify()) start_notify_server();
}

// NOTIFY_SOCKET is ours to give: notify services get procd's socket, the
// others never see the one of the manager that started procd.
void Supervisor::adjust_spawn_env(ServiceRunner& svc, std::vector<std::string>& env) {
  // The manager's NOTIFY_SOCKET / WATCHDOG_* were dropped by build_service_env.
  if (svc.cfg.uses_notify() && notify_) env.push_back("NOTIFY_SOCKET=" + notify_->path());
  if (svc.cfg.watchdog_ms > 0) env.push_back(fmt::format("WATCHDOG_USEC={}", std::min(svc.cfg.watchdog_ms, kMaxDurationMs) * 1000));
}

void Supervisor::on_run_started(ServiceRunner& svc) {
  svc.status_text.clear();
  svc.over_memory_samples = 0;
  svc.watchdog_due = 0;  // armed once the run is ready (on_phase), as systemd does
  if (svc.cfg.health.kind != HealthKind::None && cfg_.monitoring.health_checks) {
    HealthContext ctx;
    // The run's own request (its environment built once per start, env_file
    // included): the service's identity, limits and CPUs, never procd's.
    ctx.run = service_spawn_request(svc.cfg, cfg_.dir, svc.cgroup, svc.run_env);
    ServiceRunner* sp = &svc;
    svc.health = std::make_unique<HealthChecker>(&loop_, svc.cfg.health, std::move(ctx), *this,
                                                 [this, sp](HealthStatus st, const std::string& d) { on_health(*sp, st, d); });
    // A health-gated start checks early; a running service after one interval.
    auto first = svc.cfg.ready.kind == ReadyKind::Health ? std::min<std::int64_t>(svc.cfg.health.interval_ms, 200)
                                                         : svc.cfg.health.interval_ms;
    svc.health->start(static_cast<std::uint64_t>(first));
  }
}

// Called on every published phase: the watchdog starts with readiness (the
// start timeout bounds the start); what belongs to an ending run stops.
void Supervisor::on_phase(ServiceRunner& svc, Phase phase) {
  if (phase == Phase::Running && svc.cfg.watchdog_ms > 0) svc.watchdog_due = now() + svc.cfg.watchdog_ms;  // rearm() follows the step
  // Checks that failed while it was starting did not count (start_timeout_ms
  // bounds a start); now running, it is judged afresh: `retries` failures
  // from here restart it (the checker reports changes only, so start over).
  if (phase == Phase::Running && svc.health && svc.health->status() == HealthStatus::Unhealthy) {
    svc.health->stop();
    svc.health->start(static_cast<std::uint64_t>(svc.cfg.health.interval_ms));
  }
  if (phase == Phase::Stopping || phase == Phase::Stopped || phase == Phase::Failed || phase == Phase::Restarting) {
    svc.watchdog_due = 0;
    if (svc.health) {
      svc.health->stop();
      svc.health.reset();
    }
  }
}

ServiceRunner* Supervisor::service_of_pid(pid_t pid) {
  if (auto it = by_pid_.find(pid); it != by_pid_.end()) return it->second;
  pid_t pgid = pgid_of(pid);  // a helper process of the service, e.g. a forked worker
  if (pgid <= 1) return nullptr;
  for (auto& s : services_)
    if (s->state.pid > 0 && s->pgid == pgid) return s.get();
  return nullptr;
}

void Supervisor::on_notify(pid_t sender, const std::map<std::string, std::string>& fields) {
  ServiceRunner* svc = service_of_pid(sender);
  if (!svc || !svc->cfg.uses_notify()) {
    Log::write(LogLevel::Debug, fmt::format("notify message from pid {} ignored: no notify service owns it", sender));
    return;
  }
  if (auto it = fields.find("STATUS"); it != fields.end()) svc->status_text = it->second;
  if (auto it = fields.find("WATCHDOG"); it != fields.end() && it->second == "1" && svc->watchdog_due > 0) {
    svc->watchdog_due = now() + svc->cfg.watchdog_ms;  // each ping moves the deadline
    rearm(*svc);
  }
  if (auto it = fields.find("READY"); it != fields.end() && it->second == "1" && svc->cfg.ready.kind == ReadyKind::Notify &&
                                      svc->state.phase == Phase::Starting)
    dispatch(*svc, ev::Ready{});
}

void Supervisor::on_health(ServiceRunner& svc, HealthStatus status, const std::string& detail) {
  Log::write(status == HealthStatus::Unhealthy ? LogLevel::Warn : LogLevel::Info,
             fmt::format("health {}: {}", health_status_name(status), detail),
             svc_fields(svc.cfg.name, svc.state.pid, status == HealthStatus::Unhealthy ? std::optional<Code>(Code::TimeoutHealth) : std::nullopt));
  publish_event(svc, svc.state.phase);
  if (status == HealthStatus::Unknown) return;
  switch (react_to_health(svc.state.phase, svc.cfg.ready.kind, status == HealthStatus::Healthy)) {
    case HealthReaction::Ready: return dispatch(svc, ev::Ready{});
    case HealthReaction::Failed: return dispatch(svc, ev::HealthFailed{detail});
    case HealthReaction::None: return;
  }
}

void Supervisor::check_log_ready(ServiceRunner& svc, std::string_view line) {
  if (!svc.ready_pattern || svc.state.phase != Phase::Starting) return;
  if (svc.ready_pattern->search(line)) dispatch(svc, ev::Ready{});  // RE2: linear, no recursion
}

// Restart when RSS stays above the limit for two consecutive samples.
void Supervisor::check_memory(ServiceRunner& svc) {
  if (svc.cfg.memory_limit == 0 || svc.state.phase != Phase::Running) return;
  if (svc.rss_bytes <= svc.cfg.memory_limit) {
    svc.over_memory_samples = 0;
    return;
  }
  if (++svc.over_memory_samples < 2) return;
  svc.over_memory_samples = 0;
  Log::write(LogLevel::Warn, fmt::format("RSS {} bytes above memory_limit {} bytes", svc.rss_bytes, svc.cfg.memory_limit),
             svc_fields(svc.cfg.name, svc.state.pid, Code::ResourceMemoryLimit));
  dispatch(svc, ev::HealthFailed{"memory limit"});
}

}  // namespace procd
