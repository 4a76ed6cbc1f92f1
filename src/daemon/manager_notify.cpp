// procd's own sd_notify messages to the service manager that started it
// (systemd Type=notify; any listener on $NOTIFY_SOCKET): READY=1 once every
// autostart service has settled (running, or ended/failed: systemd should
// not time out because one service is broken — status and the log say so),
// STATUS= with counts on each change, RELOADING=1 + MONOTONIC_USEC then
// READY=1 around a reload, STOPPING=1 at shutdown, and WATCHDOG=1 at half
// of WATCHDOG_USEC. Nothing here runs when NOTIFY_SOCKET is unset.
#include <fmt/core.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

#include "procd/logging.hpp"
#include "procd/notify.hpp"
#include "procd/supervision_rules.hpp"
#include "procd/supervisor.hpp"

namespace procd {
namespace {

void send(const std::string& msg) {
  if (auto r = notify_manager(msg); !r.ok())
    Log::write(LogLevel::Debug, fmt::format("sd_notify to the service manager failed: {}", r.error().message),
               code_fields(r.error().code));
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

void Supervisor::manager_start() {
  if (!manager_notify_enabled()) return;
  manager_active_ = true;  // from here on (after autostart requests) READY=1 may go out
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* wpid = std::getenv("WATCHDOG_PID");
  if (usec && (!wpid || std::atol(wpid) == ::getpid())) {
    std::uint64_t period_ms = std::strtoull(usec, nullptr, 10) / 2000;  // half the timeout, in ms
    if (period_ms > 0) {
      manager_watchdog_.init(&loop_, [] { send("WATCHDOG=1"); });
      manager_watchdog_.schedule_repeating(static_cast<Millis>(period_ms));
    }
  }
  manager_update();
}

void Supervisor::manager_update() {
  if (!manager_active_) return;
  int running = 0, starting = 0, stopped = 0, failed = 0;
  for (auto& s : services_) {
    switch (s->state.phase) {
      case Phase::Running: ++running; break;
      case Phase::Failed: ++failed; break;
      case Phase::Stopped: ++stopped; break;
      default: ++starting; break;
    }
  }
  std::vector<SettleView> views = settle_views();
  std::string status = fmt::format("STATUS={} running, {} starting, {} stopped, {} failed", running, starting, stopped, failed);
  if (!manager_ready_sent_ && !ladder_.active() && autostart_settled(views)) {
    manager_ready_sent_ = true;
    send("READY=1\n" + status);
    return;
  }
  if (status != manager_last_status_) send(status);
  manager_last_status_ = status;
}

std::vector<SettleView> Supervisor::settle_views() const {
  std::vector<SettleView> views;
  views.reserve(services_.size());
  for (auto& s : services_)
    views.push_back({s->cfg.autostart, s->removing, s->waiting, s->state.phase, s->state.want, s->state.last_exit.has_value()});
  return views;
}

void Supervisor::manager_reloading() {
  if (manager_notify_enabled()) send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
}

void Supervisor::manager_reloaded() {
  if (manager_notify_enabled()) send("READY=1");
}

void Supervisor::manager_stopping() {
  if (!manager_notify_enabled()) return;
  send("STOPPING=1");
  manager_watchdog_.cancel();
}

}  // namespace procd
