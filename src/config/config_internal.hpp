// Private to src/config: the pieces load_config() is assembled from.
//   parse (config_load.cpp) -> compose_config (config_include.cpp: ${...}
//   interpolation per file, config_interpolate.cpp, and the include
//   drop-ins merged in) -> apply_env_overrides (env_overrides.cpp)
//   -> convert_config (config_sections.cpp; each [services.NAME] in
//      config_services.cpp; typed reads through TableReader, table_reader.cpp)
//   -> validate_config (config_validate.cpp, rules spanning several keys).
// Diagnostics collects every error with its location: a TOML value's own
// file:line:col (the file it was parsed from, included files too), or "env PROCD_X" for a value an environment override set.
// The schema (config_schema.cpp) is the one list of known keys, shared by
// the unknown-key check and the typing of env overrides.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml.hpp>

#include "procd/config_load.hpp"
#include "procd/file_io.hpp"
#include "src/config/interpolate.hpp"

namespace procd::config_detail {

// cpu_affinity numbers are below this (CPU_SETSIZE of glibc's cpu_set_t).
inline constexpr int kMaxCpu = 1024;

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  // The value at key_path came from environment variable env_name.
  void mark_override(const std::string& key_path, const std::string& env_name) { overrides_[key_path] = env_name; }
  Location locate(const toml::value& at, const std::string& key_path) const;

  void add(Code code, const toml::value& at, const std::string& key_path, std::string message);
  void add(Code code, Location where, const std::string& key_path, std::string message);
  std::vector<Error>& errors() { return errors_; }
  bool empty() const { return errors_.empty(); }
  // Warnings (keys accepted without effect): reported, never fatal.
  void warn(Code code, const toml::value& at, const std::string& key_path, std::string message) {
    warnings_.push_back(Error{code, std::move(message), locate(at, key_path), key_path});
  }
  std::vector<Error>& warnings() { return warnings_; }

  // Secrets: a value substituted for ${name} is never echoed. redact()
  // replaces it (kMinRedacted bytes or longer) by "${name}" in every error
  // and warning message; the loaders call it before returning.
  static constexpr std::size_t kMinRedacted = 4;
  void add_secret(const std::string& name, const std::string& value) {
    if (value.size() >= kMinRedacted) secrets_.emplace_back(value, name);
  }
  void redact();

  // The files read, in include order (the main one first): values from
  // several files sort by (file, offset).
  void add_file(const std::string& file) { files_.push_back(file); }
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::string file_;
  std::vector<std::string> files_;
  std::vector<Error> warnings_;
  std::map<std::string, std::string> overrides_;
  std::vector<Error> errors_;
  std::vector<std::pair<std::string, std::string>> secrets_;  // (value, name)
};

// Schema: how an environment override is typed; None = not overridable
// (a table or an array).
enum class ScalarType { None, Bool, Int, Float, String, IntOrString };

// The pattern of a key path: the service name replaced by "*".
std::string schema_pattern(const std::vector<std::string>& segments);
// The schema entry of a key pattern ("services.*.restart.policy").
std::optional<ScalarType> schema_lookup(std::string_view pattern);
// Known keys directly under a table pattern; nullopt for free-form tables
// (services, env, depends_on) whose keys are names, not schema keys.
std::optional<std::vector<std::string_view>> schema_children(std::string_view table_pattern);
// `(did you mean "command"?)` or "" when nothing is close enough.
std::string did_you_mean(std::string_view key, const std::vector<std::string_view>& candidates);
// The same for a signal name ("TREM" -> " (did you mean \"TERM\"?)"), in
// the form given (with or without SIG, upper case).
std::string signal_did_you_mean(std::string_view text);
// "a string", "an integer", ... for wrong-type messages.
std::string describe_type(const toml::value& v);

// Typed, located reads from one TOML table. Every getter reports a wrong
// type or an out-of-range value to Diagnostics and returns nullopt, so the
// caller keeps the default and carries on: every error is collected.
class TableReader {
 public:
  // `table` must outlive the reader. A non-table is reported and read as empty.
  TableReader(const toml::value& table, std::string path, std::string pattern, Diagnostics& diag);

  const toml::value* find(std::string_view key) const;
  std::string path_of(std::string_view key) const;
  const std::string& path() const { return path_; }
  const toml::value& value() const { return *table_; }
  Diagnostics& diag() { return *diag_; }
  std::vector<std::string> keys() const;  // in file order

