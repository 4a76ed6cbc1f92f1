// Validation machinery and the rules that span several keys. Owns:
//  - Diagnostics: every error with its location (never stops at the first);
//  - the schema: the single list of keys procd knows, which drives both the
//    unknown-key check (with did-you-mean) and the typing of env overrides;
//  - TableReader: typed reads that report wrong types and ranges in place;
//  - validate_config: shutdown ladder order, dependencies (unknown, cycles),
//    env_file readable and well-formed, `user` only as root.
// Invariant: a rule that finds a problem reports it and lets the caller keep
// the default, so one bad key never hides the errors after it.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "src/config/config_internal.hpp"
#include "procd/dep_graph.hpp"
#include "procd/env_file.hpp"
#include "procd/signal_names.hpp"

namespace procd::config_detail {
namespace {

struct SchemaKey {
  std::string_view pattern;
  ScalarType type;
};

// Every key of SPEC "Configuration file". Tables are listed too (type None,
// or String when a string shorthand exists) so they count as known keys.
constexpr SchemaKey kSchema[] = {
    {"name", ScalarType::String}, {"pid_file", ScalarType::String}, {"hot_reload", ScalarType::Bool},
    {"logging", ScalarType::None}, {"logging.level", ScalarType::String}, {"logging.json", ScalarType::Bool},
    {"logging.color", ScalarType::Bool}, {"logging.file", ScalarType::String},
    {"logging.max_file_size", ScalarType::IntOrString}, {"logging.max_files", ScalarType::Int},
    {"shutdown", ScalarType::None}, {"shutdown.graceful", ScalarType::Int}, {"shutdown.force", ScalarType::Int},
    {"shutdown.kill", ScalarType::Int},
    {"monitoring", ScalarType::None}, {"monitoring.enable_metrics", ScalarType::Bool},
    {"monitoring.metrics_interval_ms", ScalarType::Int}, {"monitoring.track_resources", ScalarType::Bool},
    {"monitoring.health_checks", ScalarType::Bool},
    {"control", ScalarType::None}, {"control.socket", ScalarType::String}, {"control.mode", ScalarType::String},
    {"control.group", ScalarType::String}, {"control.http", ScalarType::String},
    {"signals", ScalarType::None}, {"signals.sighup", ScalarType::String}, {"signals.forward", ScalarType::None},
    {"services", ScalarType::None},
    {"services.*.command", ScalarType::String}, {"services.*.working_dir", ScalarType::String},
    {"services.*.env", ScalarType::None}, {"services.*.env_file", ScalarType::String},
    {"services.*.user", ScalarType::String}, {"services.*.umask", ScalarType::String},
    {"services.*.autostart", ScalarType::Bool}, {"services.*.depends_on", ScalarType::None},
    {"services.*.stop_signal", ScalarType::IntOrString}, {"services.*.stop_timeout_ms", ScalarType::Int},
    {"services.*.success_exit_codes", ScalarType::None}, {"services.*.memory_limit", ScalarType::IntOrString},
    {"services.*.critical", ScalarType::Bool}, {"services.*.nice", ScalarType::Int},
    {"services.*.rlimits", ScalarType::None}, {"services.*.start_timeout_ms", ScalarType::Int},
    {"services.*.watchdog_ms", ScalarType::Int},
    {"services.*.ready", ScalarType::String}, {"services.*.ready.min_uptime_ms", ScalarType::Int},
    {"services.*.ready.log", ScalarType::String},
    {"services.*.restart", ScalarType::String}, {"services.*.restart.policy", ScalarType::String},
    {"services.*.restart.delay_ms", ScalarType::Int}, {"services.*.restart.initial_delay_ms", ScalarType::Int},
    {"services.*.restart.max_delay_ms", ScalarType::Int}, {"services.*.restart.max_attempts", ScalarType::Int},
    {"services.*.restart.start_limit", ScalarType::None},
    {"services.*.restart.start_limit.burst", ScalarType::Int},
    {"services.*.restart.start_limit.interval_ms", ScalarType::Int},
    {"services.*.health", ScalarType::None}, {"services.*.health.http", ScalarType::String},
    {"services.*.health.tcp", ScalarType::String}, {"services.*.health.command", ScalarType::String},
    {"services.*.health.interval_ms", ScalarType::Int}, {"services.*.health.timeout_ms", ScalarType::Int},
    {"services.*.health.retries", ScalarType::Int},
    {"services.*.log", ScalarType::None}, {"services.*.log.file", ScalarType::String},
    {"services.*.log.max_file_size", ScalarType::IntOrString}, {"services.*.log.max_files", ScalarType::Int},
    {"services.*.log.stderr", ScalarType::String}, {"services.*.log.timestamps", ScalarType::Bool},
    {"services.*.rlimits.as", ScalarType::IntOrString}, {"services.*.rlimits.core", ScalarType::IntOrString},
    {"services.*.rlimits.cpu", ScalarType::IntOrString}, {"services.*.rlimits.data", ScalarType::IntOrString},
    {"services.*.rlimits.fsize", ScalarType::IntOrString}, {"services.*.rlimits.locks", ScalarType::IntOrString},
    {"services.*.rlimits.memlock", ScalarType::IntOrString},
    {"services.*.rlimits.msgqueue", ScalarType::IntOrString}, {"services.*.rlimits.nice", ScalarType::IntOrString},
    {"services.*.rlimits.nofile", ScalarType::IntOrString}, {"services.*.rlimits.nproc", ScalarType::IntOrString},
    {"services.*.rlimits.rss", ScalarType::IntOrString}, {"services.*.rlimits.rtprio", ScalarType::IntOrString},
    {"services.*.rlimits.rttime", ScalarType::IntOrString},
    {"services.*.rlimits.sigpending", ScalarType::IntOrString},
    {"services.*.rlimits.stack", ScalarType::IntOrString},
};

// Tables whose keys are user-chosen names rather than schema keys.
constexpr std::string_view kFreeTables[] = {"services", "services.*.env", "services.*.depends_on"};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

const toml::value* child(const toml::value* v, const std::string& key) {
  if (v == nullptr || !v->is_table()) return nullptr;
  const auto& table = v->as_table();
  auto it = table.find(key);
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace

Location Diagnostics::locate(const toml::value& at, const std::string& key_path) const {
  if (auto it = overrides_.find(key_path); it != overrides_.end()) return Location{"env " + it->second, 0, 0};
  auto loc = at.location();
  // Values built in memory (not parsed) carry toml11's "unknown file" region.
  if (loc.file_name() == "unknown file") return Location{file_, 0, 0};
  return Location{file_, static_cast<int>(loc.line()), static_cast<int>(loc.column())};
}

void Diagnostics::add(Code code, const toml::value& at, const std::string& key_path, std::string message) {
  add(code, locate(at, key_path), key_path, std::move(message));
}

void Diagnostics::add(Code code, Location where, const std::string& key_path, std::string message) {
  errors_.push_back(Error{code, std::move(message), std::move(where), key_path});
}

std::string schema_pattern(const std::vector<std::string>& segments) {
  std::string out;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out += '.';
    out += (i == 1 && segments[0] == "services") ? std::string("*") : segments[i];
  }
  return out;
}

std::optional<ScalarType> schema_lookup(std::string_view pattern) {
  for (const auto& key : kSchema) {
    if (key.pattern == pattern) return key.type;
  }
  return std::nullopt;
}

std::optional<std::vector<std::string_view>> schema_children(std::string_view table_pattern) {
  for (auto free : kFreeTables) {
    if (free == table_pattern) return std::nullopt;
  }
  std::vector<std::string_view> out;
  for (const auto& key : kSchema) {
    std::string_view p = key.pattern;
    if (!table_pattern.empty()) {
      if (p.size() <= table_pattern.size() + 1 || p.substr(0, table_pattern.size()) != table_pattern ||
          p[table_pattern.size()] != '.')
        continue;
      p.remove_prefix(table_pattern.size() + 1);
    }
    if (p.find('.') == std::string_view::npos) out.push_back(p);
  }
  return out;
}

std::string did_you_mean(std::string_view key, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (auto candidate : candidates) {
    auto d = edit_distance(key, candidate);
    if (d < best_distance && d < std::max(key.size(), candidate.size())) {
      best = candidate;
      best_distance = d;
    }
  }
  return best.empty() ? std::string() : fmt::format(" (did you mean \"{}\"?)", best);
}

std::string describe_type(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::boolean: return "a boolean";
    case toml::value_t::integer: return "an integer";
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return "a string";
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::empty: return "nothing";
    default: return "a date/time";
  }
}

namespace {

// Byte offset of a value in its source. toml11 3.7's location().line()
// counts newlines from the start of the file on every call, which made
// sorting N services O(N log N x file size); the region's first iterator
// gives the same order in O(1). Unlocated values (env overrides) sort last.
std::size_t source_offset(const toml::value& v) {
  const auto* reg = dynamic_cast<const toml::detail::region*>(toml::detail::get_region(v));
  if (!reg) return SIZE_MAX;
  return static_cast<std::size_t>(reg->first() - reg->begin());
}

}  // namespace

std::vector<std::pair<std::string, const toml::value*>> in_file_order(const toml::value& table) {
  std::vector<std::pair<std::string, const toml::value*>> out;
  if (!table.is_table()) return out;
  std::vector<std::tuple<std::size_t, std::string, const toml::value*>> keyed;
  for (const auto& [key, value] : table.as_table()) keyed.emplace_back(source_offset(value), key, &value);
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) < std::get<0>(b) : std::get<1>(a) < std::get<1>(b);
  });
  out.reserve(keyed.size());
  for (auto& [offset, key, value] : keyed) out.emplace_back(std::move(key), value);
  return out;
}

