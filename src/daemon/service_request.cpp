// One builder for what a service's processes run with: see service_request.hpp.
#include "procd/service_request.hpp"

#include <fmt/format.h>

#include <map>
#include <string_view>

#include "procd/env_file.hpp"

namespace procd {
namespace {

// Ordered "K=V" list where a later definition replaces an earlier one in place.
class EnvList {
 public:
  void set(std::string_view key, std::string_view value) {
    std::string kv = fmt::format("{}={}", key, value);
    auto [it, fresh] = index_.try_emplace(std::string(key), list_.size());
    if (fresh) list_.push_back(std::move(kv));
    else list_[it->second] = std::move(kv);
  }
  std::vector<std::string> take() { return std::move(list_); }

 private:
  std::vector<std::string> list_;
  std::map<std::string, std::size_t> index_;
};

bool manager_notify_var(std::string_view key) { return key == "NOTIFY_SOCKET" || key.starts_with("WATCHDOG_"); }

}  // namespace

Result<std::vector<std::string>> build_service_env(const ServiceConfig& svc, const std::vector<std::string>& base) {
  EnvList env;
  for (const auto& kv : base) {
    std::size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string_view key = std::string_view(kv).substr(0, eq);
    if (!manager_notify_var(key)) env.set(key, std::string_view(kv).substr(eq + 1));
  }
  if (!svc.env_file.empty()) {
    auto vars = read_env_file(svc.env_file);
    if (!vars) return vars.error();
    for (const auto& [k, v] : *vars) env.set(k, v);
  }
  for (const auto& [k, v] : svc.env) env.set(k, v);
  env.set("PROCD_SERVICE", svc.name);
  return env.take();
}

SpawnRequest service_spawn_request(const ServiceConfig& svc, const std::string& config_dir, const std::string& cgroup,
                                   std::vector<std::string> env) {
  SpawnRequest req;
  req.cgroup = cgroup;
  req.argv = svc.command;
  req.working_dir = svc.working_dir.empty() ? config_dir : svc.working_dir;
  req.user = svc.user;
  req.umask = svc.umask;
  req.nice = svc.nice;
  req.rlimits = svc.rlimits;
  req.cpu_affinity = svc.cpu_affinity;
  req.merge_stderr = false;  // every line keeps its stream; files merge them (or not) as configured
  req.env = std::move(env);
  return req;
}

SpawnRequest health_spawn_request(const SpawnRequest& run, const std::vector<std::string>& argv) {
  SpawnRequest req = run;
  req.argv = argv;
  req.stdio = SpawnStdio::Null;
  req.group = SpawnGroup::NewSession;
  req.extra_fds.clear();
  req.take_terminal = false;
  return req;
}

}  // namespace procd
