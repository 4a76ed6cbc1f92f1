// Small pure rules the Supervisor applies at its edges, each unit-tested:
//  - how a health status change acts on a service's machine;
//  - when the supervisor as a whole is ready (READY=1 to its manager, and
//    later /readyz): every autostart service has settled;
//  - which signals procd watches for a [signals] section (every one that
//    would otherwise end it), and how the installed set changes on reload
//    (a removed forward of a harmless signal is uninstalled).
#pragma once

#include <vector>

#include "procd/config.hpp"
#include "procd/service_machine.hpp"

namespace procd {

enum class HealthReaction { None, Ready, Failed };

// A health check reported a change. Healthy makes a health-gated start
// ready. Unhealthy fails a running service only: a start (whatever its
// readiness kind) is bounded by start_timeout_ms, as Docker's start_period
// and Kubernetes' startupProbe.
HealthReaction react_to_health(Phase phase, ReadyKind ready, bool healthy);

// What readiness-of-the-whole sees of one service.
struct SettleView {
  bool autostart = false;
  bool removing = false;    // dropped by a reload
  bool waiting = false;     // wants up, held back by its dependencies
  Phase phase = Phase::Stopped;
  Want want = Want::Down;
  bool has_run = false;     // it has exited at least once (last_exit known)
};

// Every autostart service is running, or has ended (stopped or failed: a
// broken service must not hold the whole start; status and the log say so).
bool autostart_settled(const std::vector<SettleView>& services);

// /readyz: the positions of the autostart services that hold READY=1 back,
// and of those that failed for good (settled for READY=1, but a readiness
// probe must not call a replica with a failed service ready).
std::vector<std::size_t> not_ready(const std::vector<SettleView>& services);

// Signals procd watches, sorted, without duplicates: every catchable signal
// whose default action would end procd (the ones it acts on: CHLD, TERM,
// INT, QUIT, HUP, USR1; the ones it logs and ignores: USR2, ALRM, XCPU,
// PWR, SIGRTMIN..SIGRTMAX...), plus every forwarded signal. Left at their
// default unless forwarded: KILL, STOP, the faults (SEGV, BUS, FPE, ILL,
// TRAP, SYS, ABRT: a real crash still kills procd), PIPE (procd ignores
// it), TSTP, TTIN, TTOU, CONT (job control), WINCH and URG (harmless).
std::vector<int> watched_signals(const SignalsConfig& signals);

struct SignalWatchChange {
  std::vector<int> install;    // wanted, not installed yet
  std::vector<int> uninstall;  // installed, no longer wanted
};
SignalWatchChange signal_watch_change(const std::vector<int>& installed, const std::vector<int>& wanted);

}  // namespace procd