TableReader::TableReader(const toml::value& table, std::string path, std::string pattern, Diagnostics& diag)
    : table_(&table), path_(std::move(path)), pattern_(std::move(pattern)), diag_(&diag) {
  static const toml::value empty_table{toml::table{}};
  if (!table.is_table()) {
    diag.add(Code::ConfigWrongType, table, path_, "expected a table, found " + describe_type(table));
    table_ = &empty_table;
  }
}

const toml::value* TableReader::find(std::string_view key) const { return child(table_, std::string(key)); }

std::string TableReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::vector<std::string> TableReader::keys() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : in_file_order(*table_)) out.push_back(key);
  return out;
}

void TableReader::error(Code code, std::string_view key, std::string message) {
  const toml::value* at = find(key);
  diag_->add(code, at ? *at : *table_, path_of(key), std::move(message));
}

void TableReader::wrong_type(std::string_view key, const toml::value& v, std::string_view expected) {
  error(Code::ConfigWrongType, key, fmt::format("expected {}, found {}", expected, describe_type(v)));
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) return wrong_type(key, *v, "a boolean (true or false)"), std::nullopt;
  return v->as_boolean();
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_integer()) return wrong_type(key, *v, "an integer"), std::nullopt;
  std::int64_t n = v->as_integer();
  if (n < min || n > max) {
    std::string range = max == INT64_MAX ? fmt::format(">= {}", min) : fmt::format("between {} and {}", min, max);
    error(Code::ConfigOutOfRange, key, fmt::format("{} is out of range (expected {})", n, range));
    return std::nullopt;
  }
  return n;
}

