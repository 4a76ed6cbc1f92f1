// Pure rules of supervision_rules.hpp.
#include "procd/supervision_rules.hpp"

#include <signal.h>

#include <algorithm>

namespace procd {

HealthReaction react_to_health(Phase phase, ReadyKind ready, bool healthy) {
  if (healthy) return phase == Phase::Starting && ready == ReadyKind::Health ? HealthReaction::Ready : HealthReaction::None;
  // Only a running service is failed by its checks: a start, whatever its
  // readiness kind, is bounded by start_timeout_ms alone (Docker's
  // start_period, Kubernetes' startupProbe).
  return phase == Phase::Running ? HealthReaction::Failed : HealthReaction::None;
}

namespace {

bool start_pending(const SettleView& s) {
  if (!s.autostart || s.removing) return false;
  return s.waiting || s.phase == Phase::Starting || s.phase == Phase::Restarting ||
         (s.phase == Phase::Stopped && s.want == Want::Up && !s.has_run);
}

}  // namespace

bool autostart_settled(const std::vector<SettleView>& services) {
  return std::none_of(services.begin(), services.end(), start_pending);
}

std::vector<std::size_t> not_ready(const std::vector<SettleView>& services) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < services.size(); ++i) {
    const SettleView& s = services[i];
    if (start_pending(s) || (s.autostart && !s.removing && s.phase == Phase::Failed)) out.push_back(i);
  }
  return out;
}

std::vector<int> watched_signals(const SignalsConfig& signals) {
  std::vector<int> out{SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1};
  out.insert(out.end(), signals.forward.begin(), signals.forward.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

SignalWatchChange signal_watch_change(const std::vector<int>& installed, const std::vector<int>& wanted) {
  SignalWatchChange c;
  auto has = [](const std::vector<int>& v, int s) { return std::find(v.begin(), v.end(), s) != v.end(); };
  for (int s : wanted)
    if (!has(installed, s)) c.install.push_back(s);
  for (int s : installed)
    if (!has(wanted, s)) c.uninstall.push_back(s);
  return c;
}

}  // namespace procd
