// issue 28, the main service: `main = true` on at most one service, whose
// restart policy is ignored (warning) and which always starts; and
// `procd run -- CMD ARGS...`, which adds a service named "main".
#include <fmt/format.h>

#include "procd/config_load.hpp"
#include "src/config/config_internal.hpp"

namespace procd::config_detail {

void check_main_services(const Config& config, const toml::value& root, Diagnostics& diag) {
  const toml::value* services = child(&root, "services");
  const ServiceConfig* first = nullptr;
  for (const auto& svc : config.services) {
    if (!svc.main) continue;
    const toml::value* table = child(services, svc.table_name());
    const toml::value* at = child(table, "main");
    if (table == nullptr || at == nullptr) continue;
    const std::string base = "services." + svc.table_name();
    if (!svc.group.empty()) {  // every instance would be the main: one error, on the first
      if (svc.instance == 0)
        diag.add(Code::ConfigMainTwice, *at, base + ".main",
                 "a replicated service cannot be the main one (each of its instances would be); remove replicas or main");
      continue;
    }
    if (first != nullptr) {
      diag.add(Code::ConfigMainTwice, *at, base + ".main",
               fmt::format("main = true is already set on service \"{}\"; only one service can be the main one",
                           first->name));
      continue;
    }
    first = &svc;
    if (const toml::value* restart = child(table, "restart"))
      diag.warn(Code::ConfigMainRestartIgnored, *restart, base + ".restart",
                "the main service is never restarted: when its run ends, procd shuts down with its exit code");
    if (!svc.autostart)
      diag.add(Code::ConfigMainNotAutostart, *child(table, "autostart"), base + ".autostart",
               "the main service always starts with procd (its end ends procd); remove autostart = false");
  }
}

}  // namespace procd::config_detail

namespace procd {

Result<void> add_run_command(Config& config, const std::vector<std::string>& command) {
  if (command.empty()) return make_error(Code::ConfigEmptyCommand, "procd run --: no command after --");
  if (config.find_service("main") != nullptr)
    return make_error(Code::ConfigMainNameTaken,
                      fmt::format("procd run -- CMD adds a service named \"main\", but {} already has one; rename it",
                                  config.path));
  for (const auto& svc : config.services)
    if (svc.main)
      return make_error(Code::ConfigMainTwice,
                        fmt::format("procd run -- CMD adds the main service, but service \"{}\" in {} has main = true",
                                    svc.name, config.path));
  ServiceConfig main;
  main.name = "main";
  main.command = command;
  main.main = true;
  main.health.interval_ms = config.monitoring.health_check_interval_ms;
  config.services.push_back(std::move(main));
  config.run_command = command;
  return {};
}

}  // namespace procd
