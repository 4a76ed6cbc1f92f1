// TOML text -> Config: the entry points (find_config_path, load_config,
// load_config_text) and the turning of toml11's syntax errors into located
// diagnostics. The steps in between live beside this file: env overrides
// (env_overrides.cpp), the typed conversion (config_sections.cpp for the
// top-level tables, config_services.cpp for [services.NAME]) and the rules
// spanning several keys (config_validate.cpp).
// Invariants: a Config is returned only when there are no errors; errors
// come sorted top to bottom, like a compiler's; toml11 (which recurses once
// per nested array or inline table) never sees text nested deeper than
// kMaxNesting, so no file can overflow the stack of a reloading supervisor.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <tuple>

#include "src/config/config_internal.hpp"
#include "src/config/utf8_check.hpp"

extern char** environ;

namespace procd {
namespace fs = std::filesystem;
using config_detail::Diagnostics;

namespace {

// toml11 3.x puts the useful location in what(): the last annotated source
// line (" 3 | text") and its marker line ("   |    ^--- why"). The
// exception's own location() is where the parser stopped, often line 1.
// Plain loops, no regex: both lines are as long as the offending source line
// (a recursive matcher overflowed the stack on a 40 KB one).
bool is_blank(char c) { return c == ' ' || c == '\t'; }

// " 3 | text" -> 3; 0 when the line is not a source line.
int source_line_number(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_blank(line[i])) ++i;
  int number = 0;
  std::size_t digits = 0;
  for (; i < line.size() && line[i] >= '0' && line[i] <= '9' && digits < 9; ++i, ++digits) number = number * 10 + (line[i] - '0');
  return digits > 0 && line.substr(i, 3) == " | " ? number : 0;
}

// "   |    ^--- why" -> column 5 (the first marker's, 1-based) and "why".
std::optional<std::pair<int, std::string>> marker_of(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_blank(line[i])) ++i;
  if (line.substr(i, 2) != "| ") return std::nullopt;
  i += 2;
  const std::size_t text_start = i;
  while (i < line.size() && is_blank(line[i])) ++i;
  const std::size_t marker = i;
  while (i < line.size() && (line[i] == '^' || line[i] == '~')) ++i;
  if (i == marker) return std::nullopt;
  while (i < line.size() && line[i] == '-') ++i;
  while (i < line.size() && is_blank(line[i])) ++i;
  return std::make_pair(static_cast<int>(marker - text_start) + 1, std::string(line.substr(i)));
}

// toml11's wording for the mistakes people make most, in plain words,
// judged from the source line (`source`) and the column (1-based) it
// points at; nullopt keeps toml11's message.
std::optional<std::string> plain_syntax_message(std::string_view message, std::string_view source, int column) {
  std::string_view rest;
  if (column >= 1 && static_cast<std::size_t>(column) <= source.size()) rest = source.substr(static_cast<std::size_t>(column) - 1);
  if (message.find("not a valid multiline") != std::string_view::npos)
    return std::string("unterminated multi-line string: no closing `\"\"\"` (or `'''`) after it");
  if (message.find("not a valid string") != std::string_view::npos && rest.starts_with('"') &&
      rest.find('"', 1) == std::string_view::npos)
    return std::string("unterminated string: no closing `\"` on this line");
  if (message.find("not a valid literal string") != std::string_view::npos && rest.starts_with('\'') &&
      rest.find('\'', 1) == std::string_view::npos)
    return std::string("unterminated string: no closing `'` on this line");
  auto code = source.substr(0, source.find('#'));
  while (!code.empty() && is_blank(code.back())) code.remove_suffix(1);
  while (!code.empty() && is_blank(code.front())) code.remove_prefix(1);
  const bool bad_key = message.find("invalid key") != std::string_view::npos;
  if (bad_key && code.starts_with("[[") && !code.ends_with("]]"))
    return std::string("missing `]]` at the end of the array-of-tables header");
  if (bad_key && code.starts_with('[') && !code.ends_with(']'))
    return std::string("missing `]` at the end of the table header");
  if (message.find("missing array separator") != std::string_view::npos)
    return std::string("missing `,` between array values, or the `]` that closes the array");
  return std::nullopt;
}

