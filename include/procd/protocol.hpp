// The control protocol: newline-delimited JSON, one request per line, one
// reply per line (streams: one JSON object per line until closed).
//
//   request  {"v":1, "cmd":"status", "names":["web"], "all":false, ...args}
//   reply    {"v":1, "ok":true, ...body}
//   error    {"v":1, "ok":false, "error":{"code":6005, "message":"..."}}
//   stream   first {"v":1,"ok":true,"stream":true}, then one object a line
//
// Parsing is pure and bounded (kMaxRequestBytes); any malformed input gives
// an Error with a 6xxx code, never an exception to the caller. The reply
// bodies (status, reload, event and log items) are built here too, from
// plain views the supervisor fills, so every JSON shape has one definition.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procd/error.hpp"
#include "procd/reload_diff.hpp"

namespace procd {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;
// A logs reply (`procd logs -n N`, GET /logs?n=N) holds at most the newest
// kMaxLogLines lines (a service ring's capacity) and kMaxLogReplyBytes
// bytes of items, across the chosen services: a larger n is clamped.
inline constexpr std::size_t kMaxLogLines = 1000;
inline constexpr std::size_t kMaxLogReplyBytes = 8u << 20;

// Verbs the server knows.
// ping, status, start, stop, restart, signal, logs, events, reload, metrics, shutdown
bool is_known_verb(std::string_view verb);

struct Request {
  int version = kProtocolVersion;
  std::string verb;
  std::vector<std::string> names;  // services named; empty = all (where that applies)
  bool all = false;                // --all
  nlohmann::json args = nlohmann::json::object();  // the whole request object (verb-specific keys)
};

// One line (without the '\n'). Errors: ProtocolMalformed (not JSON, not an
// object, wrong field types, unsupported version), ProtocolUnknownVerb.
Result<Request> parse_request(std::string_view line);

// Encoders: each returns one line ending in '\n'.
std::string encode_request(const Request& req);
std::string reply_ok(nlohmann::json body = nlohmann::json::object());
std::string reply_error(const Error& err);
std::string stream_header();
std::string stream_item(const nlohmann::json& item);

// ---- Reply bodies (SPEC: `procd status --json`, `events --json`) ----

struct ExitView {
  int code = 0;
  int signal = 0;  // > 0: died by this signal (code is then null)
};

struct ServiceStatusView {
  std::string name;
  std::string state;          // lower-case phase name
  bool want_up = false;
  std::int64_t pid = 0;       // 0: no process; then uptime, cpu and rss read 0
  int restarts = 0;
  std::int64_t uptime_ms = 0;
  std::optional<ExitView> last_exit;
  std::string health;         // "healthy" | "unhealthy"; empty (null) while unknown or unchecked
  std::string status_text;    // last sd_notify STATUS=; empty = null
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;
  double cpu_seconds = 0;
  bool waiting = false;       // held back by its dependencies
  std::string condition;      // the state, with stopped told apart: completed, waiting, blocked; empty = state
  std::string reason;         // why it is in its state (service_reason.hpp); empty = null
  std::string reason_code;    // the reason's stable code; empty = null
  std::string cgroup;         // its cgroup v2 directory; empty = null (process-group fallback)
  std::string stop_reason;    // issue 28: why its last stop began (stop_budget.hpp); empty = null
  // issue 28: the last `procd reload NAME` that ran reload_command; 0 = none (no "reload" key)
  std::uint64_t reload_seq = 0;
  std::string reload_state;   // "running" | "ok" | "failed"
  std::string reload_reason;  // "reload_command exited 2"
  std::vector<std::string> depends_on;  // issue 29 (top's tree): its depends_on as written (a group: its name)
};

struct StatusView {
  std::string name;           // the config's name
  std::int64_t pid = 0;
  std::int64_t uptime_ms = 0;
  std::vector<ServiceStatusView> services;
};

struct ServiceEventView {
  std::int64_t wall_ms = 0;
  std::string service;
  std::string state;
  std::int64_t pid = 0;       // 0 = null
  std::string health;         // empty: key left out
  std::string condition = {};    // empty: the state
  std::string reason = {};       // empty = null
  std::string reason_code = {};  // empty = null
  std::optional<ExitView> exit = {};  // the run that just ended (stopped, failed, restarting); null otherwise
  std::string stop_reason = {};  // issue 28: why the stop of this run began; empty = null
};

struct LogItemView {
  std::int64_t wall_ms = 0;
  std::string_view service;
  bool is_stderr = false;
  std::string_view line;
  bool partial = false;  // a cut piece of a longer line: the next item continues it
  bool is_procd = false;  // procd's own line about the service: "stream":"procd"
  bool is_hook = false;   // a hook's line: "stream":"hook"
};

// {"name","pid","uptime_ms","services":[...]}: the body of a status reply.
nlohmann::json status_body(const StatusView& status);
// {"services":[{"name","state"}]}: the answer to start / stop / restart.
nlohmann::json service_states_body(const std::vector<std::pair<std::string, std::string>>& name_state);
// A successful reload: what was added, removed, changed, kept.
std::string reload_ok_reply(const ConfigDiff& diff);
// A refused reload: the first error's code, a summary message, and every
// error with code, message, key, text and (when known) file/line/column.
std::string reload_error_reply(const std::vector<Error>& errors);
std::string event_item(const ServiceEventView& event);
// {"ts","service","stream","line"}, plus "partial":true on a cut piece and,
// when the line is not valid UTF-8, "line_base64" with its exact bytes
// ("line" then shows U+FFFD for what is not UTF-8).
std::string log_item(const LogItemView& item);
// The exact bytes of a log item's line: line_base64 decoded when present
// (and well-formed), else "line".
std::string log_item_bytes(const nlohmann::json& item);

// Client side: a parsed reply line. ok=false carries the server's error.
struct Reply {
  bool ok = false;
  nlohmann::json body;  // the whole object
  Error error{Code::RuntimeInternal, {}, std::nullopt, {}};
};
// A reply line longer than kMaxReplyBytes, or JSON nested deeper than
// kMaxJsonDepth (a reply or a request), is refused before nlohmann parses
// it (ControlReplyRefused / ProtocolMalformed): nlohmann's dump and
// destructor recurse once per level, so a hostile server could crash the CLI.
Result<Reply> parse_reply(std::string_view line);
inline constexpr std::size_t kMaxReplyBytes = 16u << 20;
inline constexpr int kMaxJsonDepth = 64;
// True when `text` opens more than `limit` arrays / objects at once (outside
// strings); one linear pass, no recursion.
bool json_nesting_exceeds(std::string_view text, int limit = kMaxJsonDepth);

}  // namespace procd
