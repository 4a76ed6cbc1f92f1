// TOML text -> Config. Owns the entry points (find_config_path, load_config,
// load_config_text), turning toml11 syntax errors into located diagnostics,
// and the typed conversion of every SPEC section and key with its default.
// Invariants: a Config is returned only when there are no errors; relative
// paths are resolved against the config file's directory; services keep
// file order (toml11's tables are unordered, so they are sorted by location).
#include <signal.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <sstream>

#include "src/config/config_internal.hpp"
#include "procd/signal_names.hpp"

extern char** environ;

namespace procd {
namespace fs = std::filesystem;
using config_detail::Diagnostics;
using config_detail::TableReader;

namespace {

std::string resolve_path(const std::string& dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(dir) / path).lexically_normal().string();
}

// toml11 3.x puts the useful location in what(): the last annotated source
// line (" 3 | text") and its marker line ("   |    ^--- why"). The
// exception's own location() is where the parser stopped, often line 1.
Error syntax_error_of(const toml::syntax_error& e, const std::string& file) {
  std::string what = e.what();
  std::istringstream lines(what);
  std::string line, first, note;
  int line_no = 0, column = 0;
  std::getline(lines, first);
  static const std::regex source_line(R"(^\s*(\d+) \| )");
  static const std::regex marker_line(R"(^(\s*\| )(\s*)[\^~]+-*\s*(.*)$)");
  std::smatch m;
  int pending_line = 0;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, m, source_line)) {
      pending_line = std::stoi(m[1]);
    } else if (pending_line > 0 && std::regex_match(line, m, marker_line)) {
      line_no = pending_line;
      column = static_cast<int>(m[2].length()) + 1;
      note = m[3];
    }
  }
  // "[error] toml::parse_array: missing ..." -> "missing ..."
  auto colon = first.find(": ");
  std::string message = colon == std::string::npos ? first : first.substr(colon + 2);
  if (!note.empty()) message += " (" + note + ")";
  Code code = first.find("already exists") != std::string::npos ? Code::ConfigDuplicateName : Code::ConfigSyntax;
  if (line_no == 0) {
    line_no = static_cast<int>(e.location().line());
    column = static_cast<int>(e.location().column());
  }
  return Error{code, message, Location{file, line_no, column}, {}};
}

std::vector<std::string> process_environment() {
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) out.emplace_back(*entry);
  return out;
}

}  // namespace

const ServiceConfig* Config::find_service(const std::string& service_name) const {
  for (const auto& svc : services) {
    if (svc.name == service_name) return &svc;
  }
  return nullptr;
}

std::int64_t Config::stop_timeout_of(const ServiceConfig& svc) const {
  return svc.stop_timeout_ms >= 0 ? svc.stop_timeout_ms : shutdown.graceful;
}

std::string find_config_path(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* env = std::getenv("PROCD_CONFIG"); env != nullptr && *env != '\0') return env;
  for (const char* candidate : {"procd.toml", "/etc/procd/procd.toml"}) {
    std::error_code ec;
    if (fs::exists(candidate, ec)) return candidate;
  }
  // Nothing exists: name the first candidate so the error is about it.
  return "procd.toml";
}

LoadResult load_config(const std::string& path, const LoadOptions& opts) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  if (!in || fs::is_directory(path, ec)) {
    std::string why = fs::is_directory(path, ec) ? "is a directory" : std::strerror(errno);
    return {std::nullopt, {Error{Code::ConfigFileUnreadable, fmt::format("cannot read config file: {}", why),
                                 Location{path, 0, 0}, {}}}};
  }
  std::stringstream text;
  text << in.rdbuf();
  return load_config_text(text.str(), path, opts);
}

LoadResult load_config_text(const std::string& text, const std::string& path, const LoadOptions& opts) {
  toml::value root;
  try {
    std::istringstream in(text);
    root = toml::parse(in, path);
  } catch (const toml::syntax_error& e) {
    return {std::nullopt, {syntax_error_of(e, path)}};
  } catch (const std::exception& e) {
    return {std::nullopt, {Error{Code::ConfigSyntax, e.what(), Location{path, 0, 0}, {}}}};
  }

  Diagnostics diag(path);
  const auto environment = opts.environment ? *opts.environment : process_environment();
  config_detail::apply_env_overrides(root, environment, diag);

  Config config;
  fs::path absolute = fs::absolute(path).lexically_normal();
  config.path = absolute.string();
  config.dir = absolute.parent_path().string();
  config_detail::convert_config(root, config, diag);
  config_detail::validate_config(config, root, opts.as_root.value_or(::geteuid() == 0), diag);
  if (!diag.empty()) {
    // Report like a compiler, top to bottom; errors with no line in the file
    // (environment overrides) come last, in the order found.
    auto& errors = diag.errors();
    auto key = [](const Error& e) {
      int line = e.where && e.where->line > 0 ? e.where->line : INT32_MAX;
      return std::make_pair(line, e.where ? e.where->column : 0);
    };
    std::stable_sort(errors.begin(), errors.end(), [&](const Error& a, const Error& b) { return key(a) < key(b); });
    return {std::nullopt, std::move(errors)};
  }
  return {std::move(config), {}};
}

