// Interpolation over a parsed TOML tree: every string value, in tables,
// arrays and inline tables, is expanded in place (as_string() is mutable
// and keeps the value's source region, so later diagnostics still point at
// file:line:col). Keys are not interpolated: they are names.
// A problem is reported at the value's line, with the column of its "${"
// when the string is written on one line without escapes (the offset in
// the value is then the offset in the source); otherwise at the value.
#include <fmt/format.h>

#include "src/config/config_internal.hpp"
#include "src/config/interpolate.hpp"

namespace procd::config_detail {
namespace {

// Source column of byte `offset` of the string value `v`, or nullopt when
// the decoded text does not map 1:1 onto the source (escapes, multi-line).
std::optional<int> column_in_source(const toml::value& v, std::size_t offset) {
  const auto* reg = dynamic_cast<const toml::detail::region*>(toml::detail::get_region(v));
  if (reg == nullptr) return std::nullopt;
  const std::string raw = reg->str();
  if (raw.size() < 2 || raw.starts_with("\"\"\"") || raw.starts_with("'''")) return std::nullopt;
  if (raw.front() == '"' && raw.find('\\') != std::string::npos) return std::nullopt;
  if (raw.front() != '"' && raw.front() != '\'') return std::nullopt;
  return static_cast<int>(v.location().column() + 1 + offset);
}

// Warning 1047 for a service's (or health check's) `command` that runs a
// shell script, from its text as written.
void warn_shell_dollars(const toml::value& v, const std::string& path, Diagnostics& diag) {
  if (!path.starts_with("services.") || !path.ends_with(".command")) return;
  std::vector<std::string> argv;
  if (v.is_string()) {
    auto split = shell_split(v.as_string().str);
    if (!split.ok()) return;
    argv = std::move(*split);
  } else if (v.is_array()) {
    for (const auto& item : v.as_array()) {
      if (!item.is_string()) return;
      argv.push_back(item.as_string().str);
    }
  }
  for (auto& message : shell_dollar_warnings(argv)) diag.warn(Code::ConfigShellDollar, v, path, std::move(message));
}

void walk(toml::value& v, const std::string& path, const Environment& env, Diagnostics& diag) {
  warn_shell_dollars(v, path, diag);
  if (v.is_string()) {
    std::string& text = v.as_string().str;
    if (text.find('$') == std::string::npos) return;
    auto result = interpolate(text, env);
    for (const auto& name : result.used)
      if (auto it = env.find(name); it != env.end()) diag.add_secret("${" + name + "}", it->second);
    for (const auto& p : result.problems) {
      Location where = diag.locate(v, path);
      if (where.line > 0)
        if (auto column = column_in_source(v, p.offset)) where.column = *column;
      diag.add(p.code, std::move(where), path, p.message);
    }
    text = std::move(result.value);
  } else if (v.is_array()) {
    for (auto& item : v.as_array()) walk(item, path, env, diag);
  } else if (v.is_table()) {
    for (auto& [key, child] : v.as_table()) walk(child, path.empty() ? key : path + "." + key, env, diag);
  }
}

}  // namespace

// A service's own strings see PROCD_INSTANCE / PROCD_PORT as marks that
// config_replicas.cpp replaces per instance (procd's own values, if any, never).
void interpolate_tree(toml::value& root, const Environment& env, Diagnostics& diag) {
  if (!root.is_table()) return walk(root, "", env, diag);
  Environment instance_env = env;
  instance_env.insert_or_assign("PROCD_INSTANCE", std::string(kInstanceMark));
  instance_env.insert_or_assign("PROCD_PORT", std::string(kPortMark));
  for (auto& [key, child] : root.as_table()) walk(child, key, key == "services" ? instance_env : env, diag);
}

}  // namespace procd::config_detail
