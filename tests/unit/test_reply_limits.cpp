// The CLI against a hostile server: a control reply is refused, before
// nlohmann parses it, when it is nested deeper than kMaxJsonDepth or longer
// than kMaxReplyBytes (nlohmann's dump recurses once per level: a deep reply
// crashed `procd status --json`). Requests get the same depth bound.
#include <doctest/doctest.h>

#include <string>

#include "procd/protocol.hpp"

using namespace procd;

namespace {
// {"ok":true,"x":[[...]]} with `levels` levels in all (the object is one).
std::string nested_reply(int levels, char open = '[', char close = ']') {
  return "{\"ok\":true,\"x\":" + std::string(static_cast<std::size_t>(levels - 1), open) +
         std::string(static_cast<std::size_t>(levels - 1), close) + "}";
}
}  // namespace

TEST_CASE("reply limits: nesting counted in one pass, strings not counted") {
  CHECK(kMaxJsonDepth == 64);
  CHECK_FALSE(json_nesting_exceeds(std::string(64, '[') + std::string(64, ']')));
  CHECK(json_nesting_exceeds(std::string(65, '[') + std::string(65, ']')));
  CHECK(json_nesting_exceeds(std::string(65, '{')));
  CHECK_FALSE(json_nesting_exceeds("[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]"));
  CHECK_FALSE(json_nesting_exceeds("[[[]],[[]],[[]]]", 3));
  CHECK(json_nesting_exceeds("[[[[]]]]", 3));
}

TEST_CASE("reply limits: a reply nested deeper than 64 levels is refused with 6014") {
  auto at_bound = parse_reply(nested_reply(64));
  CHECK(at_bound.ok());
  auto deeper = parse_reply(nested_reply(65));
  REQUIRE_FALSE(deeper.ok());
  CHECK(deeper.error().code == Code::ControlReplyRefused);
  CHECK(deeper.error().message.find("64") != std::string::npos);
  auto hostile = parse_reply(nested_reply(100000, '{', '}'));
  REQUIRE_FALSE(hostile.ok());
  CHECK(hostile.error().code == Code::ControlReplyRefused);
  hostile = parse_reply(nested_reply(100000));
  REQUIRE_FALSE(hostile.ok());
  CHECK(hostile.error().code == Code::ControlReplyRefused);
}

TEST_CASE("reply limits: a reply longer than 16 MiB is refused with 6014; a request deeper than 64 with 6005") {
  CHECK(kMaxReplyBytes == std::size_t{16} << 20);
  const std::string pad = "{\"ok\":true,\"x\":\"\"}";
  std::string at_bound = "{\"ok\":true,\"x\":\"" + std::string(kMaxReplyBytes - pad.size(), 'a') + "\"}";
  CHECK(at_bound.size() == kMaxReplyBytes);
  CHECK(parse_reply(at_bound).ok());
  at_bound = at_bound.substr(0, 16) + std::string("a") + at_bound.substr(16);  // not insert(): GCC 12 -O3 -Wrestrict false positive
  auto over = parse_reply(at_bound);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == Code::ControlReplyRefused);
  auto request = parse_request("{\"cmd\":\"status\",\"args\":" + std::string(64, '[') + std::string(64, ']') + "}");
  REQUIRE_FALSE(request.ok());
  CHECK(request.error().code == Code::ProtocolMalformed);
  CHECK(request.error().message.find("nested deeper than 64") != std::string::npos);
  CHECK(parse_request("{\"cmd\":\"status\",\"args\":{\"a\":" + std::string(62, '[') + std::string(62, ']') + "}}").ok());
}
