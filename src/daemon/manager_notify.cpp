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
#include "procd/manager_notifier.hpp"

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

void ManagerNotifier::start(uv_loop_t* loop, const std::vector<SettleView>& services) {
  if (!manager_notify_enabled()) return;
  active_ = true;  // from here on (after autostart requests) READY=1 may go out
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* wpid = std::getenv("WATCHDOG_PID");
  if (usec && (!wpid || std::atol(wpid) == ::getpid())) {
    std::uint64_t period_ms = std::strtoull(usec, nullptr, 10) / 2000;  // half the timeout, in ms
    if (period_ms > 0) {
      watchdog_.init(loop, [] { send("WATCHDOG=1"); });
      watchdog_.schedule_repeating(static_cast<Millis>(period_ms));
    }
  }
  update(services, false);
}

void ManagerNotifier::update(const std::vector<SettleView>& services, bool shutting_down) {
  if (!active_) return;
  int running = 0, starting = 0, stopped = 0, failed = 0;
  for (const auto& s : services) {
    switch (s.phase) {
      case Phase::Running: ++running; break;
      case Phase::Failed: ++failed; break;
      case Phase::Stopped: ++stopped; break;
      default: ++starting; break;
    }
  }
  std::string status = fmt::format("STATUS={} running, {} starting, {} stopped, {} failed", running, starting, stopped, failed);
  if (!ready_sent_ && !shutting_down && autostart_settled(services)) {
    ready_sent_ = true;
    send("READY=1\n" + status);
    return;
  }
  if (status != last_status_) send(status);
  last_status_ = status;
}

void ManagerNotifier::reloading() {
  if (manager_notify_enabled()) send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
}

void ManagerNotifier::reloaded() {
  if (manager_notify_enabled()) send("READY=1");
}

void ManagerNotifier::stopping() {
  if (!manager_notify_enabled()) return;
  send("STOPPING=1");
  watchdog_.cancel();
}

}  // namespace procd