Error syntax_error_of(const toml::syntax_error& e, const std::string& file) {
  std::string what = e.what();
  std::istringstream lines(what);
  std::string line, first, note, source, pending_source;
  int line_no = 0, column = 0;
  std::getline(lines, first);
  int pending_line = 0;
  while (std::getline(lines, line)) {
    if (int number = source_line_number(line); number > 0) {
      pending_line = number;
      pending_source = line.substr(line.find(" | ") + 3);
    } else if (pending_line > 0) {
      if (auto marker = marker_of(line)) {
        line_no = pending_line;
        column = marker->first;
        note = std::move(marker->second);
        source = pending_source;
      }
    }
  }
  // "[error] toml::parse_array: missing ..." -> "missing ..."
  auto colon = first.find(": ");
  std::string message = colon == std::string::npos ? first : first.substr(colon + 2);
  if (auto plain = plain_syntax_message(message, source, column)) message = *plain;
  else if (!note.empty()) message += " (" + note + ")";
  Code code = first.find("already exists") != std::string::npos ? Code::ConfigDuplicateName : Code::ConfigSyntax;
  if (line_no == 0) {
    line_no = static_cast<int>(e.location().line());
    column = static_cast<int>(e.location().column());
  }
  return Error{code, message, Location{file, line_no, column}, {}};
}

}  // namespace

// One pass over the text counting open '[' and '{' outside strings and
// comments: the first bracket deeper than kMaxNesting is an error at its
// line:col. Table headers count too ([[a]] is 2), harmlessly. Anything the
// scan gets wrong about TOML is toml11's to report; the scan only has to
// never under-count, and strings / comments are the only places a bracket
// does not open anything.
// The same pass counts the dots of each run of key text (bare-key
// characters, blanks, quoted strings and dots; anything else ends the run):
// a key's dots are all in one run, so a key is never under-counted, and a
// value's run (1.5, a time) has at most one dot.

std::optional<Error> check_nesting(std::string_view text, const std::string& file) {
  int depth = 0, line = 1, dots = 0;
  std::size_t line_start = 0, i = 0;
  auto key_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == ' ' || c == '\t';
  };
  auto starts = [&](std::string_view what) { return text.substr(i, what.size()) == what; };
  auto newline = [&] { ++line, line_start = i + 1; };
  // Skip to just past `close`; `escapes` for basic strings, `one_line` for single-line ones.
  auto skip_string = [&](std::string_view close, bool escapes, bool one_line) {
    for (; i < text.size(); ++i) {
      if (escapes && text[i] == '\\') {
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i, newline();
        else ++i;
      } else if (text[i] == '\n') {
        if (one_line) return;  // unterminated: toml11 reports it
        newline();
      } else if (starts(close)) {
        i += close.size() - 1;
        return;
      }
    }
  };
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && ++dots >= kMaxKeyDepth) {
      return Error{Code::ConfigKeyTooDeep, fmt::format("dotted key with more than {} parts", kMaxKeyDepth),
                   Location{file, line, static_cast<int>(i - line_start) + 1}, {}};
    }
    if (c != '.' && c != '"' && c != '\'' && !key_char(c)) dots = 0;
    if (c == '\n') newline();
    else if (c == '#') { while (i + 1 < text.size() && text[i + 1] != '\n') ++i; }
    else if (starts("\"\"\"")) i += 3, skip_string("\"\"\"", true, false);
    else if (starts("'''")) i += 3, skip_string("'''", false, false);
    else if (c == '"') ++i, skip_string("\"", true, true);
    else if (c == '\'') ++i, skip_string("'", false, true);
    else if (c == ']' || c == '}') depth = depth > 0 ? depth - 1 : 0;
    else if ((c == '[' || c == '{') && ++depth > kMaxNesting) {
      int column = static_cast<int>(i - line_start) + 1;
      return Error{Code::ConfigSyntax,
                   fmt::format("arrays and inline tables nested deeper than {} levels", kMaxNesting),
                   Location{file, line, column}, {}};
    }
  }
  return std::nullopt;
}

namespace {

std::vector<std::string> process_environment() {
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) out.emplace_back(*entry);
  return out;
}

}  // namespace

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

std::string default_state_file(const std::string& config_path, std::string_view kind) {
  std::error_code ec;
  fs::path file = fs::absolute(config_path, ec);
  if (ec) file = config_path;
  file = file.lexically_normal();
  std::string stem = file.stem().string();
  if (stem.empty()) stem = "procd";
  return (file.parent_path() / fmt::format(".{}.{}", stem, kind)).string();
}

