// The rules that span several keys, run once every table has been read:
// the shutdown ladder (graceful < force < kill), dependencies (unknown
// services, cycles), env_file (read with the spawn's own rules, so a file
// check accepts is one a start accepts) and `user` (only as root, and it
// must exist).
// Invariant: every rule reports at the value it is about, falling back to
// its table when the value is absent, and all of them run: errors collect.
// cpu_affinity is checked against the CPUs procd itself may run on (its
// own affinity: the CPUs that exist, within any cpuset it was given), since
// those are the only ones a child can be moved to. What a service's
// readiness needs must exist: ready = "health" the health checks
// ([monitoring] health_checks), ready = "notify" / watchdog_ms a notify
// socket path (control socket + ".notify") that fits a unix socket address;
// without a notify service that socket is never made, so it is not checked.
// No log file is named twice ([logging].file, each service's file,
// stderr_file or FILE.err): rotation by one writer would strand the other.
#include <pwd.h>
#include <sched.h>
#include <sys/un.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "src/config/config_internal.hpp"
#include "procd/dep_graph.hpp"
#include "procd/env_file.hpp"

namespace procd {
namespace {
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;  // the NUL takes the last byte

// The first service that needs the notify socket when its path does not fit.
const ServiceConfig* notify_user_over_limit(const Config& config) {
  if (config.control.socket.size() > kMaxSocketPath) return nullptr;  // the control socket's own error says it
  if (config.control.notify_socket().size() <= kMaxSocketPath) return nullptr;
  auto user = std::find_if(config.services.begin(), config.services.end(), [](auto& s) { return s.uses_notify(); });
  return user == config.services.end() ? nullptr : &*user;
}

}  // namespace

std::optional<std::string> notify_socket_too_long(const Config& config) {
  const ServiceConfig* user = notify_user_over_limit(config);
  if (user == nullptr) return std::nullopt;
  std::string path = config.control.notify_socket();
  return fmt::format("notify socket path \"{}\" (the control socket + \".notify\", for service \"{}\": {}) is {} "
                     "bytes; a unix socket path holds at most {}: shorten [control] socket",
                     path, user->name, user->ready.kind == ReadyKind::Notify ? "ready = \"notify\"" : "watchdog_ms",
                     path.size(), kMaxSocketPath);
}

}  // namespace procd

