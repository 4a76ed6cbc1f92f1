// What a service's processes run with, built in one place: the environment
// (procd's inherited one + env_file + the env table + PROCD_SERVICE, without
// the sd_notify variables of procd's own manager) and the SpawnRequest of a
// run. A command health check is the same request with its own argv, stdio
// and session, so the two can never drift apart again (0.2's health
// commands lost cpu_affinity).
#pragma once

#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/spawn.hpp"

namespace procd {

// The environment of a service's processes. NOTIFY_SOCKET and WATCHDOG_*
// inherited from procd's manager are removed here, the one place: only
// procd gives a service a notify socket (readiness.cpp).
Result<std::vector<std::string>> build_service_env(const ServiceConfig& svc, const std::vector<std::string>& base);

// The request of one run of `svc`: its command, identity, limits, working
// directory (`config_dir` when it has none), cgroup and environment.
SpawnRequest service_spawn_request(const ServiceConfig& svc, const std::string& config_dir, const std::string& cgroup,
                                   std::vector<std::string> env);

// A command health check of that service: `run` with the check's argv, stdio
// on /dev/null and a session of its own (a timeout kills the whole group).
SpawnRequest health_spawn_request(const SpawnRequest& run, const std::vector<std::string>& argv);

}  // namespace procd
