// Lifecycle hooks: the pure decisions (see procd/hooks.hpp).
#include "procd/hooks.hpp"

#include <fmt/core.h>

#include "procd/signal_names.hpp"

namespace procd {

const char* hook_name(HookKind kind) {
  switch (kind) {
    case HookKind::PreStart: return "pre_start";
    case HookKind::StopCommand: return "stop_command";
    case HookKind::PostStop: return "post_stop";
    case HookKind::Reload: return "reload_command";
  }
  return "hook";
}

const std::vector<std::string>& hook_argv(const ServiceConfig& svc, HookKind kind) {
  switch (kind) {
    case HookKind::PreStart: return svc.pre_start;
    case HookKind::StopCommand: return svc.stop_command;
    case HookKind::PostStop: return svc.post_stop;
    case HookKind::Reload: return svc.reload_command;
  }
  return svc.pre_start;
}

bool has_hook(const ServiceConfig& svc, HookKind kind) { return !hook_argv(svc, kind).empty(); }

Millis hook_timeout(HookKind kind, Millis start_timeout_ms, Millis stop_timeout_ms) {
  const Millis t = kind == HookKind::PreStart || kind == HookKind::Reload ? start_timeout_ms : stop_timeout_ms;
  return t > 0 ? t : 1;  // a 0 ms stop timeout still lets the hook be spawned and killed through the loop
}

HookVerdict judge_hook(HookKind kind, const HookEnd& end, Millis timeout_ms) {
  const char* name = hook_name(kind);
  if (!end.spawn_error.empty()) {
    // "command not found: x (...)": the detail in parentheses stays in procd's log.
    auto cut = end.spawn_error.find(" (");
    return {false, fmt::format("{}: {}", name, cut == std::string::npos ? end.spawn_error : end.spawn_error.substr(0, cut))};
  }
  if (end.timed_out) return {false, fmt::format("{} timed out after {} ms", name, timeout_ms)};
  if (end.signal > 0) return {false, fmt::format("{} killed by {}", name, signal_name(end.signal))};
  if (end.code != 0) return {false, fmt::format("{} exited {}", name, end.code)};
  return {true, fmt::format("{} exited 0", name)};
}

bool is_pre_start_failure(const std::string& spawn_error) { return spawn_error.rfind("pre_start", 0) == 0; }

void add_hook_env(std::vector<std::string>& env, HookKind kind, const HookVars& vars) {
  auto set = [&env](const std::string& key, const std::string& value) {
    std::string kv = key + "=" + value;
    for (auto& e : env)
      if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=') {
        e = std::move(kv);
        return;
      }
    env.push_back(std::move(kv));
  };
  set("PROCD_HOOK", hook_name(kind));
  if (vars.mainpid > 0) set("PROCD_MAINPID", std::to_string(vars.mainpid));
  if (kind != HookKind::PostStop || !vars.run_ended) return;
  std::string code, sig;
  if (vars.exit) {
    code = std::to_string(vars.exit->signal > 0 ? 128 + vars.exit->signal : vars.exit->code);
    if (vars.exit->signal > 0) sig = signal_name(vars.exit->signal);
  }
  set("PROCD_EXIT_CODE", code);
  set("PROCD_EXIT_SIGNAL", sig);
}

ReloadWay reload_way(const ServiceConfig& svc) {
  if (!svc.reload_command.empty()) return ReloadWay::Command;
  if (svc.reload_signal > 0) return ReloadWay::Signal;
  return ReloadWay::Restart;
}

}  // namespace procd
