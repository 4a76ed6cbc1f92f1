// Located, typed reads from the TOML tree. Owns Diagnostics (every error
// with its file:line:col, or "env PROCD_X" for an overridden value),
// in_file_order (toml11's tables are unordered) and TableReader, whose
// getters report a wrong type or an out-of-range value in place.
// Invariant: a getter that finds a problem reports it and returns nullopt,
// so the caller keeps the default and one bad key never hides the errors
// after it.
#include <algorithm>
#include <fmt/format.h>
#include <tuple>

#include "src/config/config_internal.hpp"
#include "procd/signal_names.hpp"

namespace procd::config_detail {

const toml::value* child(const toml::value* v, const std::string& key) {
  if (v == nullptr || !v->is_table()) return nullptr;
  const auto& table = v->as_table();
  auto it = table.find(key);
  return it == table.end() ? nullptr : &it->second;
}

Location Diagnostics::locate(const toml::value& at, const std::string& key_path) const {
  if (auto it = overrides_.find(key_path); it != overrides_.end()) return Location{"env " + it->second, 0, 0};
  auto loc = at.location();
  // Values built in memory (not parsed) carry toml11's "unknown file" region.
  if (loc.file_name() == "unknown file") return Location{file_, 0, 0};
  // The file the value was parsed from: an included file names itself.
  return Location{loc.file_name(), static_cast<int>(loc.line()), static_cast<int>(loc.column())};
}

void Diagnostics::add(Code code, const toml::value& at, const std::string& key_path, std::string message) {
  add(code, locate(at, key_path), key_path, std::move(message));
}

void Diagnostics::add(Code code, Location where, const std::string& key_path, std::string message) {
  errors_.push_back(Error{code, std::move(message), std::move(where), key_path});
}

// Longer values first, so a secret that contains another is replaced whole.
void Diagnostics::redact() {
  if (secrets_.empty()) return;
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  auto scrub = [&](std::string& message) {
    for (const auto& [value, name] : secrets_) {
      for (std::size_t at = message.find(value); at != std::string::npos; at = message.find(value, at + name.size()))
        message.replace(at, value.size(), name);
    }
  };
  for (auto& e : errors_) scrub(e.message);
  for (auto& w : warnings_) scrub(w.message);
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

// Rank of the file a value came from in `files` (0 when not given or unlocated).
std::size_t file_rank(const toml::value& v, const std::vector<std::string>* files) {
  if (files == nullptr || files->size() < 2) return 0;
  const auto* reg = dynamic_cast<const toml::detail::region*>(toml::detail::get_region(v));
  if (!reg) return files->size();
  auto it = std::find(files->begin(), files->end(), reg->name());
  return static_cast<std::size_t>(it - files->begin());
}

}  // namespace

std::vector<std::pair<std::string, const toml::value*>> in_file_order(const toml::value& table,
                                                                     const std::vector<std::string>* files) {
  std::vector<std::pair<std::string, const toml::value*>> out;
  if (!table.is_table()) return out;
  std::vector<std::tuple<std::size_t, std::size_t, std::string, const toml::value*>> keyed;
  for (const auto& [key, value] : table.as_table())
    keyed.emplace_back(file_rank(value, files), source_offset(value), key, &value);
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a), std::get<2>(a)) < std::tie(std::get<0>(b), std::get<1>(b), std::get<2>(b));
  });
  out.reserve(keyed.size());
  for (auto& [rank, offset, key, value] : keyed) out.emplace_back(std::move(key), value);
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

// Every duration goes through here, so every one has the same upper bound
// (SPEC Part 2 "Time values"): the timers and deadlines built from it can
// never overflow.
std::optional<std::int64_t> TableReader::millis(std::string_view key, std::int64_t min) {
  const toml::value* v = find(key);
  if (v != nullptr && v->is_integer() && v->as_integer() > kMaxDurationMs) {
    error(Code::ConfigOutOfRange, key,
          fmt::format("{} ms is out of range (at most a year: {} ms)", v->as_integer(), kMaxDurationMs));
    return std::nullopt;
  }
  return integer(key, min, kMaxDurationMs);
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
  if (!sig) error(Code::ConfigUnknownSignal, key, fmt::format("unknown signal \"{}\"{}", text, signal_did_you_mean(text)));
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

}  // namespace procd::config_detail
