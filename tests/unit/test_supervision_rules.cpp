// Health reactions (issue 10: a probe failing from the first check while
// min_uptime holds the service in starting), readiness of the whole, and
// the signal watch set across reloads.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>

#include "procd/supervision_rules.hpp"

using namespace procd;
using R = HealthReaction;

TEST_CASE("health: unhealthy fails a running service; a start is bounded by start_timeout_ms alone") {
  CHECK(react_to_health(Phase::Running, ReadyKind::Started, false) == R::Failed);
  CHECK(react_to_health(Phase::Running, ReadyKind::Notify, false) == R::Failed);
  // Still starting (Docker's start_period, Kubernetes' startupProbe): failed
  // checks do not end the start, whatever the readiness kind.
  for (ReadyKind k : {ReadyKind::MinUptime, ReadyKind::Notify, ReadyKind::LogMatch, ReadyKind::Health})
    CHECK(react_to_health(Phase::Starting, k, false) == R::None);
  for (Phase p : {Phase::Stopping, Phase::Stopped, Phase::Failed, Phase::Restarting})
    CHECK(react_to_health(p, ReadyKind::Started, false) == R::None);
}

TEST_CASE("health: healthy makes a health-gated start ready, nothing else") {
  CHECK(react_to_health(Phase::Starting, ReadyKind::Health, true) == R::Ready);
  CHECK(react_to_health(Phase::Starting, ReadyKind::MinUptime, true) == R::None);
  CHECK(react_to_health(Phase::Running, ReadyKind::Health, true) == R::None);
}

TEST_CASE("readiness of the whole") {
  SettleView up{true, false, false, Phase::Running, Want::Up, false};
  SettleView starting{true, false, false, Phase::Starting, Want::Up, false};
  SettleView failed{true, false, false, Phase::Failed, Want::Up, true};
  SettleView manual{false, false, false, Phase::Starting, Want::Up, false};
  SettleView waiting{true, false, true, Phase::Stopped, Want::Down, false};
  SettleView completed{true, false, false, Phase::Stopped, Want::Up, true};
  SettleView not_yet{true, false, false, Phase::Stopped, Want::Up, false};
  SettleView removing = starting;
  removing.removing = true;
  CHECK(autostart_settled({}));
  CHECK(autostart_settled({up, failed, manual, completed, removing}));
  CHECK_FALSE(autostart_settled({up, starting}));
  CHECK_FALSE(autostart_settled({up, waiting}));
  CHECK_FALSE(autostart_settled({not_yet}));
  SettleView restarting = up;
  restarting.phase = Phase::Restarting;
  CHECK_FALSE(autostart_settled({restarting}));
}

TEST_CASE("signals: a forward removed by reload is uninstalled") {
  SignalsConfig before;
  before.forward = {SIGUSR2, SIGWINCH, SIGUSR1, SIGTSTP};
  SignalsConfig after;
  after.forward = {SIGUSR2};
  auto was = watched_signals(before);
  auto now = watched_signals(after);
  CHECK(std::count(was.begin(), was.end(), SIGUSR1) == 1);  // base and forward: once
  auto c = signal_watch_change(was, now);
  CHECK(c.install.empty());
  CHECK(c.uninstall == std::vector<int>{SIGTSTP, SIGWINCH});
  auto back = signal_watch_change(now, was);
  CHECK(back.install == std::vector<int>{SIGTSTP, SIGWINCH});
  CHECK(back.uninstall.empty());
}

TEST_CASE("signals: every signal that would end procd is watched, forwarded or not") {
  SignalsConfig none;
  none.forward = {};
  auto w = watched_signals(none);
  auto has = [&](int s) { return std::find(w.begin(), w.end(), s) != w.end(); };
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGSTKFLT, SIGXCPU, SIGXFSZ,
                SIGVTALRM, SIGPROF, SIGIO, SIGPWR})
    CHECK_MESSAGE(has(s), s);
  for (int s = SIGRTMIN; s <= SIGRTMAX; ++s) CHECK_MESSAGE(has(s), s);
  // Uncatchable, faults, ignored, job control, harmless: left at their default.
  for (int s : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT, SIGPIPE, SIGTSTP, SIGTTIN,
                SIGTTOU, SIGCONT, SIGWINCH, SIGURG})
    CHECK_MESSAGE(!has(s), s);
  for (int s = 32; s < SIGRTMIN; ++s) CHECK_MESSAGE(!has(s), s);  // glibc's reserved ones
  CHECK(std::is_sorted(w.begin(), w.end()));
  CHECK(std::adjacent_find(w.begin(), w.end()) == w.end());
  // A forward of a harmless or job-control signal adds it.
  SignalsConfig winch;
  winch.forward = {SIGWINCH, SIGTSTP};
  auto w2 = watched_signals(winch);
  CHECK(w2.size() == w.size() + 2);
}