namespace {

std::int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

LoadResult load_config(const std::string& path, const LoadOptions& opts) {
  // Non-blocking and a regular file only: a FIFO, a directory or a device
  // at the path is an error at once, never a hang of `check` or of the
  // supervisor's loop on reload. Symlinks are followed (ConfigMaps).
  const std::int64_t read_at = realtime_ns();
  auto text = read_bounded(path, config_detail::config_read_policy());
  if (!text.ok())
    return {std::nullopt, {Error{Code::ConfigFileUnreadable,
                                 fmt::format("cannot read config file: {} (the config is the first of: -c FILE, "
                                             "$PROCD_CONFIG, ./procd.toml, /etc/procd/procd.toml)",
                                             text.error().message),
                                 Location{path, 0, 0}, {}}}};
  LoadResult out = load_config_text(*text, path, opts);
  out.read_at_ns = read_at;  // the file watch checks what changed since
  if (out.config) out.config->read_at_ns = read_at;
  return out;
}

namespace config_detail {

ReadPolicy config_read_policy() { return ReadPolicy{kMaxConfigBytes, true, true}; }

std::optional<toml::value> parse_toml_text(const std::string& text, const std::string& path, Diagnostics& diag) {
  if (auto bad = find_invalid_utf8(text, path)) return diag.errors().push_back(std::move(*bad)), std::nullopt;
  if (auto deep = check_nesting(text, path)) return diag.errors().push_back(std::move(*deep)), std::nullopt;
  try {
    std::istringstream in(text);
    return toml::parse(in, path);
  } catch (const toml::syntax_error& e) {
    diag.errors().push_back(syntax_error_of(e, path));
  } catch (const std::exception& e) {
    diag.errors().push_back(Error{Code::ConfigSyntax, e.what(), Location{path, 0, 0}, {}});
  }
  return std::nullopt;
}

}  // namespace config_detail

namespace {

// Report like a compiler, file by file (in include order) top to bottom;
// errors with no line in a file (environment overrides) come last.
LoadResult failure(Diagnostics& diag, std::size_t hash) {
  diag.redact();  // no interpolated or override value is echoed
  auto& errors = diag.errors();
  const auto& files = diag.files();
  auto key = [&](const Error& e) {
    bool located = e.where && e.where->line > 0;
    auto rank = located ? std::find(files.begin(), files.end(), e.where->file) - files.begin() : INT32_MAX;
    return std::make_tuple(rank, located ? e.where->line : INT32_MAX, e.where ? e.where->column : 0);
  };
  std::stable_sort(errors.begin(), errors.end(), [&](const Error& a, const Error& b) { return key(a) < key(b); });
  LoadResult out{std::nullopt, std::move(errors)};
  out.content_hash = hash;
  return out;
}

}  // namespace

LoadResult load_config_text(const std::string& text, const std::string& path, const LoadOptions& opts) {
  Diagnostics diag(path);
  diag.add_file(path);
  config_detail::ConfigSources sources;
  sources.files.push_back(path);
  sources.all_text = path + '\0' + text + '\0';
  const auto environment = opts.environment ? *opts.environment : process_environment();
  // Phase 1, the files: parse, interpolate, merge the drop-ins. Its errors
  // stop here: converting half-expanded values would only add noise.
  auto root = config_detail::parse_toml_text(text, path, diag);
  if (root)
    config_detail::compose_config(*root, path, config_detail::environment_from(environment), opts.follow_includes,
                                  sources, diag);
  const std::size_t hash = std::hash<std::string>{}(sources.all_text);
  if (!diag.empty()) return failure(diag, hash);

  // Phase 2, the values: overrides (after interpolation, never interpolated), types, rules.
  config_detail::apply_env_overrides(*root, environment, diag);
  Config config;
  fs::path absolute = fs::absolute(path).lexically_normal();
  config.path = absolute.string();
  config.dir = absolute.parent_path().string();
  config_detail::convert_config(*root, config, diag);
  config_detail::validate_config(config, *root, opts.as_root.value_or(::geteuid() == 0), diag);
  if (!diag.empty()) return failure(diag, hash);
  for (const auto& file : sources.files) config.sources.push_back(fs::absolute(file).lexically_normal().string());
  config.include_globs = std::move(sources.globs);
  config.content_hash = hash;
  diag.redact();
  config.warnings = std::move(diag.warnings());
  LoadResult out{std::move(config), {}};
  out.content_hash = hash;
  return out;
}

}  // namespace procd
