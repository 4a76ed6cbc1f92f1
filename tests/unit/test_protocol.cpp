// Unit tests for src/control/protocol.cpp: every malformed request is an
// Error with the right 6xxx code and a message naming the problem; encoders
// produce exactly one line; round trips keep verb, names, all and extra
// arguments; invalid UTF-8 from service output never throws.
#include <doctest/doctest.h>

#include <string>

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
