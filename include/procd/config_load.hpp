// Reading a configuration (the config layer, src/config): where the file
// is, loading and validating it into the plain model of procd/config.hpp,
// and the parsers the CLI and the tests share with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"

namespace procd {

// Where the config file is: explicit path, else $PROCD_CONFIG, else
// ./procd.toml, else /etc/procd/procd.toml. Returns the first candidate that
// exists (or the explicit / env path even if missing, so the error names it).
std::string find_config_path(const std::string& explicit_path);

// The default of a file procd keeps beside its config, named after it:
// `.STEM.KIND` in the config's directory (a.toml -> .a.sock, .a.pid, .a.log;
// procd.toml -> .procd.sock...), so two configs in one directory never
// share a socket, PID file or log.
std::string default_state_file(const std::string& config_path, std::string_view kind);

// `procd run -- CMD` with no config file anywhere (run_dir.cpp): its socket
// and PID file go to a run directory, not the working directory:
// $XDG_RUNTIME_DIR/procd, else /run/procd as root, else /tmp/procd-UID.
// bare_config_path() is the (never read) `DIR/procd.toml` they are named
// after, so `procd status` with no config finds `DIR/.procd.sock`.
std::string bare_run_dir();
std::string bare_config_path();
// Make the run directory (0700) if missing and check it is ours: a real
// directory (not a symlink), owned by our euid, no access for others;
// else error 1065 naming it.
Result<void> make_bare_run_dir();
// True when no config is given or found: no -c, no $PROCD_CONFIG and neither
// ./procd.toml nor /etc/procd/procd.toml exists.
bool no_config_anywhere(const std::string& explicit_path);

struct LoadOptions {
  // Environment used for PROCD_ overrides; nullptr = the process environment.
  const std::vector<std::string>* environment = nullptr;
  // Treat procd as running as root (for the `user` rule); nullopt = geteuid()==0.
  std::optional<bool> as_root;
  // Read the files `include` names (false: check the key only; the fuzzer).
  bool follow_includes = true;
};

// Parse, apply env overrides, validate. On failure returns every error found
// (syntax errors stop parsing; all semantic errors are collected).
struct LoadResult {
  std::optional<Config> config;
  std::vector<Error> errors;
  std::size_t content_hash = 0;  // of every file read, also when the load failed
  std::int64_t read_at_ns = 0;   // CLOCK_REALTIME when load_config began reading (0: from text)
  bool ok() const { return config.has_value() && errors.empty(); }
};
LoadResult load_config(const std::string& path, const LoadOptions& opts = {});
// Same, from text already in memory (`path` used for locations and base dir).
LoadResult load_config_text(const std::string& text, const std::string& path, const LoadOptions& opts = {});

// toml11 recurses once per nested array or inline table: text nested deeper
// than kMaxNesting would overflow the stack. Returns the ConfigSyntax error
// at the first bracket too deep (brackets in strings and comments do not
// count), or nullopt. load_config*() run it first; so must any other
// toml::parse of a user's file.
inline constexpr int kMaxNesting = 64;
// The same pass refuses a dotted key of more than kMaxKeyDepth parts
// (a.b.c is 3; in table headers too) with ConfigKeyTooDeep: toml11 takes
// super-linear time on a deep key.
inline constexpr int kMaxKeyDepth = 32;
std::optional<Error> check_nesting(std::string_view text, const std::string& file);

// Shared with the CLI and the tests.
Result<std::vector<std::string>> shell_split(const std::string& command);
// When a service needs the notify socket (ready = "notify", watchdog_ms)
// and its path, control socket + ".notify", is longer than a unix socket
// address holds: the message naming the path and the first such service.
// Checked by validation (error ConfigSocketPathTooLong) and `run --socket`.
std::optional<std::string> notify_socket_too_long(const Config& config);

// issue 28: `procd run -- CMD ARGS...`: adds the service "main" (main =
// true, autostart) running `command` and remembers it in
// config.run_command (a reload adds it again). A service already named
// main (1059) or another `main = true` (1058) is an error.
Result<void> add_run_command(Config& config, const std::vector<std::string>& command);

}  // namespace procd
