// Helpers shared by the CLI commands that talk to a running supervisor
// (status_commands.cpp, service_commands.cpp, stream_commands.cpp, start.cpp,
// stop.cpp; implemented in control_internal.cpp). Private to src/cli: one
// mapping from errors to exit codes, one way to send a request, and the
// one-line descriptions of a service used by several commands.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "procd/error.hpp"
#include "procd/protocol.hpp"
#include "procd/status_table.hpp"

namespace procd::cli {

// Exit code for an error: 3 when no procd answers, 2 for config (1xxx) and
// usage (6004) errors, 1 for everything else.
int exit_code_for(const Error& e);
// Print `error[CODE]: message` (with location when known) on stderr and
// return exit_code_for(e).
int fail(const Error& e);

// The control socket of the procd started from `config_path` when that
// file does not load any more (being edited; a reload about to be refused):
// [control].socket read leniently (PROCD_CONTROL__SOCKET, else the raw TOML
// key, else the default .STEM.sock beside the file), and only if a socket
// exists there.
std::optional<std::string> fallback_socket(const std::string& config_path);

Request make_request(const std::string& verb, std::vector<std::string> names = {}, bool all = false,
                     nlohmann::json args = nlohmann::json::object());

// Connect, send one request, read one reply. A reply with ok=false is
// returned as a Reply (callers that need its body, like reload, look at it).
Result<Reply> send_request(const std::string& socket, const Request& req, int timeout_ms = 10000);
// Same, but an ok=false reply becomes its Error; the value is the body.
Result<nlohmann::json> call_ok(const std::string& socket, const Request& req, int timeout_ms = 10000);

// "0", "1", "SIGKILL" or "-" for a status entry's last_exit.
std::string last_exit_text(const nlohmann::json& last_exit);
// True when last_exit is a clean exit (code 0, no signal).
bool exited_cleanly(const nlohmann::json& last_exit);
// A service's pid from a status entry, 0 when null or missing.
long long pid_of(const nlohmann::json& svc);
// Lenient field access: replies come from another process, so a missing key
// or a wrong type is a default, never an exception.
std::string str_of(const nlohmann::json& obj, const char* key);               // "" unless a string
long long int_of(const nlohmann::json& obj, const char* key, long long def = 0);  // def unless an integer
const nlohmann::json& field_of(const nlohmann::json& obj, const char* key);   // null when missing
const nlohmann::json& list_of(const nlohmann::json& obj, const char* key);    // [] unless an array

// `procd status`'s table as lines (colored on a terminal without NO_COLOR),
// laid out for `width` columns (0: whole); the terminal's width or 0.
std::vector<std::string> status_table_lines(const nlohmann::json& body, bool wide, std::size_t width);
std::size_t status_terminal_width();
// One service's row of that table from its status entry ("-" for what is missing).
StatusRow status_row_of(const nlohmann::json& svc);
// "3m2s", "1h5m", "2d3h": the UPTIME column's form.
std::string duration_text(long long ms);
// `procd status --watch` (status_watch.cpp).
int watch_status(const std::string& socket, const std::vector<std::string>& names, bool wide);

}  // namespace procd::cli
