// The control protocol: newline-delimited JSON, one request per line, one
// reply per line (streams: one JSON object per line until closed).
//
//   request  {"v":1, "cmd":"status", "names":["web"], "all":false, ...args}
//   reply    {"v":1, "ok":true, ...body}
//   error    {"v":1, "ok":false, "error":{"code":6005, "message":"..."}}
//   stream   first {"v":1,"ok":true,"stream":true}, then one object a line
//
// Parsing is pure and bounded (kMaxRequestBytes); any malformed input gives
// an Error with a 6xxx code, never an exception to the caller.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "procd/error.hpp"

namespace procd {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

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

// Client side: a parsed reply line. ok=false carries the server's error.
struct Reply {
  bool ok = false;
  nlohmann::json body;  // the whole object
  Error error{Code::RuntimeInternal, {}, std::nullopt, {}};
};
Result<Reply> parse_reply(std::string_view line);

}  // namespace procd
