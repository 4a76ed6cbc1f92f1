// The control protocol's pure half: parsing and encoding of the JSON lines
// exchanged over the control socket (see include/procd/protocol.hpp).
// Invariants: parsing never throws (nlohmann's non-throwing parse, every
// field type checked before use) and is bounded by kMaxRequestBytes; every
// encoder returns exactly one line ending in '\n' with no other newline in
// it (JSON escapes embedded newlines), and never throws on invalid UTF-8:
// service output is arbitrary bytes, so strings are dumped with U+FFFD
// replacing what is not UTF-8 (a log item also carries such a line's exact
// bytes in "line_base64"). The body builders map the views' "none"
// values (pid 0, empty strings) to JSON null where the SPEC shows null.
#include "procd/protocol.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <optional>

#include "procd/log_format.hpp"
#include "procd/logging.hpp"
#include "procd/signal_names.hpp"

namespace procd {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 11> kVerbs = {
    "ping", "status", "start", "stop", "restart", "signal", "logs", "events", "reload", "metrics", "shutdown",
};

std::string dump_line(const json& j) {
  std::string out = j.dump(-1, ' ', false, json::error_handler_t::replace);
  out += '\n';
  return out;
}

// JSON type names for messages ("names must be an array of strings, got number").
const char* type_of(const json& j) { return j.type_name(); }

Error malformed(std::string message) { return make_error(Code::ProtocolMalformed, std::move(message)); }

// Shared by requests and replies: "v" is optional (1 assumed) but, when
// present, must be exactly the integer 1; a future v2 client gets a clear
// refusal instead of a half-understood request.
std::optional<Error> check_version(const json& obj) {
  auto it = obj.find("v");
  if (it == obj.end()) return std::nullopt;
  if (!it->is_number_integer() && !it->is_number_unsigned()) {
    return malformed(fmt::format("\"v\" must be an integer, got {}", type_of(*it)));
  }
  if (it->get<std::int64_t>() != kProtocolVersion) {
    return malformed(fmt::format("unsupported protocol version {} (this procd speaks {})", it->get<std::int64_t>(),
                                 kProtocolVersion));
  }
  return std::nullopt;
}

// A parse that never throws. nlohmann reports the byte offset only through
// the exception path, so the message stays generic but names the input size.
// Nesting is checked first, in one pass: nlohmann parses iteratively but
// dumps (and compares) recursively, so a deep value must never get in.
std::optional<json> parse_object(std::string_view line, const char* what, Code too_deep, Error& err) {
  if (json_nesting_exceeds(line, kMaxJsonDepth)) {
    err = make_error(too_deep, fmt::format("{} nested deeper than {} levels", what, kMaxJsonDepth));
    return std::nullopt;
  }
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    err = malformed(fmt::format("{} is not valid JSON ({} bytes)", what, line.size()));
    return std::nullopt;
  }
  if (!j.is_object()) {
    err = malformed(fmt::format("{} must be a JSON object, got {}", what, type_of(j)));
    return std::nullopt;
  }
  return j;
}

}  // namespace

