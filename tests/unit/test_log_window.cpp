// Unit tests for LogWindow (issue 26): the recent lines of several rings
// chosen newest first and given oldest first in pieces; the line and byte
// bounds; lines that leave their ring (or a ring that goes) while the reply
// is written are skipped and counted, padded to the promised length.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "procd/log_window.hpp"
#include "procd/time_spec.hpp"

using namespace procd;

namespace {

std::string all_of(LogWindow& w, const std::vector<RingRef>& rings, std::size_t piece, bool pad = false) {
  std::string out;
  for (int guard = 0; guard < 100000; ++guard) {
    std::string p;
    bool more = w.next(rings, p, piece, pad);
    CHECK(p.size() <= piece);
    out += p;
    if (!more) return out;
  }
  FAIL("next() never ended");
  return out;
}

std::vector<std::string> lines_of(const std::string& body) {
  std::vector<std::string> out;
  for (std::size_t at = 0, nl; (nl = body.find('\n', at)) != std::string::npos; at = nl + 1) {
    auto j = nlohmann::json::parse(body.substr(at, nl - at));
    out.push_back(j.contains("skipped") ? "skipped " + std::to_string(j["skipped"].get<int>())
                                        : j["service"].get<std::string>() + ":" + j["line"].get<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("LogWindow: the last n lines across rings in time order, in pieces of any size") {
  LineRing a(10), b(10);
  a.push(1, false, "a1");
  b.push(2, false, "b2");
  a.push(3, false, "a3");
  b.push(3, false, "b3");  // equal times: the first ring's first
  a.push(5, true, "a5");
  std::vector<RingRef> rings{{&a, "a"}, {&b, "b"}};
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{65536}}) {
    LogWindow w(rings, 4);
    CHECK(w.lines() == 4);
    std::string body = all_of(w, rings, piece);
    CHECK(body.size() == w.bytes());
    CHECK(lines_of(body) == std::vector<std::string>{"b:b2", "a:a3", "b:b3", "a:a5"});
    CHECK(w.skipped() == 0);
  }
  LogWindow none(rings, 0);
  CHECK(all_of(none, rings, 100).empty());
}

TEST_CASE("LogWindow: at most kMaxLogLines lines and max_bytes bytes, the newest kept") {
  LineRing r(5000);
  for (int i = 0; i < 3000; ++i) r.push(i, false, std::to_string(i));
  std::vector<RingRef> rings{{&r, "s"}};
  LogWindow w(rings, 1000000);
  CHECK(w.lines() == kMaxLogLines);
  auto lines = lines_of(all_of(w, rings, 65536));
  REQUIRE(lines.size() == kMaxLogLines);
  CHECK(lines.front() == "s:2000");
  CHECK(lines.back() == "s:2999");
  std::size_t one = log_item({0, "s", false, "2999", false}).size();
  LogWindow small(rings, 100, 3 * one + 1);
  CHECK(small.lines() == 3);
  CHECK(lines_of(all_of(small, rings, 10)) == std::vector<std::string>{"s:2997", "s:2998", "s:2999"});
}

TEST_CASE("LogWindow: lines that leave the ring before they are sent are skipped, counted, padded") {
  for (bool pad : {false, true}) {
    LineRing r(4);
    for (int i = 0; i < 4; ++i) r.push(i, false, "line" + std::to_string(i));
    std::vector<RingRef> rings{{&r, "s"}};
    LogWindow w(rings, 4);
    std::string first;
    CHECK(w.next(rings, first, 1, pad));  // one byte of line0 is out
    r.push(10, false, "new10");           // line0 leaves the ring: its piece is being sent, it goes on
    r.push(11, false, "new11");           // line1 leaves: skipped
    r.push(12, false, "new12");           // line2 leaves: skipped
    std::string body = first + all_of(w, rings, 5, pad);
    CHECK(w.skipped() == 2);
    CHECK(lines_of(body) == std::vector<std::string>{"s:line0", "s:line3", "skipped 2"});
    if (pad) CHECK(body.size() == w.bytes());  // the Content-Length promised
    else CHECK(body.substr(body.rfind('{')) == "{\"skipped\":2}\n");
  }
}

TEST_CASE("LogWindow: a ring that goes while the reply is written: its lines are skipped") {
  LineRing a(10), b(10);
  a.push(1, false, "a1");
  b.push(2, false, "b2");
  a.push(3, false, "a3");
  std::vector<RingRef> rings{{&a, "a"}, {&b, "b"}};
  LogWindow w(rings, 10);
  std::vector<RingRef> after{{&a, "a"}, {nullptr, "b"}};
  std::string body = all_of(w, after, 65536, true);
  CHECK(lines_of(body) == std::vector<std::string>{"a:a1", "a:a3", "skipped 1"});
  CHECK(body.size() == w.bytes());
}

TEST_CASE("LogWindow: live, the lines pushed while it is given come too, in order") {
  LineRing a(10), b(10);
  a.push(1, false, "a1");
  std::vector<RingRef> rings{{&a, "a"}, {&b, "b"}};
  LogWindow w(rings, 10, kMaxLogReplyBytes, true);
  std::string p;
  CHECK(w.next(rings, p, 1));
  b.push(2, false, "b2");
  a.push(3, false, "a3");
  std::string body = p + all_of(w, rings, 65536);
  CHECK(lines_of(body) == std::vector<std::string>{"a:a1", "b:b2", "a:a3"});
}

TEST_CASE("LogWindow: a stream filter counts n among the chosen streams only") {
  LineRing a(20);
  a.push(1, true, "err1");
  a.push(2, true, "err2");
  for (int i = 0; i < 6; ++i) a.push(3 + i, false, "out" + std::to_string(i));
  std::vector<RingRef> rings{{&a, "a"}};
  LogWindow errs(rings, 2, kMaxLogReplyBytes, false, kLogErr);
  CHECK(errs.lines() == 2);
  std::string body = all_of(errs, rings, 7);
  CHECK(body.size() == errs.bytes());
  CHECK(lines_of(body) == std::vector<std::string>{"a:err1", "a:err2"});
  LogWindow outs(rings, 3, kMaxLogReplyBytes, false, kLogOut | kLogProcd);
  CHECK(lines_of(all_of(outs, rings, 65536)) == std::vector<std::string>{"a:out3", "a:out4", "a:out5"});
  // live: lines pushed after the window was chosen are filtered too
  LogWindow live(rings, 1, kMaxLogReplyBytes, true, kLogErr);
  a.push(10, false, "out6");
  a.push(11, true, "err3");
  CHECK(lines_of(all_of(live, rings, 65536)) == std::vector<std::string>{"a:err2", "a:err3"});
  CHECK(parse_log_kinds("out,procd") == std::optional<std::uint8_t>(kLogOut | kLogProcd));
  CHECK(parse_log_kinds("") == std::optional<std::uint8_t>(0));
  CHECK_FALSE(parse_log_kinds("stderr").has_value());
}

TEST_CASE("LogWindow: since_ms keeps the lines stamped at or after it, n counts those") {
  LineRing a(20);
  for (int i = 0; i < 8; ++i) a.push(100 + i, false, "l" + std::to_string(i));
  std::vector<RingRef> rings{{&a, "a"}};
  LogWindow w(rings, 100, kMaxLogReplyBytes, false, 0, 105);
  CHECK(w.lines() == 3);
  CHECK(lines_of(all_of(w, rings, 65536)) == std::vector<std::string>{"a:l5", "a:l6", "a:l7"});
}

TEST_CASE("parse_since: durations before now, or a UTC time as log lines print it") {
  CHECK(parse_since("90s", 1000000) == std::optional<std::int64_t>(1000000 - 90000));
  CHECK(parse_since("10m", 10000000) == std::optional<std::int64_t>(10000000 - 600000));
  CHECK(parse_since("2h", 0) == std::optional<std::int64_t>(-7200000));
  CHECK(parse_since("500ms", 1000) == std::optional<std::int64_t>(500));
  CHECK(parse_since("1970-01-01T00:01:00Z", 0) == std::optional<std::int64_t>(60000));
  CHECK(parse_since("2026-12-06T21:57:23.009Z", 0) == std::optional<std::int64_t>(1796594243009));
  CHECK(parse_since("2026-12-06T21:57:23", 0) == std::optional<std::int64_t>(1796594243000));
  for (const char* bad : {"", "10", "10x", "-5s", "yesterday", "2026-13-01T00:00:00Z", "2026-12-06T21:57", "99999999999d"})
    CHECK_MESSAGE(!parse_since(bad, 0).has_value(), bad);
}
