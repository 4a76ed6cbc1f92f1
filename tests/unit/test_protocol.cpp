// Unit tests for src/control/protocol.cpp: every malformed request is an
// Error with the right 6xxx code and a message naming the problem; encoders
// produce exactly one line; round trips keep verb, names, all and extra
// arguments; invalid UTF-8 from service output never throws. The reply
// bodies have the SPEC's shapes (status --json, events --json, reload), and
// every verb the protocol accepts has a row in the verb table.
#include <doctest/doctest.h>

#include <string>

#include "procd/control_verbs.hpp"
#include "procd/protocol.hpp"

using namespace procd;
using json = nlohmann::json;

namespace {

Error parse_error(const std::string& line) {
  auto r = parse_request(line);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

bool one_line(const std::string& s) { return !s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1; }

}  // namespace

TEST_CASE("protocol: known verbs") {
  for (const char* v : {"ping", "status", "start", "stop", "restart", "signal", "logs", "events", "reload", "metrics",
                        "shutdown"}) {
    CHECK(is_known_verb(v));
  }
  CHECK_FALSE(is_known_verb(""));
  CHECK_FALSE(is_known_verb("Status"));
  CHECK_FALSE(is_known_verb("exec"));
}

TEST_CASE("protocol: a well-formed request") {
  auto r = parse_request(R"({"v":1,"cmd":"status","names":["web","db"],"all":false,"extra":7})");
  REQUIRE(r.ok());
  CHECK(r->verb == "status");
  CHECK(r->names == std::vector<std::string>{"web", "db"});
  CHECK_FALSE(r->all);
  CHECK(r->args["extra"] == 7);
  CHECK(r->version == 1);

  auto minimal = parse_request(R"({"cmd":"ping"})");
  REQUIRE(minimal.ok());
  CHECK(minimal->names.empty());
  CHECK_FALSE(minimal->all);

  auto crlf = parse_request("{\"cmd\":\"ping\"}\r");
  CHECK(crlf.ok());
  auto nulls = parse_request(R"({"cmd":"restart","names":null,"all":null})");
  CHECK(nulls.ok());
  auto all = parse_request(R"({"cmd":"restart","all":true})");
  REQUIRE(all.ok());
  CHECK(all->all);
}

TEST_CASE("protocol: malformed requests") {
  struct Case {
    const char* line;
    const char* message_part;
  };
  const Case cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"{\"cmd\":\"ping\"} trailing", "not valid JSON"},
      {"[\"ping\"]", "must be a JSON object, got array"},
      {"\"ping\"", "must be a JSON object, got string"},
      {"42", "must be a JSON object, got number"},
      {"null", "must be a JSON object, got null"},
      {"{}", "no \"cmd\""},
      {R"({"names":["web"]})", "no \"cmd\""},
      {R"({"cmd":5})", "\"cmd\" must be a string, got number"},
      {R"({"cmd":null})", "\"cmd\" must be a string, got null"},
      {R"({"cmd":"status","names":"web"})", "\"names\" must be an array of strings, got string"},
      {R"({"cmd":"status","names":{"a":1}})", "got object"},
      {R"({"cmd":"status","names":["web",3]})", "element 1 is number"},
      {R"({"cmd":"restart","all":"yes"})", "\"all\" must be a boolean, got string"},
      {R"({"cmd":"restart","all":1})", "\"all\" must be a boolean, got number"},
      {R"({"v":2,"cmd":"ping"})", "unsupported protocol version 2"},
      {R"({"v":0,"cmd":"ping"})", "unsupported protocol version 0"},
      {R"({"v":"1","cmd":"ping"})", "\"v\" must be an integer, got string"},
      {R"({"v":1.5,"cmd":"ping"})", "\"v\" must be an integer, got number"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    Error e = parse_error(c.line);
    CHECK(e.code == Code::ProtocolMalformed);
    CHECK(e.message.find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("protocol: unknown verb is named; malformation wins over it") {
  Error e = parse_error(R"({"cmd":"frobnicate"})");
  CHECK(e.code == Code::ProtocolUnknownVerb);
  CHECK(e.message.find("\"frobnicate\"") != std::string::npos);
  CHECK(parse_error(R"({"cmd":"frobnicate","names":1})").code == Code::ProtocolMalformed);
}

TEST_CASE("protocol: size limit") {
  std::string pad(kMaxRequestBytes, ' ');
  std::string big = R"({"cmd":"ping","pad":")" + pad + "\"}";
  Error e = parse_error(big);
  CHECK(e.code == Code::ProtocolTooLarge);
  CHECK(e.message.find(std::to_string(kMaxRequestBytes)) != std::string::npos);
  // Exactly at the limit is still parsed (whitespace is valid JSON padding).
  std::string body = R"({"cmd":"ping"})";
  std::string at_limit = body + std::string(kMaxRequestBytes - body.size(), ' ');
  CHECK(parse_request(at_limit).ok());
}

TEST_CASE("protocol: invalid UTF-8") {
  // In a request it is malformed JSON, not a crash.
  CHECK(parse_error("{\"cmd\":\"ping\",\"x\":\"\xff\xfe\"}").code == Code::ProtocolMalformed);
  // In output it is replaced (U+FFFD) so the line stays valid JSON.
  json item = {{"service", "web"}, {"line", std::string("bad \xff\xc3 bytes")}};
  std::string line;
  CHECK_NOTHROW(line = stream_item(item));
  CHECK(one_line(line));
  json back = json::parse(line);
  CHECK(back["line"] == "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
  CHECK_NOTHROW(line = reply_ok(json{{"text", std::string("\x80")}}));
  CHECK(json::parse(line)["text"] == "\xEF\xBF\xBD");
  CHECK_NOTHROW(line = reply_error(make_error(Code::RuntimeInternal, std::string("oops \xff"))));
  CHECK(json::parse(line)["error"]["message"] == "oops \xEF\xBF\xBD");
}

TEST_CASE("protocol: request round trip") {
  Request req;
  req.verb = "logs";
  req.names = {"web", "db"};
  req.args = {{"lines", 50}, {"follow", true}, {"cmd", "stale"}};
  std::string line = encode_request(req);
  CHECK(one_line(line));
  auto back = parse_request(line.substr(0, line.size() - 1));
  REQUIRE(back.ok());
  CHECK(back->verb == "logs");  // the typed field wins over args["cmd"]
  CHECK(back->names == req.names);
  CHECK_FALSE(back->all);
  CHECK(back->args["lines"] == 50);
  CHECK(back->args["follow"] == true);
  CHECK(back->args["v"] == 1);

  Request all;
  all.verb = "restart";
  all.all = true;
  auto again = parse_request(encode_request(all));
  REQUIRE(again.ok());
  CHECK(again->all);
  CHECK(again->names.empty());
}

TEST_CASE("protocol: replies") {
  CHECK(reply_ok() == "{\"ok\":true,\"v\":1}\n");
  std::string ok = reply_ok(json{{"pid", 12}, {"name", "stack"}});
  CHECK(one_line(ok));
  CHECK(json::parse(ok) == json{{"v", 1}, {"ok", true}, {"pid", 12}, {"name", "stack"}});

  std::string err = reply_error(make_error(Code::ServiceUnknown, "no service named \"x\""));
  CHECK(json::parse(err) ==
        json{{"v", 1}, {"ok", false}, {"error", {{"code", 4009}, {"message", "no service named \"x\""}}}});
  // An empty message falls back to the code's summary.
  CHECK(json::parse(reply_error(make_error(Code::ProtocolTooLarge, "")))["error"]["message"] ==
        "control request too large");

  CHECK(json::parse(stream_header()) == json{{"v", 1}, {"ok", true}, {"stream", true}});
  CHECK(stream_item(json{{"a", "x\ny"}}) == "{\"a\":\"x\\ny\"}\n");
}

TEST_CASE("protocol: parse_reply") {
  auto ok = parse_reply(reply_ok(json{{"pid", 5}}));
  REQUIRE(ok.ok());
  CHECK(ok->ok);
  CHECK(ok->body["pid"] == 5);

  Error src = make_error(Code::ConfigUnknownKey, "unknown key \"colour\"");
  src.key_path = "logging.colour";
  src.where = Location{"procd.toml", 3, 1};
  auto er = parse_reply(reply_error(src));
  REQUIRE(er.ok());
  CHECK_FALSE(er->ok);
  CHECK(er->error.code == Code::ConfigUnknownKey);
  CHECK(er->error.message == "unknown key \"colour\"");
  CHECK(er->error.format() == "procd.toml:3:1: error[1002]: logging.colour: unknown key \"colour\"");

  CHECK(parse_reply("nope").error().code == Code::ProtocolMalformed);
  CHECK(parse_reply("[]").error().code == Code::ProtocolMalformed);
  CHECK(parse_reply(R"({"v":1})").error().message.find("\"ok\"") != std::string::npos);
  CHECK(parse_reply(R"({"ok":"true"})").error().code == Code::ProtocolMalformed);
  CHECK(parse_reply(R"({"ok":false})").error().message.find("\"error\"") != std::string::npos);
  CHECK(parse_reply(R"({"ok":false,"error":{"message":"x"}})").error().code == Code::ProtocolMalformed);
  CHECK(parse_reply(R"({"v":9,"ok":true})").error().message.find("version 9") != std::string::npos);
}

TEST_CASE("protocol: status body has the SPEC shape") {
  StatusView st{"my-stack", 123, 5000, {}};
  ServiceStatusView web;
  web.name = "web";
  web.state = "running";
  web.want_up = true;
  web.pid = 456;
  web.uptime_ms = 4000;
  web.last_exit = ExitView{1, 0};
  web.health = "healthy";
  web.cpu_percent = 0.5;
  web.rss_bytes = 123456;
  web.cgroup = "/sys/fs/cgroup/procd-x-01234567/svc-web";
  ServiceStatusView db;  // never ran: nulls, and no stale uptime or usage
  db.name = "db";
  db.state = "failed";
  db.uptime_ms = 99;
  db.cpu_percent = 3;
  db.rss_bytes = 7;
  db.last_exit = ExitView{0, 9};
  db.waiting = true;
  db.reason = "waiting for x";
  db.depends_on = {"web", "cache"};
  st.services = {web, db};
  json j = status_body(st);
  CHECK(j["name"] == "my-stack");
  CHECK(j["pid"] == 123);
  CHECK(j["uptime_ms"] == 5000);
  REQUIRE(j["services"].size() == 2);
  const json& w = j["services"][0];
  CHECK(w["name"] == "web");
  CHECK(w["state"] == "running");
  CHECK(w["want"] == "up");
  CHECK(w["pid"] == 456);
  CHECK(w["restarts"] == 0);
  CHECK(w["uptime_ms"] == 4000);
  CHECK(w["last_exit"] == json{{"code", 1}, {"signal", nullptr}});
  CHECK(w["health"] == "healthy");
  CHECK(w["status_text"].is_null());
  CHECK(w["cpu_percent"] == 0.5);
  CHECK(w["rss_bytes"] == 123456);
  CHECK(w["reason"].is_null());
  CHECK(w["cgroup"] == "/sys/fs/cgroup/procd-x-01234567/svc-web");
  const json& d = j["services"][1];
  CHECK(d["pid"].is_null());
  CHECK(d["want"] == "down");
  CHECK(d["uptime_ms"] == 0);
  CHECK(d["cpu_percent"] == 0.0);
  CHECK(d["rss_bytes"] == 0);
  CHECK(d["health"].is_null());
  CHECK(d["last_exit"] == json{{"code", nullptr}, {"signal", "SIGKILL"}});
  CHECK(d["waiting"] == true);
  CHECK(d["reason"] == "waiting for x");
  CHECK(d["cgroup"].is_null());  // the process-group fallback
  CHECK(d["depends_on"] == json::array({"web", "cache"}));  // as written in the config
  CHECK(w["depends_on"] == json::array());
  CHECK(status_body(StatusView{})["services"] == json::array());
}

TEST_CASE("protocol: start/stop/restart body") {
  CHECK(service_states_body({{"web", "stopping"}}) ==
        json{{"services", json::array({json{{"name", "web"}, {"state", "stopping"}}})}});
}

TEST_CASE("protocol: reload replies") {
  ConfigDiff diff;
  diff.added = {"new"};
  diff.kept = {"db"};
  diff.needs_procd_restart = {"pid_file"};
  std::string ok = reload_ok_reply(diff);
  CHECK(one_line(ok));
  CHECK(json::parse(ok) == json{{"v", 1}, {"ok", true}, {"added", {"new"}}, {"removed", json::array()},
                               {"changed", json::array()}, {"kept", {"db"}}, {"needs_restart", {"pid_file"}}});

  Error located = make_error(Code::ConfigUnknownKey, "unknown key \"colour\"");
  located.key_path = "logging.colour";
  located.where = Location{"procd.toml", 3, 7};
  std::string err = reload_error_reply({located, make_error(Code::ConfigDependencyCycle, "a -> b -> a")});
  CHECK(one_line(err));
  json e = json::parse(err);
  CHECK(e["ok"] == false);
  CHECK(e["error"]["code"] == 1002);  // the first error's code
  CHECK(e["error"]["message"] == "config invalid (2 errors); the running config is kept");
  REQUIRE(e["errors"].size() == 2);
  CHECK(e["errors"][0] == json{{"code", 1002}, {"message", "unknown key \"colour\""}, {"key", "logging.colour"},
                               {"text", located.format()}, {"file", "procd.toml"}, {"line", 3}, {"column", 7}});
  CHECK_FALSE(e["errors"][1].contains("file"));
  CHECK(e["errors"][1]["code"] == 1009);
  // The client reads the summary like any error reply.
  auto parsed = parse_reply(err);
  REQUIRE(parsed.ok());
  CHECK(parsed->error.code == Code::ConfigUnknownKey);
  CHECK(json::parse(reload_error_reply({}))["error"]["code"] == 1001);
}

TEST_CASE("protocol: event and log items") {
  std::string ev = event_item({1000, "web", "running", 456, ""});
  CHECK(one_line(ev));
  json ev1 = json::parse(ev);
  for (const char* k : {"condition", "reason", "reason_code", "exit_code", "signal"}) ev1.erase(k);  // issue 27: below
  CHECK(ev1 == json{{"ts", "1970-01-01T00:00:01.000Z"}, {"service", "web"}, {"state", "running"}, {"pid", 456}});
  json ev2 = json::parse(event_item({0, "web", "stopped", 0, "unhealthy"}));
  CHECK(ev2["pid"].is_null());
  CHECK(ev2["health"] == "unhealthy");

  std::string bad_utf8 = "caf\xc3";
  std::string line = log_item({1000, "web", true, bad_utf8});
  CHECK(one_line(line));
  json l = json::parse(line);
  CHECK(l["stream"] == "stderr");
  CHECK(l["service"] == "web");
  CHECK(l["ts"] == "1970-01-01T00:00:01.000Z");
  CHECK(json::parse(log_item({0, "db", false, "x\ny"}))["line"] == "x\ny");
}

TEST_CASE("protocol: every verb has exactly one handler") {
  for (const char* v : {"ping", "status", "start", "stop", "restart", "signal", "logs", "events", "reload", "metrics",
                        "shutdown"}) {
    CHECK_MESSAGE((find_verb_handler(v) != nullptr), v);
  }
  CHECK((find_verb_handler("exec") == nullptr));
  CHECK((find_verb_handler("") == nullptr));
  CHECK((find_verb_handler("stop") != find_verb_handler("start")));
}

TEST_CASE("protocol: status and events carry condition, reason, reason_code; events the ended run's exit") {
  StatusView sv{"it", 1, 0, {}};
  ServiceStatusView web;
  web.name = "web";
  web.state = "stopped";
  web.condition = "blocked";
  web.reason = "blocked: migrate failed";
  web.reason_code = "blocked";
  sv.services.push_back(web);
  json s = status_body(sv)["services"][0];
  CHECK(s["state"] == "stopped");
  CHECK(s["condition"] == "blocked");
  CHECK(s["reason"] == "blocked: migrate failed");
  CHECK(s["reason_code"] == "blocked");
  ServiceEventView failed{0, "web", "failed", 0, ""};
  failed.reason = "exited 3; giving up after 5 starts in 10 s";
  failed.reason_code = "start-limit";
  failed.exit = ExitView{3, 0};
  json e = json::parse(event_item(failed));
  CHECK(e["condition"] == "failed");
  CHECK(e["reason"] == "exited 3; giving up after 5 starts in 10 s");
  CHECK(e["reason_code"] == "start-limit");
  CHECK(e["exit_code"] == 3);
  CHECK(e["signal"].is_null());
  ServiceEventView killed{0, "web", "restarting", 0, ""};
  killed.exit = ExitView{0, 9};
  e = json::parse(event_item(killed));
  CHECK(e["exit_code"].is_null());
  CHECK(e["signal"] == "SIGKILL");
  CHECK(e["reason"].is_null());
}
