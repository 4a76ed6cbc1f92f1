// What a reload changes: the difference between the running Config and a
// freshly validated one, by service name. Pure (no I/O); the Supervisor
// applies it: start added, stop removed, restart changed, keep the rest
// running with the same PID. Top-level settings that cannot change live
// (control socket, pid_file) are reported as needing a restart of procd.
#pragma once

#include <string>
#include <vector>

#include "procd/config.hpp"

namespace procd {

struct ConfigDiff {
  std::vector<std::string> added;    // in the new file's order
  std::vector<std::string> removed;  // in the old file's order
  std::vector<std::string> changed;  // any key that affects how the service runs
  std::vector<std::string> kept;
  bool logging_changed = false;      // applied live
  bool shutdown_changed = false;     // applied live
  bool signals_changed = false;      // applied live
  bool monitoring_changed = false;   // applied live
  std::vector<std::string> needs_procd_restart;  // "control.socket", "pid_file", ...

  bool empty() const {
    return added.empty() && removed.empty() && changed.empty() && !logging_changed && !shutdown_changed &&
           !signals_changed && !monitoring_changed && needs_procd_restart.empty();
  }
};

ConfigDiff diff_configs(const Config& before, const Config& after);

// What a valid reload does to each service, by name.
enum class ReloadStep {
  Remove,       // stop it; forgotten once idle
  Restart,      // changed and wanted up: take the new config, stop, start again
  Reconfigure,  // changed but down: take the new config, stay down
  Refresh,      // unchanged: keep running with the same PID; live settings (timeouts) apply
  Add,          // new: create it; autostart decides whether it starts
};
struct ReloadAction {
  std::string service;
  ReloadStep step;
};
// `wanted_up` says whether a running service's user wants it up.
std::vector<ReloadAction> plan_reload(const ConfigDiff& diff, const std::vector<std::string>& kept_or_changed_wanted_up);

bool operator==(const LoggingConfig& a, const LoggingConfig& b);
bool operator==(const ShutdownConfig& a, const ShutdownConfig& b);
bool operator==(const MonitoringConfig& a, const MonitoringConfig& b);
bool operator==(const SignalsConfig& a, const SignalsConfig& b);
bool operator==(const ControlConfig& a, const ControlConfig& b);

}  // namespace procd
