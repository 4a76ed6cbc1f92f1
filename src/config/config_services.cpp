// Typed conversion of one [services.NAME] table into a ServiceConfig: the
// command, environment, credentials, dependencies, stop and restart
// settings, readiness, rlimits, the health check and the per-service log.
// Invariants: keys that only make sense together are checked together
// (restart keys against the policy, ready = "health" against [health],
// watchdog_ms against ready = "notify"); a health target is parsed here,
// once, so the checker only ever sees a usable host / port / path.
#include <sys/resource.h>

#include <algorithm>
#include <fmt/format.h>

#include "src/config/config_internal.hpp"
#include "procd/cgroup_layout.hpp"
#include "procd/health_target.hpp"
#include "procd/log_pattern.hpp"

namespace procd::config_detail {
namespace {

void read_ready(TableReader& t, ReadyConfig& out) {
  const toml::value* v = t.find("ready");
  if (v == nullptr) return;
  const std::string expected = "expected started, notify, health, { min_uptime_ms = N } or { log = \"regex\" }";
  if (v->is_string()) {
    const std::string& kind = v->as_string().str;
    if (kind == "started") out.kind = ReadyKind::Started;
    else if (kind == "notify") out.kind = ReadyKind::Notify;
    else if (kind == "health") out.kind = ReadyKind::Health;
    else t.error(Code::ConfigInvalidValue, "ready", fmt::format("unknown ready \"{}\" ({})", kind, expected));
    return;
  }
  if (!v->is_table()) return t.wrong_type("ready", *v, "a string or a table");
  TableReader r(*v, t.path_of("ready"), "services.*.ready", t.diag());
  r.check_unknown_keys();
  bool has_uptime = r.find("min_uptime_ms") != nullptr, has_log = r.find("log") != nullptr;
  if (has_uptime == has_log) return t.error(Code::ConfigInvalidValue, "ready", "exactly one of min_uptime_ms or log is needed (" + expected + ")");
  if (auto ms = r.millis("min_uptime_ms")) {
    out.kind = ReadyKind::MinUptime;
    out.min_uptime_ms = *ms;
  }
  if (auto pattern = r.string("log")) {
    if (auto compiled = LogPattern::compile(*pattern); compiled.ok()) {
      out.kind = ReadyKind::LogMatch;
      out.log_regex = *pattern;
    } else {
      r.error(Code::ConfigInvalidRegex, "log",
              fmt::format("invalid regular expression \"{}\" (RE2 syntax): {}", *pattern, compiled.error().message));
    }
  }
}

// always / on-failure give up after a burst of starts by default (as
// systemd: 5 within 10 s); `start_limit = { burst = 0 }` turns it off.
void default_start_limit(RestartConfig& out) {
  if (out.policy == RestartPolicyKind::Always || out.policy == RestartPolicyKind::OnFailure)
    out.start_limit_burst = kDefaultStartLimitBurst;
}

void read_restart(TableReader& t, RestartConfig& out) {
  const toml::value* v = t.find("restart");
  if (v == nullptr) return;
  auto set_policy = [&](TableReader& owner, std::string_view key, const std::string& name) {
    static const std::map<std::string, RestartPolicyKind> policies = {
        {"never", RestartPolicyKind::Never}, {"always", RestartPolicyKind::Always},
        {"on-failure", RestartPolicyKind::OnFailure}, {"exponential-backoff", RestartPolicyKind::ExponentialBackoff}};
    auto it = policies.find(name);
    if (it == policies.end()) {
      owner.error(Code::ConfigInvalidValue, key,
                  fmt::format("unknown policy \"{}\" (expected never, always, on-failure, exponential-backoff)", name));
      return false;
    }
    out.policy = it->second;
    return true;
  };
  if (v->is_string()) {
    if (set_policy(t, "restart", v->as_string().str)) default_start_limit(out);
    return;
  }
  if (!v->is_table()) return t.wrong_type("restart", *v, "a policy name or a table");

  TableReader r(*v, t.path_of("restart"), "services.*.restart", t.diag());
  r.check_unknown_keys();
  auto policy = r.string("policy");
  if (policy && !set_policy(r, "policy", *policy)) return;
  default_start_limit(out);
  // Keys that only make sense for another policy are mistakes worth naming.
  // Whole lists, not insert() into {"policy"}: that insert makes GCC 12 -O3 warn -Warray-bounds.
  std::vector<std::string_view> allowed = {"policy"};
  if (out.policy == RestartPolicyKind::Always || out.policy == RestartPolicyKind::OnFailure)
    allowed = {"policy", "delay_ms", "start_limit"};
  if (out.policy == RestartPolicyKind::ExponentialBackoff)
    allowed = {"policy", "initial_delay_ms", "max_delay_ms", "max_attempts"};
  auto known = schema_children("services.*.restart").value_or(std::vector<std::string_view>{});
  for (const auto& key : r.keys()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    if (std::find(known.begin(), known.end(), key) == known.end()) continue;  // already reported as unknown
    r.error(Code::ConfigUnknownKey, key,
            fmt::format("\"{}\" does not apply to policy \"{}\"", key, restart_policy_name(out.policy)));
  }
  if (auto ms = r.millis("delay_ms")) out.delay_ms = *ms;
  if (auto ms = r.millis("initial_delay_ms")) out.initial_delay_ms = *ms;
  if (auto ms = r.millis("max_delay_ms")) out.max_delay_ms = *ms;
  if (auto n = r.integer("max_attempts", 0, INT32_MAX)) out.max_attempts = static_cast<int>(*n);
  if (out.initial_delay_ms > out.max_delay_ms)
    r.error(Code::ConfigInvalidValue, "max_delay_ms",
            fmt::format("max_delay_ms ({}) is less than initial_delay_ms ({})", out.max_delay_ms, out.initial_delay_ms));
  if (auto limit = r.table("start_limit")) {
    limit->check_unknown_keys();
    out.start_limit_burst = static_cast<int>(limit->integer("burst", 0, INT32_MAX).value_or(kDefaultStartLimitBurst));
    if (auto ms = limit->millis("interval_ms", 1)) out.start_limit_interval_ms = *ms;
  }
}

// The target is parsed here, once: the checker connects to the parsed
// host / port / path and never sees a target it cannot use.
void set_target(TableReader& h, HealthConfig& out, HealthKind kind, std::string_view key, const std::string& target) {
  HealthConfig parsed = out;
  parsed.kind = kind;
  parsed.target = target;
  // ${PROCD_PORT} / ${PROCD_INSTANCE}: parsed per instance (config_replicas.cpp).
  if (target.find('\x01') != std::string::npos) return void(out = std::move(parsed));
  if (auto r = parse_health_target(parsed); !r) return h.error(r.error().code, key, r.error().message);
  out = std::move(parsed);
}

void read_health(TableReader& t, HealthConfig& out) {
  auto h = t.table("health");
  if (!h) return;
  h->check_unknown_keys();
  int kinds = (h->find("http") != nullptr) + (h->find("tcp") != nullptr) + (h->find("command") != nullptr);
  if (kinds != 1) {
    h->diag().add(kinds == 0 ? Code::ConfigMissingKey : Code::ConfigInvalidValue, h->value(), h->path(),
                  "a health check needs exactly one of http, tcp or command");
  } else if (auto url = h->string("http")) {
    set_target(*h, out, HealthKind::Http, "http", *url);
  } else if (auto addr = h->string("tcp")) {
    set_target(*h, out, HealthKind::Tcp, "tcp", *addr);
  } else if (auto argv = h->command("command")) {
    out.kind = HealthKind::Command;
    out.command = *argv;
  }
  if (auto ms = h->millis("interval_ms", 1)) out.interval_ms = *ms;
  if (auto ms = h->millis("timeout_ms", 1)) out.timeout_ms = *ms;
  if (auto n = h->integer("retries", 1, 1000)) out.retries = static_cast<int>(*n);
}

void read_log(TableReader& t, ServiceLogConfig& out, const std::string& dir) {
  auto l = t.table("log");
  if (!l) return;
  l->check_unknown_keys();
  if (auto v = l->string("file")) out.file = resolve_path(dir, *v);
  if (auto v = l->size("max_file_size")) out.max_file_size = *v;
  if (auto v = l->integer("max_files", 0, 1000)) out.max_files = static_cast<int>(*v);
  if (auto v = l->one_of("stderr", {"merge", "separate"})) out.merge_stderr = *v == "merge";
  if (auto v = l->string("stderr_file")) out.stderr_file = resolve_path(dir, *v);
  if (auto v = l->boolean("timestamps")) out.timestamps = *v;
}

void read_depends_on(TableReader& t, std::vector<Dependency>& out) {
  const toml::value* v = t.find("depends_on");
  if (v == nullptr) return;
  auto add = [&](const std::string& name, DependCondition condition, const toml::value& at) {
    for (const auto& dep : out) {
      if (dep.service == name)
        return t.diag().add(Code::ConfigDuplicateName, at, t.path_of("depends_on"), fmt::format("\"{}\" listed twice", name));
    }
    out.push_back({name, condition});
  };
  if (v->is_array()) {
    for (const auto& item : v->as_array()) {
      if (item.is_string()) add(item.as_string().str, DependCondition::Ready, item);
      else t.diag().add(Code::ConfigWrongType, item, t.path_of("depends_on"), "expected a service name, found " + describe_type(item));
    }
    return;
  }
  if (!v->is_table()) return t.wrong_type("depends_on", *v, "a list of services or a table");
  TableReader deps(*v, t.path_of("depends_on"), "services.*.depends_on", t.diag());
  for (const auto& name : deps.keys()) {
    auto condition = deps.one_of(name, {"started", "ready", "completed"});
    if (!condition) continue;
    add(name, *condition == "started" ? DependCondition::Started
              : *condition == "ready" ? DependCondition::Ready : DependCondition::Completed, *deps.find(name));
  }
}

void read_rlimits(TableReader& t, std::vector<Rlimit>& out) {
  static const std::map<std::string, int> resources = {
      {"as", RLIMIT_AS}, {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA},
      {"fsize", RLIMIT_FSIZE}, {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK},
      {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE}, {"nofile", RLIMIT_NOFILE},
      {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO},
      {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK}};
  auto r = t.table("rlimits");
  if (!r) return;
  r->check_unknown_keys();
  for (const auto& name : r->keys()) {
    auto it = resources.find(name);
    if (it == resources.end()) continue;  // reported by check_unknown_keys
    const toml::value& v = *r->find(name);
    if (v.is_integer() && v.as_integer() >= 0)
      out.push_back({name, it->second, static_cast<std::uint64_t>(v.as_integer())});
    else if (v.is_string() && v.as_string().str == "unlimited")
      out.push_back({name, it->second, UINT64_MAX});
    else
      r->error(v.is_integer() || v.is_string() ? Code::ConfigInvalidValue : Code::ConfigWrongType, name,
               "expected a non-negative integer or \"unlimited\", found " + describe_type(v));
  }
}

void read_env(TableReader& t, std::map<std::string, std::string>& out) {
  auto e = t.table("env");
  if (!e) return;
  for (const auto& name : e->keys()) {
    const toml::value& v = *e->find(name);
    if (v.is_string()) out[name] = v.as_string().str;
    else if (v.is_integer()) out[name] = std::to_string(v.as_integer());
    else if (v.is_boolean()) out[name] = v.as_boolean() ? "true" : "false";
    else e->wrong_type(name, v, "a string");
  }
}

// CPU numbers; whether they exist is validate_config's to say.
void read_cpu_affinity(TableReader& t, std::vector<int>& out) {
  const toml::value* v = t.find("cpu_affinity");
  if (v == nullptr) return;
  if (!v->is_array()) return t.wrong_type("cpu_affinity", *v, "an array of CPU numbers like [0, 2]");
  for (const auto& cpu : v->as_array()) {
    if (!cpu.is_integer() || cpu.as_integer() < 0 || cpu.as_integer() >= kMaxCpu) {
      t.diag().add(cpu.is_integer() ? Code::ConfigUnknownCpu : Code::ConfigWrongType, cpu, t.path_of("cpu_affinity"),
                   fmt::format("expected a CPU number from 0 to {}, found {}", kMaxCpu - 1,
                               cpu.is_integer() ? std::to_string(cpu.as_integer()) : describe_type(cpu)));
    } else if (std::find(out.begin(), out.end(), cpu.as_integer()) == out.end()) {
      out.push_back(static_cast<int>(cpu.as_integer()));
    }
  }
  if (v->as_array().empty()) t.error(Code::ConfigInvalidValue, "cpu_affinity", "cpu_affinity is empty (omit it to inherit procd's CPUs)");
}

}  // namespace

void read_cgroup_limits(TableReader& t, ServiceConfig& svc) {
  if (auto v = t.size("memory_max")) svc.memory_max = *v;
  if (auto v = t.string("cpu_max")) {
    if (cpu_max_value(*v)) svc.cpu_max = *v;
    else t.error(Code::ConfigInvalidCpuMax, "cpu_max", "cpu_max must be a percentage of one CPU (\"50%\", \"200%\") or \"max\"");
  }
  if (auto v = t.integer("pids_max", 1, 4194304)) svc.pids_max = *v;
  if (auto v = t.integer("cpu_weight", 1, 10000)) svc.cpu_weight = static_cast<int>(*v);
}

// issue 28: hooks (procd/hooks.hpp): commands like `command`, non-empty.
void read_hooks(TableReader& t, ServiceConfig& svc) {
  for (auto [key, argv] : {std::pair{"pre_start", &svc.pre_start}, std::pair{"stop_command", &svc.stop_command},
                           std::pair{"post_stop", &svc.post_stop}, std::pair{"reload_command", &svc.reload_command}})
    if (auto v = t.command(key)) *argv = *v;
  if (auto v = t.signal("reload_signal")) svc.reload_signal = *v;
  if (t.find("reload_command") != nullptr && t.find("reload_signal") != nullptr)
    t.error(Code::ConfigReloadBoth, "reload_signal", "reload_command and reload_signal both set; `procd reload NAME` does one of them");
}

void read_service(TableReader t, ServiceConfig& svc, const std::string& dir) {
  t.check_unknown_keys();
  if (t.find("command") == nullptr) {
    t.diag().add(Code::ConfigMissingKey, t.value(), t.path(), "missing required key \"command\"");
  } else if (auto argv = t.command("command")) {
    svc.command = *argv;
  }
  if (auto v = t.string("working_dir")) svc.working_dir = resolve_path(dir, *v);
  read_env(t, svc.env);
  if (auto v = t.string("env_file")) svc.env_file = resolve_path(dir, *v);
  if (auto v = t.string("user")) svc.user = *v;
  if (auto v = t.octal("umask")) {
    if (*v <= 0777) svc.umask = *v;
    else t.error(Code::ConfigOutOfRange, "umask", "umask must be at most 0777");
  }
  if (auto v = t.boolean("autostart")) svc.autostart = *v;
  read_depends_on(t, svc.depends_on);
  if (auto v = t.signal("stop_signal")) svc.stop_signal = *v;
  if (auto v = t.millis("stop_timeout_ms")) svc.stop_timeout_ms = *v;
  if (const toml::value* codes = t.find("success_exit_codes")) {
    if (!codes->is_array() || codes->as_array().empty()) {
      t.wrong_type("success_exit_codes", *codes, "a non-empty array of exit codes");
    } else {
      svc.success_exit_codes.clear();
      for (const auto& code : codes->as_array()) {
        if (code.is_integer() && code.as_integer() >= 0 && code.as_integer() <= 255)
          svc.success_exit_codes.push_back(static_cast<int>(code.as_integer()));
        else
          t.diag().add(Code::ConfigInvalidValue, code, t.path_of("success_exit_codes"), "expected an exit code from 0 to 255");
      }
    }
  }
  if (auto v = t.size("memory_limit")) svc.memory_limit = *v;
  read_cgroup_limits(t, svc);
  if (auto v = t.boolean("critical")) svc.critical = *v;
  if (auto v = t.boolean("main")) svc.main = *v;  // issue 28 (config_main.cpp checks it)
  if (auto v = t.integer("nice", -20, 19)) svc.nice = static_cast<int>(*v);
  read_rlimits(t, svc.rlimits);
  read_restart(t, svc.restart);
  read_ready(t, svc.ready);
  if (auto v = t.millis("start_timeout_ms", 1)) svc.start_timeout_ms = *v;
  if (auto v = t.millis("watchdog_ms")) svc.watchdog_ms = *v;
  read_health(t, svc.health);
  read_log(t, svc.log, dir);
  read_cpu_affinity(t, svc.cpu_affinity);
  read_hooks(t, svc);
  if (svc.ready.kind == ReadyKind::Health && svc.health.kind == HealthKind::None && t.find("health") == nullptr)
    t.error(Code::ConfigMissingKey, "ready", "ready = \"health\" needs a [health] table");
  if (svc.watchdog_ms > 0 && svc.ready.kind != ReadyKind::Notify)
    t.error(Code::ConfigInvalidValue, "watchdog_ms", "watchdog_ms needs ready = \"notify\"");
}

}  // namespace procd::config_detail