Result<std::uint64_t> parse_size(const std::string& text) {
  // Digits, then an optional K/M/G/T (any case) with optional "B" or "iB";
  // powers of 1024 either way, as in memory limits everywhere.
  auto bad = [&] {
    return make_error(Code::ConfigInvalidSize,
                      fmt::format("invalid size \"{}\" (expected bytes or a number with K, M, G or T, like \"512M\")", text));
  };
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 19) return bad();
  std::uint64_t number = std::stoull(text.substr(0, i));
  std::string unit = text.substr(i);
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int shift = 0;
  if (!unit.empty() && unit != "B") {
    static const std::string prefixes = "KMGT";
    auto at = prefixes.find(unit.front());
    std::string suffix = unit.substr(1);
    if (at == std::string::npos || !(suffix.empty() || suffix == "B" || suffix == "IB")) return bad();
    shift = 10 * static_cast<int>(at + 1);
  }
  if (shift > 0 && number > (UINT64_MAX >> shift)) return bad();
  return number << shift;
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Trace: return "trace";
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

const char* restart_policy_name(RestartPolicyKind kind) {
  switch (kind) {
    case RestartPolicyKind::Never: return "never";
    case RestartPolicyKind::Always: return "always";
    case RestartPolicyKind::OnFailure: return "on-failure";
    case RestartPolicyKind::ExponentialBackoff: return "exponential-backoff";
  }
  return "never";
}

bool operator==(const Rlimit& a, const Rlimit& b) {
  return a.name == b.name && a.resource == b.resource && a.value == b.value;
}
bool operator==(const Dependency& a, const Dependency& b) {
  return a.service == b.service && a.condition == b.condition;
}
bool operator==(const RestartConfig& a, const RestartConfig& b) {
  return a.policy == b.policy && a.delay_ms == b.delay_ms && a.initial_delay_ms == b.initial_delay_ms &&
         a.max_delay_ms == b.max_delay_ms && a.max_attempts == b.max_attempts &&
         a.start_limit_burst == b.start_limit_burst && a.start_limit_interval_ms == b.start_limit_interval_ms;
}
bool operator==(const ReadyConfig& a, const ReadyConfig& b) {
  return a.kind == b.kind && a.min_uptime_ms == b.min_uptime_ms && a.log_regex == b.log_regex;
}
bool operator==(const HealthConfig& a, const HealthConfig& b) {
  return a.kind == b.kind && a.target == b.target && a.command == b.command && a.interval_ms == b.interval_ms &&
         a.timeout_ms == b.timeout_ms && a.retries == b.retries;
}
bool operator==(const ServiceLogConfig& a, const ServiceLogConfig& b) {
  return a.file == b.file && a.max_file_size == b.max_file_size && a.max_files == b.max_files &&
         a.merge_stderr == b.merge_stderr && a.timestamps == b.timestamps;
}

// ---- typed conversion: one function per section, defaults from config.hpp ----
namespace config_detail {
namespace {

bool valid_service_name(const std::string& name) {
  static const std::regex pattern("[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}");
  return std::regex_match(name, pattern);
}

bool valid_host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  std::string port = text.substr(colon + 1);
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) return false;
  int n = std::stoi(port);
  return n >= 1 && n <= 65535;
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
    if (valid_host_port(*v)) out.http = *v;
    else t.error(Code::ConfigInvalidValue, "http", fmt::format("\"{}\" is not host:port like \"127.0.0.1:9100\"", *v));
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
      t.diag().add(Code::ConfigUnknownSignal, item, t.path_of("forward"), fmt::format("unknown signal \"{}\"", text));
    else if (*sig == SIGKILL || *sig == SIGSTOP)
      t.diag().add(Code::ConfigInvalidValue, item, t.path_of("forward"), fmt::format("{} cannot be caught", signal_name(*sig)));
    else
      out.forward.push_back(*sig);
  }
}

}  // namespace