std::optional<std::int64_t> TableReader::millis(std::string_view key, std::int64_t min) {
  return integer(key, min, INT64_MAX);
}

std::optional<std::string> TableReader::string(std::string_view key) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) return wrong_type(key, *v, "a string"), std::nullopt;
  return v->as_string().str;
}

std::optional<std::string> TableReader::one_of(std::string_view key, const std::vector<std::string_view>& allowed) {
  auto text = string(key);
  if (!text) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *text) != allowed.end()) return text;
  std::string expected;
  for (auto a : allowed) expected += (expected.empty() ? "" : ", ") + std::string(a);
  error(Code::ConfigInvalidValue, key, fmt::format("unknown value \"{}\" (expected {})", *text, expected));
  return std::nullopt;
}

std::optional<std::uint64_t> TableReader::size(std::string_view key) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_integer()) {
    if (v->as_integer() >= 0) return static_cast<std::uint64_t>(v->as_integer());
    error(Code::ConfigInvalidSize, key, "a size cannot be negative");
    return std::nullopt;
  }
  if (!v->is_string()) return wrong_type(key, *v, "a size (bytes, or a string like \"512M\")"), std::nullopt;
  auto parsed = parse_size(v->as_string().str);
  if (!parsed) return error(Code::ConfigInvalidSize, key, parsed.error().message), std::nullopt;
  return parsed.value();
}