bool json_nesting_exceeds(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

bool is_known_verb(std::string_view verb) {
  for (auto v : kVerbs) {
    if (v == verb) return true;
  }
  return false;
}

Result<Request> parse_request(std::string_view line) {
  if (line.size() > kMaxRequestBytes) {
    return make_error(Code::ProtocolTooLarge,
                      fmt::format("request of {} bytes exceeds the limit of {} bytes", line.size(), kMaxRequestBytes));
  }
  // Tolerate a CRLF client (socat, nc -C): the '\r' is framing, not data.
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  Error err = malformed("");
  auto parsed = parse_object(line, "request", Code::ProtocolMalformed, err);
  if (!parsed) return err;
  json& j = *parsed;
  if (auto verr = check_version(j)) return *verr;

  Request req;
  auto cmd = j.find("cmd");
  if (cmd == j.end()) return malformed("request has no \"cmd\"");
  if (!cmd->is_string()) return malformed(fmt::format("\"cmd\" must be a string, got {}", type_of(*cmd)));
  req.verb = cmd->get<std::string>();

  if (auto names = j.find("names"); names != j.end() && !names->is_null()) {
    if (!names->is_array()) {
      return malformed(fmt::format("\"names\" must be an array of strings, got {}", type_of(*names)));
    }
    for (std::size_t i = 0; i < names->size(); ++i) {
      const json& n = (*names)[i];
      if (!n.is_string()) {
        return malformed(fmt::format("\"names\" must be an array of strings, element {} is {}", i, type_of(n)));
      }
      req.names.push_back(n.get<std::string>());
    }
  }
  if (auto all = j.find("all"); all != j.end() && !all->is_null()) {
    if (!all->is_boolean()) return malformed(fmt::format("\"all\" must be a boolean, got {}", type_of(*all)));
    req.all = all->get<bool>();
  }
  // Types are checked before the verb so that a malformed request to a
  // future verb reports the malformation, and an unknown verb is reported
  // only for requests that are otherwise well formed.
  if (!is_known_verb(req.verb)) {
    return make_error(Code::ProtocolUnknownVerb,
                      fmt::format("unknown verb \"{}\" (known: ping, status, start, stop, restart, signal, logs, "
                                  "events, reload, metrics, shutdown)",
                                  req.verb));
  }
  req.args = std::move(j);
  return req;
}

std::string encode_request(const Request& req) {
  // Verb-specific keys travel in args; the typed fields win over any stale
  // copies in it so the encoded line always says what the struct says.
  json j = req.args.is_object() ? req.args : json::object();
  j["v"] = req.version;
  j["cmd"] = req.verb;
  j["names"] = req.names;
  j["all"] = req.all;
  return dump_line(j);
}

std::string reply_ok(nlohmann::json body) {
  json j = json::object();
  if (body.is_object()) {
    j = std::move(body);
  } else if (!body.is_null()) {
    j["value"] = std::move(body);  // a non-object body still yields an object line
  }
  j["v"] = kProtocolVersion;
  j["ok"] = true;
  return dump_line(j);
}

std::string reply_error(const Error& err) {
  json e = {{"code", static_cast<int>(err.code)},
            {"message", err.message.empty() ? std::string(code_summary(err.code)) : err.message}};
  // Location and key only when known, so the common reply stays minimal.
  if (!err.key_path.empty()) e["key"] = err.key_path;
  if (err.where) {
    e["file"] = err.where->file;
    e["line"] = err.where->line;
    e["column"] = err.where->column;
  }
  return dump_line(json{{"v", kProtocolVersion}, {"ok", false}, {"error", std::move(e)}});
}

std::string stream_header() { return dump_line(json{{"v", kProtocolVersion}, {"ok", true}, {"stream", true}}); }

std::string stream_item(const nlohmann::json& item) { return dump_line(item); }

namespace {

json null_if_empty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
json null_if_zero(std::int64_t v) { return v == 0 ? json(nullptr) : json(v); }

json last_exit_json(const std::optional<ExitView>& e) {
  if (!e) return nullptr;
  if (e->signal > 0) return {{"code", nullptr}, {"signal", signal_name(e->signal)}};
  return {{"code", e->code}, {"signal", nullptr}};
}

json service_status_json(const ServiceStatusView& s) {
  const bool alive = s.pid > 0;
  json j = {{"name", s.name},
          {"state", s.state},
          {"want", s.want_up ? "up" : "down"},
          {"pid", alive ? json(s.pid) : json(nullptr)},
          {"restarts", s.restarts},
          {"uptime_ms", alive ? s.uptime_ms : 0},
          {"last_exit", last_exit_json(s.last_exit)},
          {"health", null_if_empty(s.health)},
          {"status_text", null_if_empty(s.status_text)},
          {"cpu_percent", alive ? s.cpu_percent : 0.0},
          {"rss_bytes", alive ? s.rss_bytes : 0},
          {"cpu_seconds", s.cpu_seconds},
          {"waiting", s.waiting},
          {"condition", s.condition.empty() ? s.state : s.condition},
          {"reason", null_if_empty(s.reason)},
          {"reason_code", null_if_empty(s.reason_code)},
          {"cgroup", null_if_empty(s.cgroup)},
          {"stop_reason", null_if_empty(s.stop_reason)},
          {"depends_on", s.depends_on}};
  if (s.reload_seq > 0) j["reload"] = {{"seq", s.reload_seq}, {"state", s.reload_state}, {"reason", null_if_empty(s.reload_reason)}};
  return j;
}

}  // namespace

nlohmann::json status_body(const StatusView& status) {
  json services = json::array();
  for (const auto& s : status.services) services.push_back(service_status_json(s));
  return {{"name", status.name}, {"pid", status.pid}, {"uptime_ms", status.uptime_ms}, {"services", std::move(services)}};
}

nlohmann::json service_states_body(const std::vector<std::pair<std::string, std::string>>& name_state) {
  json out = json::array();
  for (const auto& [name, state] : name_state) out.push_back({{"name", name}, {"state", state}});
  return {{"services", std::move(out)}};
}

std::string reload_ok_reply(const ConfigDiff& diff) {
  return reply_ok({{"added", diff.added}, {"removed", diff.removed}, {"changed", diff.changed}, {"kept", diff.kept},
                   {"needs_restart", diff.needs_procd_restart}});
}

std::string reload_error_reply(const std::vector<Error>& errors) {
  json items = json::array();
  for (const auto& e : errors) {
    json item = {{"code", static_cast<int>(e.code)}, {"message", e.message}, {"key", e.key_path}, {"text", e.format()}};
    if (e.where) {
      item["file"] = e.where->file;
      item["line"] = e.where->line;
      item["column"] = e.where->column;
    }
    items.push_back(std::move(item));
  }
  const Code first = errors.empty() ? Code::ConfigSyntax : errors.front().code;
  return dump_line(json{{"v", kProtocolVersion},
                        {"ok", false},
                        {"error", {{"code", static_cast<int>(first)},
                                   {"message", fmt::format("config invalid ({} errors); the running config is kept",
                                                           errors.size())}}},
                        {"errors", std::move(items)}});
}

std::string event_item(const ServiceEventView& event) {
  json j = {{"ts", utc_timestamp(event.wall_ms)},
            {"service", event.service},
            {"state", event.state},
            {"pid", null_if_zero(event.pid)},
            {"condition", event.condition.empty() ? event.state : event.condition},
            {"reason", null_if_empty(event.reason)},
            {"reason_code", null_if_empty(event.reason_code)},
            {"exit_code", event.exit && event.exit->signal == 0 ? json(event.exit->code) : json(nullptr)},
            {"signal", event.exit && event.exit->signal > 0 ? json(signal_name(event.exit->signal)) : json(nullptr)}};
  if (!event.stop_reason.empty()) j["stop_reason"] = event.stop_reason;  // issue 28: a stop's reason
  if (!event.health.empty()) j["health"] = event.health;
  return dump_line(j);
}

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    unsigned v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kBase64[v >> s & 63]);
  }
  if (std::size_t rest = in.size() - i) {
    unsigned v = at(i) << 16 | (rest == 2 ? at(i + 1) << 8 : 0);
    out.push_back(kBase64[v >> 18 & 63]);
    out.push_back(kBase64[v >> 12 & 63]);
    out.push_back(rest == 2 ? kBase64[v >> 6 & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// nullopt when `in` is not padded base64.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    unsigned v = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      char c = in[i + k];
      const char* p = c == '=' ? nullptr : std::strchr(kBase64, c);
      if (c == '=' && i + 4 == in.size() && k >= 2) ++pad;
      else if (!p || c == '\0' || pad) return std::nullopt;
      v = v << 6 | (p ? static_cast<unsigned>(p - kBase64) : 0);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (pad < 2) out.push_back(static_cast<char>(v >> 8 & 255));
    if (pad < 1) out.push_back(static_cast<char>(v & 255));
  }
  return out;
}

}  // namespace

