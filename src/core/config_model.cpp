// The Config model's own behaviour (config.hpp): lookups, the effective stop
// timeout, field-by-field equality for the reload diff, the names of enums
// and the size parser shared with the CLI. Plain data in, plain data out:
// no TOML, no I/O.
#include <algorithm>
#include <cctype>
#include <fmt/format.h>

#include "procd/config.hpp"

namespace procd {

const ServiceConfig* Config::find_service(const std::string& service_name) const {
  for (const auto& svc : services) {
    if (svc.name == service_name) return &svc;
  }
  return nullptr;
}

bool name_selects(std::string_view selector, std::string_view service) {
  if (selector == service) return true;
  if (service.size() <= selector.size() + 1 || !service.starts_with(selector) || service[selector.size()] != '@') return false;
  auto index = service.substr(selector.size() + 1);
  return std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::int64_t Config::stop_timeout_of(const ServiceConfig& svc) const {
  return svc.stop_timeout_ms >= 0 ? svc.stop_timeout_ms : shutdown.graceful;
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
  return a.kind == b.kind && a.target == b.target && a.host == b.host && a.port == b.port && a.path == b.path &&
         a.command == b.command && a.interval_ms == b.interval_ms && a.timeout_ms == b.timeout_ms &&
         a.retries == b.retries;
}
bool operator==(const ServiceLogConfig& a, const ServiceLogConfig& b) {
  return a.file == b.file && a.max_file_size == b.max_file_size && a.max_files == b.max_files &&
         a.merge_stderr == b.merge_stderr && a.stderr_file == b.stderr_file && a.timestamps == b.timestamps;
}

std::string format_warning(const Error& warning) {
  std::string text = warning.format();
  if (auto at = text.find("error["); at != std::string::npos) text.replace(at, 5, "warning");
  return text;
}

}  // namespace procd