  std::optional<bool> boolean(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<std::int64_t> millis(std::string_view key, std::int64_t min = 0);
  std::optional<std::string> string(std::string_view key);
  std::optional<std::string> one_of(std::string_view key, const std::vector<std::string_view>& allowed);
  std::optional<std::uint64_t> size(std::string_view key);
  std::optional<unsigned> octal(std::string_view key);      // "0600", "022" or 0o600
  std::optional<int> signal(std::string_view key);          // "SIGTERM", "TERM", 15
  std::optional<std::vector<std::string>> command(std::string_view key);  // string or array, non-empty
  // A sub-table; reports a non-table value. nullopt when absent or wrong.
  std::optional<TableReader> table(std::string_view key, std::string_view child_pattern = {});

  // Unknown keys (with did-you-mean) against the schema of this table.
  void check_unknown_keys();

  void error(Code code, std::string_view key, std::string message);
  void wrong_type(std::string_view key, const toml::value& v, std::string_view expected);

 private:
  const toml::value* table_;
  std::string path_;
  std::string pattern_;
  Diagnostics* diag_;
};

// Values a TOML parse may leave in any order (toml::value tables are
// unordered), sorted back into file order by location.
// With `files`, values from several files (the merged [services]) sort by
// the file's rank in that list first.
std::vector<std::pair<std::string, const toml::value*>> in_file_order(const toml::value& table,
                                                                     const std::vector<std::string>* files = nullptr);

// Parse one file's text: the UTF-8 and nesting checks, then toml11; a
// syntax error is reported (located in `path`) and nullopt returned.
std::optional<toml::value> parse_toml_text(const std::string& text, const std::string& path, Diagnostics& diag);

// How the config file and included files are read: at most 16 MiB,
// symlinks followed (ConfigMaps swap them), a regular file only, never
// blocking (read_bounded).
constexpr std::size_t kMaxConfigBytes = std::size_t{16} << 20;
ReadPolicy config_read_policy();

// Every file a config is made of, for the content hash and the file watch.
struct ConfigSources {
  std::vector<std::string> files;  // the main file first, then included ones in order
  std::vector<std::string> globs;  // include patterns, absolute
  std::string all_text;            // "path\0text\0" of each file read
};
// issue 28: ${PROCD_INSTANCE} and ${PROCD_PORT} in a service's strings
// interpolate to these marks (control bytes no TOML text holds unescaped),
// which config_replicas.cpp replaces per instance.
inline constexpr std::string_view kInstanceMark = "\x01PROCD_INSTANCE\x01";
inline constexpr std::string_view kPortMark = "\x01PROCD_PORT\x01";
// One [services.NAME] table read into `svc` -> its instances (one unless
// `replicas` is set), appended to `out`; `grouped`: the table has `replicas`.
void expand_replicas(TableReader& t, ServiceConfig svc, bool grouped, std::vector<ServiceConfig>& out);
// depends_on naming a replicated group -> every instance of it.
void expand_group_dependencies(std::vector<ServiceConfig>& services);

// ${...} in every string value of the tree, in place (config_interpolate.cpp).
void interpolate_tree(toml::value& root, const Environment& env, Diagnostics& diag);
// Interpolates the main tree and merges in the [services.*] of its includes,
// recursively (config_include.cpp). follow_includes = false checks the
// include key but reads no file.
void compose_config(toml::value& root, const std::string& path, const Environment& env, bool follow_includes,
                    ConfigSources& sources, Diagnostics& diag);

// `path` made absolute against `dir` (the config file's directory); "" stays "".
std::string resolve_path(const std::string& dir, const std::string& path);
// The child `key` of a table value; nullptr when absent or `v` is no table.
const toml::value* child(const toml::value* v, const std::string& key);

void apply_env_overrides(toml::value& root, const std::vector<std::string>& environment, Diagnostics& diag);
// Fills `config` (whose path and dir are already set) from the tree.
void convert_config(const toml::value& root, Config& config, Diagnostics& diag);
// One [services.NAME] table into `svc` (whose name is set).
void read_service(TableReader t, ServiceConfig& svc, const std::string& dir);
void validate_config(const Config& config, const toml::value& root, bool as_root, Diagnostics& diag);
// issue 28: at most one `main = true`, which restart / autostart do not apply to (config_main.cpp).
void check_main_services(const Config& config, const toml::value& root, Diagnostics& diag);

// Read a command value (string split like a shell, or array of strings).
std::optional<std::vector<std::string>> read_command(const toml::value& v, const std::string& key_path,
                                                     Diagnostics& diag);

}  // namespace procd::config_detail
