// Config diff for reload. A service counts as changed when any field of its
// ServiceConfig differs (command, env, restart, readiness, log, ...): all of
// them shape how the next run behaves, and a restart is the only way to
// apply most. Comparison is by value after path resolution, so an edit that
// only reorders or reformats the file changes nothing.
#include "procd/reload_diff.hpp"

#include <algorithm>
#include <tuple>

namespace procd {

bool operator==(const LoggingConfig& a, const LoggingConfig& b) {
  return std::tie(a.level, a.json, a.color, a.file, a.max_file_size, a.max_files) ==
         std::tie(b.level, b.json, b.color, b.file, b.max_file_size, b.max_files);
}
bool operator==(const ShutdownConfig& a, const ShutdownConfig& b) {
  return std::tie(a.graceful, a.force, a.kill) == std::tie(b.graceful, b.force, b.kill);
}
bool operator==(const MonitoringConfig& a, const MonitoringConfig& b) {
  return std::tie(a.enable_metrics, a.metrics_interval_ms, a.track_resources, a.health_checks) ==
         std::tie(b.enable_metrics, b.metrics_interval_ms, b.track_resources, b.health_checks);
}
bool operator==(const SignalsConfig& a, const SignalsConfig& b) {
  return a.sighup == b.sighup && a.forward == b.forward;
}
bool operator==(const ControlConfig& a, const ControlConfig& b) {
  return std::tie(a.socket, a.mode, a.group, a.http, a.http_token_file, a.http_allowed_hosts) ==
         std::tie(b.socket, b.mode, b.group, b.http, b.http_token_file, b.http_allowed_hosts);
}

ConfigDiff diff_configs(const Config& before, const Config& after) {
  ConfigDiff d;
  for (const auto& svc : after.services) {
    const ServiceConfig* old = before.find_service(svc.name);
    if (!old) d.added.push_back(svc.name);
    else if (*old == svc) d.kept.push_back(svc.name);
    else d.changed.push_back(svc.name);
  }
  for (const auto& svc : before.services)
    if (!after.find_service(svc.name)) d.removed.push_back(svc.name);
  // Instances of a replicated service go highest index first (issue 28).
  auto group_of = [&](const std::string& n) { return before.find_service(n)->group; };
  for (auto run = d.removed.begin(); run != d.removed.end();) {
    auto end = run + 1;
    while (end != d.removed.end() && !group_of(*run).empty() && group_of(*end) == group_of(*run)) ++end;
    std::reverse(run, end);
    run = end;
  }
  d.logging_changed = !(before.logging == after.logging);
  d.shutdown_changed = !(before.shutdown == after.shutdown);
  d.signals_changed = !(before.signals == after.signals);
  d.monitoring_changed = !(before.monitoring == after.monitoring);
  // [control].http and http_token_file apply live (Supervisor::reload_http).
  if (std::tie(before.control.socket, before.control.mode, before.control.group) !=
      std::tie(after.control.socket, after.control.mode, after.control.group))
    d.needs_procd_restart.push_back("control");
  if (before.pid_file != after.pid_file) d.needs_procd_restart.push_back("pid_file");
  if (before.name != after.name) d.needs_procd_restart.push_back("name");
  return d;
}

std::vector<ReloadAction> plan_reload(const ConfigDiff& diff, const std::vector<std::string>& wanted_up) {
  auto up = [&](const std::string& n) { return std::find(wanted_up.begin(), wanted_up.end(), n) != wanted_up.end(); };
  std::vector<ReloadAction> plan;
  for (const auto& n : diff.removed) plan.push_back({n, ReloadStep::Remove});
  for (const auto& n : diff.changed) plan.push_back({n, up(n) ? ReloadStep::Restart : ReloadStep::Reconfigure});
  for (const auto& n : diff.kept) plan.push_back({n, ReloadStep::Refresh});
  for (const auto& n : diff.added) plan.push_back({n, ReloadStep::Add});
  return plan;
}

}  // namespace procd