std::optional<unsigned> TableReader::octal(std::string_view key) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  // TOML integers are taken as the mode itself (0o600); strings as octal digits ("0600").
  if (v->is_integer()) {
    if (v->as_integer() >= 0 && v->as_integer() <= 07777) return static_cast<unsigned>(v->as_integer());
    return error(Code::ConfigOutOfRange, key, "mode out of range (0 to 0o7777)"), std::nullopt;
  }
  if (!v->is_string()) return wrong_type(key, *v, "an octal string like \"0644\""), std::nullopt;
  const std::string& text = v->as_string().str;
  bool digits_ok = !text.empty() && text.size() <= 5 &&
                   std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  unsigned value = digits_ok ? static_cast<unsigned>(std::stoul(text, nullptr, 8)) : 010000;
  if (value > 07777) {
    error(Code::ConfigInvalidValue, key, fmt::format("\"{}\" is not an octal mode like \"0644\"", text));
    return std::nullopt;
  }
  return value;
}

std::optional<int> TableReader::signal(std::string_view key) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  std::string text;
  if (v->is_integer()) text = std::to_string(v->as_integer());
  else if (v->is_string()) text = v->as_string().str;
  else return wrong_type(key, *v, "a signal name like \"SIGTERM\""), std::nullopt;
  auto sig = parse_signal(text);
  if (!sig) error(Code::ConfigUnknownSignal, key, fmt::format("unknown signal \"{}\"", text));
  return sig;
}

std::optional<std::vector<std::string>> TableReader::command(std::string_view key) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  return read_command(*v, path_of(key), *diag_);
}

std::optional<TableReader> TableReader::table(std::string_view key, std::string_view child_pattern) {
  const toml::value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_table()) return wrong_type(key, *v, "a table"), std::nullopt;
  std::string pattern = child_pattern.empty()
                            ? (pattern_.empty() ? std::string(key) : pattern_ + "." + std::string(key))
                            : std::string(child_pattern);
  return TableReader(*v, path_of(key), std::move(pattern), *diag_);
}

void TableReader::check_unknown_keys() {
  auto known = schema_children(pattern_);
  if (!known) return;
  for (const auto& [key, value] : in_file_order(*table_)) {
    if (std::find(known->begin(), known->end(), key) != known->end()) continue;
    diag_->add(Code::ConfigUnknownKey, *value, path_of(key),
               fmt::format("unknown key \"{}\"{}", key, did_you_mean(key, *known)));
  }
}

std::optional<std::vector<std::string>> read_command(const toml::value& v, const std::string& key_path,
                                                     Diagnostics& diag) {
  std::vector<std::string> argv;
  if (v.is_string()) {
    auto split = shell_split(v.as_string().str);
    if (!split) return diag.add(Code::ConfigCommandSyntax, v, key_path, split.error().message), std::nullopt;
    argv = std::move(split.value());
  } else if (v.is_array()) {
    for (const auto& arg : v.as_array()) {
      if (!arg.is_string()) {
        diag.add(Code::ConfigWrongType, arg, key_path, "command arguments must be strings, found " + describe_type(arg));
        return std::nullopt;
      }
      argv.push_back(arg.as_string().str);
    }
  } else {
    diag.add(Code::ConfigWrongType, v, key_path, "expected a string or an array of strings, found " + describe_type(v));
    return std::nullopt;
  }
  if (argv.empty() || argv.front().empty()) {
    diag.add(Code::ConfigEmptyCommand, v, key_path, "command is empty");
    return std::nullopt;
  }
  return argv;
}

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
  for (const auto& svc : config.services) {
    const toml::value* table = child(services, svc.name);
    if (table == nullptr) continue;
    std::string base = "services." + svc.name;
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
