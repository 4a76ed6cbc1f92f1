// The schema: the single list of keys procd knows (SPEC "Configuration
// file"), which drives both the unknown-key check (with did-you-mean) and
// the typing of environment overrides, plus the small helpers that word
// those diagnostics (did_you_mean, describe_type).
// Invariant: a key procd reads appears here exactly once; tables are listed
// too, so a table name is a known key of its parent.
#include <algorithm>
#include <cctype>
#include <fmt/format.h>

#include "procd/signal_names.hpp"
#include "src/config/config_internal.hpp"

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
    {"monitoring.health_checks", ScalarType::Bool}, {"monitoring.health_check_interval_ms", ScalarType::Int},
    {"include", ScalarType::None},
    // The seed's (proc-daemon 1.1.2) tuning keys: accepted and typed, without effect (a warning each).
    {"performance", ScalarType::None}, {"performance.worker_threads", ScalarType::Int},
    {"performance.thread_pinning", ScalarType::Bool}, {"performance.memory_pool_size", ScalarType::IntOrString},
    {"performance.numa_aware", ScalarType::Bool}, {"performance.lock_free", ScalarType::Bool},
    {"control", ScalarType::None}, {"control.socket", ScalarType::String}, {"control.mode", ScalarType::String},
    {"control.group", ScalarType::String}, {"control.http", ScalarType::String},
    {"control.http_token_file", ScalarType::String}, {"control.http_allowed_hosts", ScalarType::None},
    {"signals", ScalarType::None}, {"signals.sighup", ScalarType::String}, {"signals.forward", ScalarType::None},
    {"services", ScalarType::None},
    {"services.*.command", ScalarType::String}, {"services.*.working_dir", ScalarType::String},
    {"services.*.env", ScalarType::None}, {"services.*.env_file", ScalarType::String},
    {"services.*.user", ScalarType::String}, {"services.*.umask", ScalarType::String},
    {"services.*.autostart", ScalarType::Bool}, {"services.*.depends_on", ScalarType::None},
    {"services.*.stop_signal", ScalarType::IntOrString}, {"services.*.stop_timeout_ms", ScalarType::Int},
    {"services.*.success_exit_codes", ScalarType::None}, {"services.*.memory_limit", ScalarType::IntOrString},
    {"services.*.memory_max", ScalarType::IntOrString}, {"services.*.cpu_max", ScalarType::String},
    {"services.*.pids_max", ScalarType::Int}, {"services.*.cpu_weight", ScalarType::Int},
    {"services.*.critical", ScalarType::Bool}, {"services.*.nice", ScalarType::Int},
    {"services.*.main", ScalarType::Bool},  // issue 28: main service
    {"services.*.rlimits", ScalarType::None}, {"services.*.start_timeout_ms", ScalarType::Int},
    {"services.*.watchdog_ms", ScalarType::Int}, {"services.*.cpu_affinity", ScalarType::None},
    {"services.*.replicas", ScalarType::Int}, {"services.*.port", ScalarType::Int},
    {"services.*.rolling", ScalarType::String}, {"services.*.max_unavailable", ScalarType::Int},
    // issue 28: hooks
    {"services.*.pre_start", ScalarType::None}, {"services.*.stop_command", ScalarType::None},
    {"services.*.post_stop", ScalarType::None}, {"services.*.reload_command", ScalarType::None},
    {"services.*.reload_signal", ScalarType::IntOrString},
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
    {"services.*.log.stderr", ScalarType::String},
    {"services.*.log.stderr_file", ScalarType::String}, {"services.*.log.timestamps", ScalarType::Bool},
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

// Optimal string alignment: Levenshtein plus a swap of two neighbours for
// 1 ("TREM" is 1 from "TERM", 2 from "TRAP"; "comand" 1 from "command").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

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

std::string signal_did_you_mean(std::string_view text) {
  std::string upper(text);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const bool with_sig = upper.starts_with("SIG");
  std::vector<std::string> names;
  for (int sig = 1; sig < 32; ++sig) {
    std::string name = signal_name(sig);
    if (!name.starts_with("SIG") || (name.size() > 3 && name[3] >= '0' && name[3] <= '9')) continue;
    names.push_back(with_sig ? name : name.substr(3));
  }
  return did_you_mean(upper, std::vector<std::string_view>(names.begin(), names.end()));
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

}  // namespace procd::config_detail
