// issue 28: replicas. One [services.NAME] table with `replicas = N` becomes
// N ServiceConfigs NAME@0 … NAME@N-1 (a table without the key stays the one
// service NAME, instance 0). Each instance gets PROCD_INSTANCE=i and, with
// `port = P`, PROCD_PORT=P+i, in its environment and in its own strings
// (interpolation left the marks kInstanceMark / kPortMark there).
// Invariants: instances never share a log file (a located error otherwise);
// ${PROCD_PORT} without `port` is an error; a health target with a mark is
// parsed per instance; the group's count and rolling settings live in
// ReplicaGroup, which ServiceConfig's == ignores, so kept instances compare
// equal when only the count changes.
#include <fmt/format.h>

#include <map>

#include "procd/health_target.hpp"
#include "src/config/config_internal.hpp"

namespace procd::config_detail {
namespace {

bool has_mark(const std::string& s) { return s.find(kInstanceMark) != std::string::npos || s.find(kPortMark) != std::string::npos; }
bool has_port_mark(const std::string& s) { return s.find(kPortMark) != std::string::npos; }

void replace_all(std::string& s, std::string_view mark, const std::string& value) {
  for (auto at = s.find(mark); at != std::string::npos; at = s.find(mark, at + value.size())) s.replace(at, mark.size(), value);
}

// Every string of the service that may hold a mark, with the key it came from.
template <class F>
void for_each_string(ServiceConfig& svc, F&& f) {
  for (auto& arg : svc.command) f(arg, "command");
  for (auto& [name, value] : svc.env) f(value, "env");
  f(svc.env_file, "env_file");
  f(svc.working_dir, "working_dir");
  f(svc.user, "user");
  f(svc.health.target, "health");
  for (auto& arg : svc.health.command) f(arg, "health");
  f(svc.log.file, "log");
  f(svc.log.stderr_file, "log");
  f(svc.ready.log_regex, "ready");
}

void read_group(TableReader& t, ServiceConfig& svc) {
  if (const toml::value* v = t.find("replicas")) {
    if (!v->is_integer()) t.wrong_type("replicas", *v, "an integer from 1 to 1000");
    else if (v->as_integer() < 1 || v->as_integer() > kMaxReplicas)
      t.error(Code::ConfigReplicasOutOfRange, "replicas", fmt::format("replicas must be from 1 to {}, found {}", kMaxReplicas, v->as_integer()));
    else svc.replica_group.replicas = static_cast<int>(v->as_integer());
  }
  const int n = svc.replica_group.replicas;
  if (const toml::value* v = t.find("port")) {
    if (!v->is_integer()) t.wrong_type("port", *v, "a port number from 1 to 65535");
    else if (v->as_integer() < 1 || v->as_integer() + n - 1 > 65535)
      t.error(Code::ConfigReplicasOutOfRange, "port",
              fmt::format("port {} with {} replica(s) needs ports {}..{}; ports go from 1 to 65535", v->as_integer(), n,
                          v->as_integer(), v->as_integer() + n - 1));
    else svc.port = static_cast<int>(v->as_integer());
  }
  if (auto v = t.one_of("rolling", {"stop-first", "start-first"})) {
    svc.replica_group.start_first = *v == "start-first";  // (error 1050, "not supported yet", is no longer emitted)
  }
  if (const toml::value* v = t.find("max_unavailable")) {
    if (!v->is_integer()) t.wrong_type("max_unavailable", *v, "an integer from 1 to replicas");
    else if (v->as_integer() < 1 || v->as_integer() > n)
      t.error(Code::ConfigReplicasOutOfRange, "max_unavailable", fmt::format("max_unavailable must be from 1 to replicas ({}), found {}", n, v->as_integer()));
    else svc.replica_group.max_unavailable = static_cast<int>(v->as_integer());
  }
}

// The checks over the group's strings before they are copied.
void check_marks(TableReader& t, ServiceConfig& svc, bool grouped) {
  bool reported = false;
  for_each_string(svc, [&](std::string& s, const char* key) {
    if (svc.port == 0 && has_port_mark(s) && !reported && t.find("port") == nullptr) {
      reported = true;
      t.error(Code::ConfigPortUnset, key, "${PROCD_PORT} is used but the service has no `port = P` (instance i gets P+i)");
    }
  });
  if (!grouped || svc.replica_group.replicas < 2) return;
  auto shared = [&](const std::string& file, const char* what) {
    if (file.empty() || has_mark(file)) return false;
    auto log = t.table("log");
    const char* key = std::string_view(what) == "file" ? "file" : "stderr_file";
    auto message = fmt::format("the {} replicas of \"{}\" would all write log file {}; put ${{PROCD_INSTANCE}} in its name "
                               "(e.g. \"{}.${{PROCD_INSTANCE}}\")", svc.replica_group.replicas, svc.name, file, file);
    if (log && log->find(key)) log->error(Code::ConfigReplicaLogShared, key, std::move(message));
    else t.error(Code::ConfigReplicaLogShared, "log", std::move(message));
    return true;
  };
  if (shared(svc.log.file, "file")) svc.log.file.clear(), svc.log.stderr_file.clear();
  else if (!svc.log.merge_stderr && !svc.log.stderr_file.empty() && shared(svc.log.stderr_file, "stderr_file")) svc.log.stderr_file.clear();
}

}  // namespace

void expand_replicas(TableReader& t, ServiceConfig svc, bool grouped, std::vector<ServiceConfig>& out) {
  read_group(t, svc);
  check_marks(t, svc, grouped);
  const int n = grouped ? svc.replica_group.replicas : 1;
  if (grouped) svc.group = svc.name;
  for (int i = 0; i < n; ++i) {
    ServiceConfig one = svc;
    one.instance = i;
    if (grouped) one.name = fmt::format("{}@{}", svc.group, i);
    const std::string index = std::to_string(i), port = svc.port > 0 ? std::to_string(svc.port + i) : std::string();
    for_each_string(one, [&](std::string& s, const char*) {
      replace_all(s, kInstanceMark, index);
      replace_all(s, kPortMark, port);
    });
    if (grouped || svc.port > 0) one.env["PROCD_INSTANCE"] = index;
    if (svc.port > 0) one.env["PROCD_PORT"] = port;
    if ((one.health.kind == HealthKind::Http || one.health.kind == HealthKind::Tcp) && has_mark(svc.health.target)) {
      if (auto r = parse_health_target(one.health); !r && i == 0) {
        auto h = t.table("health");
        if (h) h->error(r.error().code, one.health.kind == HealthKind::Http ? "http" : "tcp", r.error().message);
      }
    }
    out.push_back(std::move(one));
  }
}

void expand_group_dependencies(std::vector<ServiceConfig>& services) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const auto& s : services)
    if (!s.group.empty()) groups[s.group].push_back(s.name);
  if (groups.empty()) return;
  for (auto& s : services) {
    DependencyList deps;
    bool expanded = false;
    for (const auto& d : s.depends_on) {
      auto it = groups.find(d.service);
      if (it == groups.end()) {
        deps.push_back(d);
        continue;
      }
      expanded = true;
      for (const auto& name : it->second) deps.push_back({name, d.condition});
    }
    if (!expanded) continue;
    deps.written.assign(s.depends_on.begin(), s.depends_on.end());
    s.depends_on = std::move(deps);
  }
}

}  // namespace procd::config_detail