std::string log_item(const LogItemView& item) {
  json j{{"ts", utc_timestamp(item.wall_ms)},
         {"service", item.service},
         {"stream", item.is_procd ? "procd" : item.is_hook ? "hook" : item.is_stderr ? "stderr" : "stdout"},
         {"line", item.line}};
  if (item.partial) j["partial"] = true;
  if (!is_valid_utf8(item.line)) j["line_base64"] = base64_encode(item.line);  // the exact bytes
  return dump_line(j);
}

std::string log_item_bytes(const json& item) {
  if (auto b = item.find("line_base64"); b != item.end() && b->is_string())
    if (auto bytes = base64_decode(b->get_ref<const std::string&>())) return std::move(*bytes);
  auto l = item.find("line");
  return l != item.end() && l->is_string() ? l->get<std::string>() : std::string{};
}

Result<Reply> parse_reply(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxReplyBytes)
    return make_error(Code::ControlReplyRefused,
                      fmt::format("reply of {} bytes exceeds the limit of {} bytes", line.size(), kMaxReplyBytes));
  Error err = malformed("");
  auto parsed = parse_object(line, "reply", Code::ControlReplyRefused, err);
  if (!parsed) return err;
  json& j = *parsed;
  if (auto verr = check_version(j)) return *verr;

  auto ok = j.find("ok");
  if (ok == j.end() || !ok->is_boolean()) return malformed("reply has no boolean \"ok\"");
  Reply reply;
  reply.ok = ok->get<bool>();
  if (!reply.ok) {
    auto e = j.find("error");
    if (e == j.end() || !e->is_object()) return malformed("error reply has no \"error\" object");
    auto code = e->find("code");
    auto msg = e->find("message");
    if (code == e->end() || !code->is_number_integer()) return malformed("error reply has no integer \"error.code\"");
    reply.error = make_error(static_cast<Code>(code->get<int>()),
                             msg != e->end() && msg->is_string() ? msg->get<std::string>() : std::string{});
    if (auto key = e->find("key"); key != e->end() && key->is_string()) reply.error.key_path = key->get<std::string>();
    if (auto file = e->find("file"); file != e->end() && file->is_string()) {
      Location loc{file->get<std::string>(), 0, 0};
      if (auto l = e->find("line"); l != e->end() && l->is_number_integer()) loc.line = l->get<int>();
      if (auto c = e->find("column"); c != e->end() && c->is_number_integer()) loc.column = c->get<int>();
      reply.error.where = std::move(loc);
    }
  }
  reply.body = std::move(j);
  return reply;
}

}  // namespace procd
