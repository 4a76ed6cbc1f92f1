// Readiness and health at the Supervisor's edge: the sd_notify socket for
// `ready = "notify"` services (READY=1, STATUS=, WATCHDOG=1 — each ping
// moves the service's watchdog deadline), the log-line
// readiness pattern (RE2, compiled once per config), health checkers (started with each run, stopped when it
// stops), and the memory limit. Each turns into a machine event (Ready or
// HealthFailed) through dispatch(); the policy decides what happens next.
#include <fmt/core.h>
#include <signal.h>

#include <algorithm>
#include <charconv>

#include "procd/logging.hpp"
#include "procd/service_request.hpp"
#include "procd/spawn.hpp"
#include "procd/supervision_rules.hpp"
#include "procd/service.hpp"

namespace procd {
void Service::setup_readiness() {
  ready_pattern_.reset();
  if (cfg_->ready.kind == ReadyKind::LogMatch) {
    if (auto compiled = LogPattern::compile(cfg_->ready.log_regex); compiled.ok())
      ready_pattern_ = std::make_unique<LogPattern>(std::move(compiled.value()));
    else  // validated at load; keep procd alive regardless
      Log::write(LogLevel::Error, fmt::format("ready.log pattern: {}", compiled.error().message),
                 svc_fields(cfg_->name, 0, Code::ConfigInvalidRegex));
  }
  if (cfg_->uses_notify()) host_.notify_socket();  // the socket exists before the first run
}

// NOTIFY_SOCKET is ours to give: notify services get procd's socket, the
// others never see the one of the manager that started procd.
void Service::adjust_spawn_env(std::vector<std::string>& env) {
  // The manager's NOTIFY_SOCKET / WATCHDOG_* were dropped by build_service_env.
  if (cfg_->uses_notify())
    if (std::string path = host_.notify_socket(); !path.empty()) env.push_back("NOTIFY_SOCKET=" + path);
  if (cfg_->watchdog_ms > 0) env.push_back(fmt::format("WATCHDOG_USEC={}", std::min(cfg_->watchdog_ms, kMaxDurationMs) * 1000));
  env.push_back(fmt::format("PROCD_STOP_TIMEOUT_MS={}", spec_.stop_timeout_ms));  // issue 28: its stop budget
}

void Service::on_run_started() {
  status_text_.clear();
  over_memory_samples_ = 0;
  watchdog_due_ = 0;  // armed once the run is ready (on_phase), as systemd does
  if (cfg_->health.kind != HealthKind::None && host_.config().monitoring.health_checks) {
    HealthContext ctx;
    // The run's own request (its environment built once per start, env_file
    // included): the service's identity, limits and CPUs, never procd's.
    ctx.run = service_spawn_request(*cfg_, host_.config().dir, cgroup_, run_env_);
    ctx.sys = &host_.sys();
    health_ = std::make_unique<HealthChecker>(host_.loop(), cfg_->health, std::move(ctx), host_.reaper(),
                                              [this](HealthStatus st, const std::string& d) { on_health(st, d); });
    // A health-gated start checks early; a running service after one interval.
    auto first = cfg_->ready.kind == ReadyKind::Health ? std::min<std::int64_t>(cfg_->health.interval_ms, 200)
                                                         : cfg_->health.interval_ms;
    health_->start(static_cast<std::uint64_t>(first));
  }
}

// Called on every published phase: the watchdog starts with readiness (the
// start timeout bounds the start); what belongs to an ending run stops.
void Service::on_phase(Phase phase) {
  if (phase == Phase::Running && cfg_->watchdog_ms > 0) watchdog_due_ = host_.now() + cfg_->watchdog_ms;  // rearm() follows the step
  // Checks that failed while it was starting did not count (start_timeout_ms
  // bounds a start); now running, it is judged afresh: `retries` failures
  // from here restart it (the checker reports changes only, so start over).
  // Only while the main process lives: once it is reaped (a drain, then
  // post_stop, may still run before the machine hears of the exit) there is
  // nothing to check, and a command check would run outside any run.
  if (phase == Phase::Running && health_ && health_->status() == HealthStatus::Unhealthy &&
      drain_.phase() == DrainPhase::Running) {
    health_->stop();
    health_->start(static_cast<std::uint64_t>(cfg_->health.interval_ms));
  }
  if (phase == Phase::Stopping || phase == Phase::Stopped || phase == Phase::Failed || phase == Phase::Restarting) {
    watchdog_due_ = 0;
    if (health_) {
      health_->stop();
      health_.reset();
    }
  }
}

void Service::on_notify(const std::map<std::string, std::string>& fields) {
  if (auto it = fields.find("STATUS"); it != fields.end()) status_text_ = it->second;
  if (auto it = fields.find("WATCHDOG"); it != fields.end() && it->second == "1" && watchdog_due_ > 0) {
    watchdog_due_ = host_.now() + cfg_->watchdog_ms;  // each ping moves the deadline
    rearm();
  }
  if (auto it = fields.find("READY"); it != fields.end() && it->second == "1" && cfg_->ready.kind == ReadyKind::Notify &&
                                      state_.phase == Phase::Starting)
    host_.dispatch(*this, ev::Ready{});
  if (auto it = fields.find("EXTEND_TIMEOUT_USEC"); it != fields.end()) {  // issue 28 (stop_budget.hpp)
    std::uint64_t usec = 0;
    auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), usec);
    if (ec == std::errc() && end == it->second.data() + it->second.size())
      host_.dispatch(*this, ev::ExtendTimeout{usec, host_.extend_cap()});
  }
}

void Service::on_health(HealthStatus status, const std::string& detail) {
  Log::write(status == HealthStatus::Unhealthy ? LogLevel::Warn : LogLevel::Info,
             fmt::format("health {}: {}", health_status_name(status), detail),
             svc_fields(cfg_->name, state_.pid, status == HealthStatus::Unhealthy ? std::optional<Code>(Code::TimeoutHealth) : std::nullopt));
  if (status != HealthStatus::Unknown) tell(fmt::format("health {}: {}", health_status_name(status), detail));
  host_.health_changed(*this);
  if (status == HealthStatus::Unknown) return;
  switch (react_to_health(state_.phase, cfg_->ready.kind, status == HealthStatus::Healthy)) {
    case HealthReaction::Ready: return host_.dispatch(*this, ev::Ready{});
    case HealthReaction::Failed: return host_.dispatch(*this, ev::HealthFailed{detail, FailKind::Unhealthy, std::max(1, cfg_->health.retries)});
    case HealthReaction::None: return;
  }
}

void Service::check_log_ready(std::string_view line) {
  if (!ready_pattern_ || state_.phase != Phase::Starting) return;
  if (ready_pattern_->search(line)) host_.dispatch(*this, ev::Ready{});  // RE2: linear, no recursion
}

// Restart when RSS stays above the limit for two consecutive samples.
void Service::check_memory() {
  if (cfg_->memory_limit == 0 || state_.phase != Phase::Running) return;
  if (stats_.rss_bytes <= cfg_->memory_limit) {
    over_memory_samples_ = 0;
    return;
  }
  if (++over_memory_samples_ < 2) return;
  over_memory_samples_ = 0;
  Log::write(LogLevel::Warn, fmt::format("RSS {} bytes above memory_limit {} bytes", stats_.rss_bytes, cfg_->memory_limit),
             svc_fields(cfg_->name, state_.pid, Code::ResourceMemoryLimit));
  host_.dispatch(*this, ev::HealthFailed{"memory limit", FailKind::MemoryLimit});
}

}  // namespace procd