void read_service(TableReader t, ServiceConfig& svc, const std::string& dir);

void convert_config(const toml::value& root, Config& config, Diagnostics& diag) {
  TableReader t(root, "", "", diag);
  t.check_unknown_keys();
  if (auto v = t.string("name")) {
    if (v->empty()) t.error(Code::ConfigInvalidValue, "name", "name is empty");
    else config.name = *v;
  }
  config.pid_file = resolve_path(config.dir, t.string("pid_file").value_or(".procd.pid"));
  if (auto v = t.boolean("hot_reload")) config.hot_reload = *v;
  if (auto s = t.table("logging")) read_logging(*s, config.logging, config.dir);
  if (auto s = t.table("shutdown")) read_shutdown(*s, config.shutdown);
  if (auto s = t.table("monitoring")) read_monitoring(*s, config.monitoring);
  config.control.socket = resolve_path(config.dir, ".procd.sock");
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
  for (const auto& [name, value] : in_file_order(services->value())) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!valid_service_name(name)) {
      services->error(Code::ConfigInvalidValue, name,
                      fmt::format("invalid service name \"{}\" (letters, digits, _ . @ -; at most 64)", name));
    } else if (auto [it, inserted] = lower_names.emplace(lower, name); !inserted) {
      // Env overrides and the CLI match names case-insensitively.
      services->error(Code::ConfigDuplicateName, name,
                      fmt::format("service \"{}\" differs from \"{}\" only in case", name, it->second));
    }
    ServiceConfig svc;
    svc.name = name;
    if (auto table = services->table(name, "services.*")) read_service(*table, svc, config.dir);
    config.services.push_back(std::move(svc));
  }
}

}  // namespace config_detail

// ---- one [services.NAME] table ----
namespace config_detail {
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
    try {
      std::regex check(*pattern, std::regex::ECMAScript);
      out.kind = ReadyKind::LogMatch;
      out.log_regex = *pattern;
    } catch (const std::regex_error& e) {
      r.error(Code::ConfigInvalidRegex, "log", fmt::format("invalid regular expression \"{}\": {}", *pattern, e.what()));
    }
  }
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
  if (v->is_string()) return void(set_policy(t, "restart", v->as_string().str));
  if (!v->is_table()) return t.wrong_type("restart", *v, "a policy name or a table");

  TableReader r(*v, t.path_of("restart"), "services.*.restart", t.diag());
  r.check_unknown_keys();
  auto policy = r.string("policy");
  if (policy && !set_policy(r, "policy", *policy)) return;
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
    out.start_limit_burst = static_cast<int>(limit->integer("burst", 1, INT32_MAX).value_or(5));
    if (auto ms = limit->millis("interval_ms", 1)) out.start_limit_interval_ms = *ms;
  }
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
    if (url->rfind("http://", 0) == 0) out = {HealthKind::Http, *url, {}};
    else h->error(Code::ConfigInvalidValue, "http", fmt::format("\"{}\" is not an http:// URL", *url));
  } else if (auto addr = h->string("tcp")) {
    if (valid_host_port(*addr)) out = {HealthKind::Tcp, *addr, {}};
    else h->error(Code::ConfigInvalidValue, "tcp", fmt::format("\"{}\" is not host:port", *addr));
  } else if (auto argv = h->command("command")) {
    out = {HealthKind::Command, {}, *argv};
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

}  // namespace

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
  if (auto v = t.boolean("critical")) svc.critical = *v;
  if (auto v = t.integer("nice", -20, 19)) svc.nice = static_cast<int>(*v);
  read_rlimits(t, svc.rlimits);
  read_restart(t, svc.restart);
  read_ready(t, svc.ready);
  if (auto v = t.millis("start_timeout_ms", 1)) svc.start_timeout_ms = *v;
  if (auto v = t.millis("watchdog_ms")) svc.watchdog_ms = *v;
  read_health(t, svc.health);
  read_log(t, svc.log, dir);
  if (svc.ready.kind == ReadyKind::Health && svc.health.kind == HealthKind::None && t.find("health") == nullptr)
    t.error(Code::ConfigMissingKey, "ready", "ready = \"health\" needs a [health] table");
  if (svc.watchdog_ms > 0 && svc.ready.kind != ReadyKind::Notify)
    t.error(Code::ConfigInvalidValue, "watchdog_ms", "watchdog_ms needs ready = \"notify\"");
}

}  // namespace config_detail

}  // namespace procd
