// PROCD_ environment overrides, applied to the parsed TOML tree before the
// typed conversion so overridden values are validated exactly like file
// values. PROCD_SECTION__KEY=value: `__` separates levels, names are
// lower-cased, and the service level (PROCD_SERVICES__WEB__...) matches an
// existing service case-insensitively (env names are upper case by habit).
// The value is typed by the schema entry of the key (bool, int, float,
// string, or int-if-numeric for sizes and modes); only scalar keys can be
// overridden, and services cannot be created this way.
// Not overrides: PROCD_CONFIG and PROCD_SERVICE (they have their own
// meaning), and single-level names that are not top-level keys
// (PROCD_BIN, PROCD_SOCKET, ... belong to tools and the CLI).
// Errors are located at "env PROCD_X" (Location.file, no line); values set
// here are registered with Diagnostics so later validation errors on them
// point at the variable too.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fmt/format.h>

#include "src/config/config_internal.hpp"

namespace procd::config_detail {
namespace {

constexpr std::string_view kPrefix = "PROCD_";

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_levels(std::string_view name) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto at = name.find("__", start);
    out.push_back(lower(name.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start)));
    if (at == std::string_view::npos) return out;
    start = at + 2;
  }
}

std::optional<toml::value> typed_value(const std::string& text, ScalarType type) {
  switch (type) {
    case ScalarType::Bool: {
      std::string t = lower(text);
      if (t == "true" || t == "1") return toml::value(true);
      if (t == "false" || t == "0") return toml::value(false);
      return std::nullopt;
    }
    case ScalarType::Int:
    case ScalarType::IntOrString: {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc{} && end == text.data() + text.size() && !text.empty()) return toml::value(n);
      if (type == ScalarType::IntOrString) return toml::value(text);
      return std::nullopt;
    }
    case ScalarType::Float: {
      char* end = nullptr;
      double d = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') return std::nullopt;
      return toml::value(d);
    }
    case ScalarType::String: return toml::value(text);
    case ScalarType::None: return std::nullopt;
  }
  return std::nullopt;
}

const char* type_word(ScalarType type) {
  switch (type) {
    case ScalarType::Bool: return "a boolean (true, false, 1, 0)";
    case ScalarType::Int: return "an integer";
    case ScalarType::Float: return "a number";
    default: return "a value";
  }
}

// Apply one variable; returns false (after reporting) on error.
void apply_one(toml::value& root, const std::string& env_name, const std::string& text, Diagnostics& diag) {
  std::vector<std::string> segments = split_levels(std::string_view(env_name).substr(kPrefix.size()));
  Location where{"env " + env_name, 0, 0};
  auto fail = [&](Code code, const std::string& path, std::string message) { diag.add(code, where, path, std::move(message)); };

  if (std::any_of(segments.begin(), segments.end(), [](const std::string& s) { return s.empty(); }))
    return fail(Code::ConfigOverrideUnknownKey, "", "empty level in the variable name");

  // Walk (and create) the tables down to the key's parent.
  toml::value* table = &root;
  std::string path;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    std::string& segment = segments[i];
    auto& entries = table->as_table();
    if (i == 1 && segments[0] == "services") {
      auto match = std::find_if(entries.begin(), entries.end(), [&](const auto& kv) { return lower(kv.first) == segment; });
      if (match == entries.end())
        return fail(Code::ConfigOverrideUnknownKey, "services." + segment,
                    fmt::format("no service \"{}\" in the config file (overrides cannot add services)", segment));
      segment = match->first;  // keep the file's spelling
    } else {
      std::vector<std::string> pattern_so_far(segments.begin(), segments.begin() + static_cast<long>(i) + 1);
      auto known = schema_lookup(schema_pattern(pattern_so_far));
      if (!known) {
        std::vector<std::string> parent(segments.begin(), segments.begin() + static_cast<long>(i));
        auto children = schema_children(schema_pattern(parent)).value_or(std::vector<std::string_view>{});
        return fail(Code::ConfigOverrideUnknownKey, path.empty() ? segment : path + "." + segment,
                    fmt::format("unknown key \"{}\"{}", segment, did_you_mean(segment, children)));
      }
    }
    path += (path.empty() ? "" : ".") + segment;
    auto it = entries.find(segment);
    if (it == entries.end()) it = entries.emplace(segment, toml::table{}).first;
    if (!it->second.is_table())
      return fail(Code::ConfigOverrideUnknownKey, path, fmt::format("{} is not a table in the config file", path));
    table = &it->second;
  }

  const std::string& key = segments.back();
  std::string key_path = path.empty() ? key : path + "." + key;
  auto type = schema_lookup(schema_pattern(segments));
  if (!type) {
    std::vector<std::string> parent(segments.begin(), segments.end() - 1);
    auto children = schema_children(schema_pattern(parent)).value_or(std::vector<std::string_view>{});
    return fail(Code::ConfigOverrideUnknownKey, key_path, fmt::format("unknown key \"{}\"{}", key, did_you_mean(key, children)));
  }
  if (*type == ScalarType::None)
    return fail(Code::ConfigOverrideUnknownKey, key_path, "only scalar keys can be overridden, not tables or arrays");
  auto value = typed_value(text, *type);
  if (!value)
    return fail(Code::ConfigOverrideBadValue, key_path,
                fmt::format("the value of {} is not {} (the value is not shown)", env_name, type_word(*type)));
  table->as_table()[key] = std::move(*value);
  diag.mark_override(key_path, env_name);
  diag.add_secret("${" + env_name + "}", text);
}

}  // namespace

void apply_env_overrides(toml::value& root, const std::vector<std::string>& environment, Diagnostics& diag) {
  if (!root.is_table()) return;
  // Sorted so overrides apply (and report) in a stable order.
  std::vector<std::string> entries(environment.begin(), environment.end());
  std::sort(entries.begin(), entries.end());
  for (const auto& entry : entries) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || entry.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    std::string name = entry.substr(0, eq);
    if (name == "PROCD_CONFIG" || name == "PROCD_SERVICE") continue;
    std::string rest = name.substr(kPrefix.size());
    if (rest.find("__") == std::string::npos) {
      auto type = schema_lookup(lower(rest));
      if (!type || *type == ScalarType::None) continue;  // not ours: PROCD_BIN and friends
    }
    apply_one(root, name, entry.substr(eq + 1), diag);
  }
}

}  // namespace procd::config_detail
