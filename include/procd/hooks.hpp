// Lifecycle hooks (SPEC Part 2 "Hooks", Part 3 "Replicas and hooks"): the
// pure decisions — which hook runs when, how long it may take, what its end
// means, the variables it gets and what `procd reload NAME` does. The edge
// (spawning through SystemCalls, reaping, the timer, output) is
// src/daemon/service_hooks.cpp.
//
//  - pre_start runs before every spawn of the main command; the main command
//    is spawned only after it exited 0. Its non-zero exit, a signal, a spawn
//    error or its timeout (start_timeout_ms) is a failed start whose reason
//    starts with "pre_start" (reason code "pre-start-failed").
//  - stop_command runs instead of sending stop_signal; the stop timeout and
//    SIGKILL still apply. It gets PROCD_MAINPID.
//  - post_stop runs after every run ends (exit seen, output drained), before
//    procd acts on that end: a restart waits for it. Bounded by the stop
//    timeout. It gets PROCD_EXIT_CODE (procd's exit code of the run: the
//    code, or 128+N for signal N) and PROCD_EXIT_SIGNAL ("SIGTERM", or empty
//    when the run exited by itself; empty both when it never started).
//  - `procd reload NAME`: reload_signal is sent (the pid stays), or
//    reload_command runs (bounded by start_timeout_ms; non-zero = the verb
//    fails), or, with neither, the service is restarted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/restart_policy.hpp"

namespace procd {

enum class HookKind : std::uint8_t { PreStart, StopCommand, PostStop, Reload };
constexpr int kHookKinds = 4;

const char* hook_name(HookKind kind);  // "pre_start", "stop_command", "post_stop", "reload_command"
const std::vector<std::string>& hook_argv(const ServiceConfig& svc, HookKind kind);
bool has_hook(const ServiceConfig& svc, HookKind kind);

// How long a hook may run before it is killed (and counted as failed).
Millis hook_timeout(HookKind kind, Millis start_timeout_ms, Millis stop_timeout_ms);

// How a hook ended: exited with `code`, killed by `signal`, timed out after
// its bound, or never spawned (`spawn_error`).
struct HookEnd {
  int code = 0;
  int signal = 0;
  bool timed_out = false;
  std::string spawn_error;
};
struct HookVerdict {
  bool ok = false;
  std::string reason;  // "pre_start exited 3", "pre_start timed out after 500 ms", ...
};
HookVerdict judge_hook(HookKind kind, const HookEnd& end, Millis timeout_ms);

// A spawn error that came from pre_start (its reason code is "pre-start-failed").
bool is_pre_start_failure(const std::string& spawn_error);

// The variables a hook gets on top of the service's environment.
struct HookVars {
  int mainpid = 0;                  // > 0: PROCD_MAINPID
  std::optional<ExitStatus> exit;   // post_stop: the run's end (none: it never started)
  bool run_ended = false;           // post_stop: PROCD_EXIT_CODE / PROCD_EXIT_SIGNAL are set
};
void add_hook_env(std::vector<std::string>& env, HookKind kind, const HookVars& vars);

// What `procd reload NAME` does for a service.
enum class ReloadWay : std::uint8_t { Signal, Command, Restart };
ReloadWay reload_way(const ServiceConfig& svc);

}  // namespace procd