namespace procd::config_detail {
namespace {

// "0-1,4" like /proc/PID/status Cpus_allowed_list.
std::string describe_cpus(const cpu_set_t& set) {
  std::string out;
  for (int cpu = 0; cpu < kMaxCpu; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    int last = cpu;
    while (last + 1 < kMaxCpu && CPU_ISSET(last + 1, &set)) ++last;
    if (!out.empty()) out += ',';
    out += last == cpu ? fmt::format("{}", cpu) : fmt::format("{}-{}", cpu, last);
    cpu = last;
  }
  return out;
}

// The notify socket is made when the first notify service starts: a path
// too long for sun_path would fail that service's every start.
void check_notify_socket(const Config& config, const toml::value& root, Diagnostics& diag) {
  auto message = notify_socket_too_long(config);
  if (!message) return;
  if (const toml::value* socket = child(child(&root, "control"), "socket"))
    return diag.add(Code::ConfigSocketPathTooLong, *socket, "control.socket", std::move(*message));
  const ServiceConfig& user = *notify_user_over_limit(config);
  const char* key = user.ready.kind == ReadyKind::Notify ? "ready" : "watchdog_ms";
  const toml::value* table = child(child(&root, "services"), user.table_name());
  const toml::value* at = child(table, key);
  std::string key_path = "services." + user.table_name() + "." + key;
  if (at != nullptr) diag.add(Code::ConfigSocketPathTooLong, *at, key_path, std::move(*message));
  else diag.add(Code::ConfigSocketPathTooLong, Location{diag.file(), 0, 0}, key_path, std::move(*message));
}

// Every file procd writes logs to, named once: two writers of one file
// would each rotate it under the other, which then writes into a deleted
// inode. An error at the second name, naming the first (file:line:col).
void check_shared_log_files(const Config& config, const toml::value& root, Diagnostics& diag) {
  struct Named {
    std::string key_path;
    Location where;
  };
  std::map<std::string, Named> seen;
  auto claim = [&](const std::string& file, const toml::value* at, const std::string& key_path) {
    if (file.empty() || at == nullptr) return;
    std::string norm = std::filesystem::path(file).lexically_normal().string();
    Location here = diag.locate(*at, key_path);
    auto [it, fresh] = seen.emplace(norm, Named{key_path, here});
    if (fresh) return;
    const Named& first = it->second;
    diag.add(Code::ConfigLogFileShared, here, key_path,
             fmt::format("log file {} is already named by {} at {}:{}:{}; give each its own file (rotation by one "
                         "would leave the other writing into a deleted file)",
                         norm, first.key_path, first.where.file, first.where.line, first.where.column));
  };
  claim(config.logging.file, child(child(&root, "logging"), "file"), "logging.file");
  const toml::value* services = child(&root, "services");
  for (const auto& svc : config.services) {
    const toml::value* log = child(child(services, svc.table_name()), "log");
    std::string base = "services." + svc.table_name() + ".log.";
    claim(svc.log.file, child(log, "file"), base + "file");
    if (svc.log.merge_stderr || svc.log.file.empty()) continue;
    if (!svc.log.stderr_file.empty()) claim(svc.log.stderr_file, child(log, "stderr_file"), base + "stderr_file");
    else claim(svc.log.file + ".err", child(log, "stderr"), base + "stderr");
  }
}

}  // namespace

void validate_config(const Config& config, const toml::value& root, bool as_root, Diagnostics& diag) {
  const toml::value* shutdown = child(&root, "shutdown");
  auto ladder_error = [&](const char* key, std::string message) {
    const toml::value* at = child(shutdown, key);
    std::string path = std::string("shutdown.") + key;
    if (at != nullptr) diag.add(Code::ConfigShutdownOrder, *at, path, std::move(message));
    else diag.add(Code::ConfigShutdownOrder, shutdown ? diag.locate(*shutdown, "shutdown") : Location{diag.file(), 0, 0},
                  path, std::move(message));
  };
  const auto& s = config.shutdown;
  if (s.graceful >= s.force)
    ladder_error("force", fmt::format("must be greater than graceful ({} >= {}); expected graceful < force < kill",
                                      s.graceful, s.force));
  if (s.force >= s.kill)
    ladder_error("kill", fmt::format("must be greater than force ({} >= {}); expected graceful < force < kill",
                                     s.force, s.kill));

  const toml::value* services = child(&root, "services");
  cpu_set_t usable;
  CPU_ZERO(&usable);
  bool know_cpus = ::sched_getaffinity(0, sizeof usable, &usable) == 0;
  for (const auto& svc : config.services) {
    const toml::value* table = child(services, svc.table_name());
    if (table == nullptr) continue;
    std::string base = "services." + svc.table_name();
    if (const toml::value* cpus = child(table, "cpu_affinity"); cpus && cpus->is_array() && know_cpus) {
      for (const auto& cpu : cpus->as_array()) {
        if (!cpu.is_integer() || cpu.as_integer() < 0 || cpu.as_integer() >= kMaxCpu) continue;  // reported already
        if (CPU_ISSET(static_cast<int>(cpu.as_integer()), &usable)) continue;
        diag.add(Code::ConfigUnknownCpu, cpu, base + ".cpu_affinity",
                 fmt::format("CPU {} does not exist or is not available to procd (usable: {})", cpu.as_integer(),
                             describe_cpus(usable)));
      }
    }
    // The health checker is what makes such a service ready; it never runs.
    if (svc.ready.kind == ReadyKind::Health && !config.monitoring.health_checks)
      if (const toml::value* ready = child(table, "ready"))
        diag.add(Code::ConfigHealthChecksOff, *ready, base + ".ready",
                 "ready = \"health\" needs health checks, but [monitoring] health_checks = false");
    const toml::value* deps = child(table, "depends_on");
    for (const auto& dep : svc.depends_on) {
      if (config.find_service(dep.service) != nullptr) continue;
      std::vector<std::string_view> names;
      for (const auto& other : config.services) names.push_back(other.name);
      const toml::value* at = child(deps, dep.service);
      diag.add(Code::ConfigUnknownDependency, at ? *at : (deps ? *deps : *table),
               at ? base + ".depends_on." + dep.service : base + ".depends_on",
               fmt::format("depends on unknown service \"{}\"{}", dep.service, did_you_mean(dep.service, names)));
    }
    if (!svc.env_file.empty()) {
      // Read with the spawn's own rules, so check accepts only what a start will.
      auto vars = read_env_file(svc.env_file);
      if (!vars && vars.error().where)  // a malformed line: point at it in the env file
        diag.add(vars.error().code, *vars.error().where, base + ".env_file", vars.error().message);
      else if (!vars)
        diag.add(Code::ConfigEnvFileUnreadable, *child(table, "env_file"), base + ".env_file", vars.error().message);
    }
    if (!svc.user.empty()) {
      const toml::value& at = *child(table, "user");
      if (!as_root)
        diag.add(Code::ConfigUserNotRoot, at, base + ".user",
                 fmt::format("user \"{}\" requires procd to run as root", svc.user));
      else if (::getpwnam(svc.user.c_str()) == nullptr)
        diag.add(Code::ConfigUnknownUser, at, base + ".user", fmt::format("no such user \"{}\"", svc.user));
    }
  }

  check_notify_socket(config, root, diag);
  check_shared_log_files(config, root, diag);
  check_main_services(config, root, diag);

  if (auto cycle = DepGraph::from_services(config.services).find_cycle()) {
    const std::string& first = cycle->front();
    const toml::value* table = child(services, first);
    const toml::value* deps = child(table, "depends_on");
    std::string path = "services." + first + ".depends_on";
    Location where = deps ? diag.locate(*deps, path) : (table ? diag.locate(*table, path) : Location{diag.file(), 0, 0});
    diag.add(Code::ConfigDependencyCycle, where, path, "dependency cycle: " + format_cycle(*cycle));
  }
}

}  // namespace procd::config_detail
