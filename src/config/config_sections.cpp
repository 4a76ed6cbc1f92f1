// Typed conversion of the top-level tables (name, pid_file, hot_reload,
// [logging], [shutdown], [monitoring], [control], [signals]) and of the
// [services] table into one ServiceConfig per name (config_services.cpp
// reads each one). Defaults come from config.hpp; every bad value is
// reported where it is and the default kept.
// Invariants: relative paths are resolved against the config file's
// directory; services keep file order (toml11's tables are unordered, so
// they are sorted by location); names are unique ignoring case.
#include <signal.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fmt/format.h>

#include "src/config/config_internal.hpp"
#include "procd/health_target.hpp"
#include "procd/signal_names.hpp"
#include "procd/http_host.hpp"
#include "procd/token_file.hpp"

namespace procd::config_detail {
namespace fs = std::filesystem;

std::string resolve_path(const std::string& dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(dir) / path).lexically_normal().string();
}

namespace {

// [A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}
bool valid_service_name(const std::string& name) {
  auto word = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  if (name.empty() || name.size() > 64 || !word(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

void read_logging(TableReader t, LoggingConfig& out, const std::string& dir) {
  t.check_unknown_keys();
  if (auto level = t.one_of("level", {"trace", "debug", "info", "warn", "error"})) {
    static const std::map<std::string, LogLevel> levels = {{"trace", LogLevel::Trace}, {"debug", LogLevel::Debug},
                                                            {"info", LogLevel::Info},   {"warn", LogLevel::Warn},
                                                            {"error", LogLevel::Error}};
    out.level = levels.at(*level);
  }
  if (auto v = t.boolean("json")) out.json = *v;
  if (auto v = t.boolean("color")) out.color = *v;
  if (auto v = t.string("file")) out.file = resolve_path(dir, *v);
  if (auto v = t.size("max_file_size")) out.max_file_size = *v;
  if (auto v = t.integer("max_files", 0, 1000)) out.max_files = static_cast<int>(*v);
}

void read_shutdown(TableReader t, ShutdownConfig& out) {
  t.check_unknown_keys();
  if (auto v = t.millis("graceful")) out.graceful = *v;
  if (auto v = t.millis("force")) out.force = *v;
  if (auto v = t.millis("kill")) out.kill = *v;
}

void read_monitoring(TableReader t, MonitoringConfig& out) {
  t.check_unknown_keys();
  if (auto v = t.boolean("enable_metrics")) out.enable_metrics = *v;
  if (auto v = t.millis("metrics_interval_ms", 1)) out.metrics_interval_ms = *v;
  if (auto v = t.boolean("track_resources")) out.track_resources = *v;
  if (auto v = t.boolean("health_checks")) out.health_checks = *v;
  if (auto v = t.millis("health_check_interval_ms", 1)) out.health_check_interval_ms = *v;
}

// proc-daemon's thread / allocator tuning: typed like the seed, but procd
// is one event loop with no pool to size, so each key given is a warning.
void read_performance(TableReader t) {
  t.check_unknown_keys();
  bool typed_ok = true;
  typed_ok &= !t.find("worker_threads") || t.integer("worker_threads", 0, 4096).has_value();
  typed_ok &= !t.find("memory_pool_size") || t.size("memory_pool_size").has_value();
  for (const char* key : {"thread_pinning", "numa_aware", "lock_free"}) typed_ok &= !t.find(key) || t.boolean(key).has_value();
  if (!typed_ok) return;
  for (const auto& key : t.keys()) {
    if (!schema_lookup("performance." + key)) continue;  // reported as unknown
    t.diag().warn(Code::ConfigNoEffect, *t.find(key), t.path_of(key),
                  "no effect: procd runs one single-threaded event loop, with no thread or memory pool to tune");
  }
}

void read_control(TableReader t, ControlConfig& out, const std::string& dir) {
  t.check_unknown_keys();
  if (auto v = t.string("socket")) {
    if (v->empty()) t.error(Code::ConfigInvalidValue, "socket", "socket path is empty");
    else out.socket = resolve_path(dir, *v);
  }
  if (auto v = t.octal("mode")) out.mode = *v & 0777;
  if (auto v = t.string("group")) out.group = *v;
  if (auto v = t.string("http")) {
    if (auto hp = parse_host_port(*v)) out.http = *v;
    else t.error(hp.error().code, "http", hp.error().message + " (like \"127.0.0.1:9100\" or \"[::1]:9100\")");
  }
  if (auto v = t.string("http_token_file")) {
    out.http_token_file = resolve_path(dir, *v);
    if (auto token = read_token_file(out.http_token_file); !token.ok())
      t.error(token.error().code, "http_token_file", token.error().message);
  }
  if (const toml::value* hosts = t.find("http_allowed_hosts")) {
    if (!hosts->is_array()) return t.wrong_type("http_allowed_hosts", *hosts, "an array of host names");
    for (const auto& item : hosts->as_array()) {
      if (!item.is_string()) {
        t.diag().add(Code::ConfigWrongType, item, t.path_of("http_allowed_hosts"), "expected a host name, found " + describe_type(item));
        continue;
      }
      std::string name = item.as_string().str;
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (auto why = allowed_host_error(name)) t.diag().add(Code::ConfigInvalidValue, item, t.path_of("http_allowed_hosts"), *why);
      else out.http_allowed_hosts.push_back(std::move(name));
    }
  }
}

void read_signals(TableReader t, SignalsConfig& out) {
  t.check_unknown_keys();
  if (auto v = t.one_of("sighup", {"reload", "forward", "ignore"})) {
    out.sighup = *v == "reload" ? SighupAction::Reload : *v == "forward" ? SighupAction::Forward : SighupAction::Ignore;
  }
  const toml::value* forward = t.find("forward");
  if (forward == nullptr) return;
  if (!forward->is_array()) return t.wrong_type("forward", *forward, "an array of signal names");
  out.forward.clear();
  for (const auto& item : forward->as_array()) {
    std::string text = item.is_integer() ? std::to_string(item.as_integer()) : item.is_string() ? item.as_string().str : "";
    auto sig = parse_signal(text);
    if (!item.is_integer() && !item.is_string())
      t.diag().add(Code::ConfigWrongType, item, t.path_of("forward"), "expected a signal name, found " + describe_type(item));
    else if (!sig)
      t.diag().add(Code::ConfigUnknownSignal, item, t.path_of("forward"), fmt::format("unknown signal \"{}\"{}", text, signal_did_you_mean(text)));
    else if (*sig == SIGKILL || *sig == SIGSTOP)
      t.diag().add(Code::ConfigInvalidValue, item, t.path_of("forward"), fmt::format("{} cannot be caught", signal_name(*sig)));
    else
      out.forward.push_back(*sig);
  }
}

}  // namespace

void convert_config(const toml::value& root, Config& config, Diagnostics& diag) {
  TableReader t(root, "", "", diag);
  t.check_unknown_keys();
  if (auto v = t.string("name")) {
    if (v->empty()) t.error(Code::ConfigInvalidValue, "name", "name is empty");
    else config.name = *v;
  }
  if (auto v = t.string("pid_file")) config.pid_file = resolve_path(config.dir, *v);
  else config.pid_file = default_state_file(config.path, "pid");
  if (auto v = t.boolean("hot_reload")) config.hot_reload = *v;
  if (auto s = t.table("logging")) read_logging(*s, config.logging, config.dir);
  if (auto s = t.table("shutdown")) read_shutdown(*s, config.shutdown);
  if (auto s = t.table("monitoring")) read_monitoring(*s, config.monitoring);
  if (auto s = t.table("performance")) read_performance(*s);
  config.control.socket = default_state_file(config.path, "sock");
  if (auto s = t.table("control")) read_control(*s, config.control, config.dir);
  if (config.control.socket.size() >= sizeof(sockaddr_un::sun_path))
    t.error(Code::ConfigInvalidValue, "control",
            fmt::format("socket path \"{}\" is longer than a unix socket allows ({} bytes)", config.control.socket,
                        sizeof(sockaddr_un::sun_path) - 1));
  config.signals.forward = {SIGUSR1, SIGUSR2, SIGWINCH};
  if (auto s = t.table("signals")) read_signals(*s, config.signals);

  auto services = t.table("services");
  if (!services) return;
  std::map<std::string, std::string> lower_names;  // for case-only duplicates
  for (const auto& [name, value] : in_file_order(services->value(), &diag.files())) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!valid_service_name(name)) {
      services->error(Code::ConfigInvalidValue, name,
                      fmt::format("invalid service name \"{}\" (letters, digits, _ . -; at most 64; "
                                  "NAME@i names instances of a service with `replicas`)", name));
    } else if (auto [it, inserted] = lower_names.emplace(lower, name); !inserted) {
      // Env overrides and the CLI match names case-insensitively.
      services->error(Code::ConfigDuplicateName, name,
                      fmt::format("service \"{}\" differs from \"{}\" only in case", name, it->second));
    }
    ServiceConfig svc;
    svc.name = name;
    svc.health.interval_ms = config.monitoring.health_check_interval_ms;
    if (auto table = services->table(name, "services.*")) {
      read_service(*table, svc, config.dir);
      expand_replicas(*table, std::move(svc), table->find("replicas") != nullptr, config.services);
    } else {
      config.services.push_back(std::move(svc));
    }
  }
  expand_group_dependencies(config.services);
}

}  // namespace procd::config_detail
