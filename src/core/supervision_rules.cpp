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

namespace {

// Left at their default action unless forwarded: the uncatchable ones, the
// faults (a real crash must still kill procd), SIGPIPE (ignored: EPIPE),
// job control (stop and continue, never fatal) and those ignored by default.
bool left_default(int s) {
  switch (s) {
    case SIGKILL: case SIGSTOP:
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS: case SIGABRT:
    case SIGPIPE:
    case SIGTSTP: case SIGTTIN: case SIGTTOU: case SIGCONT:
    case SIGWINCH: case SIGURG:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::vector<int> watched_signals(const SignalsConfig& signals) {
  std::vector<int> out;
  // Every catchable signal whose default would end procd: the ones it acts
  // on (CHLD, TERM, INT, QUIT, HUP, USR1) and the ones it logs and ignores.
  // Standard signals are 1..31 on Linux; the kernel's real-time ones start
  // at 32, glibc reserves the first few and moves SIGRTMIN past them.
  for (int s = 1; s <= SIGRTMAX; ++s)
    if ((s < 32 || s >= SIGRTMIN) && !left_default(s)) out.push_back(s);
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
