// Unit tests for src/core/log_pattern.cpp: RE2 syntax with std::regex_search
// semantics (a match anywhere in the line), RE2's own compile errors, byte
// matching, and lines far longer than any that ever overflowed std::regex.
#include <doctest/doctest.h>

#include <string>

#include "procd/log_pattern.hpp"

using namespace procd;

namespace {

LogPattern compiled(const std::string& pattern) {
  auto r = LogPattern::compile(pattern);
  REQUIRE_MESSAGE(r.ok(), pattern);
  return r.value();
}

}  // namespace

TEST_CASE("log pattern: matches anywhere in the line, as regex_search") {
  auto p = compiled("listening on [0-9]+");
  CHECK(p.search("server listening on 8080 now"));
  CHECK_FALSE(p.search("listening on port"));
  CHECK(compiled("^ready$").search("ready"));
  CHECK_FALSE(compiled("^ready$").search(" ready"));
  CHECK(compiled("ready.*now").search("ready ... now"));
  CHECK(compiled("").search(""));
  CHECK(p.pattern() == "listening on [0-9]+");
}

TEST_CASE("log pattern: bytes, not UTF-8: invalid UTF-8 in a line still matches") {
  CHECK(compiled("ready.*now").search("ready \xff\xfe now"));
  CHECK(compiled("caf\xc3\xa9").search("un caf\xc3\xa9 ready"));  // a UTF-8 literal matches its bytes
  CHECK(compiled("a.b").search(std::string("a\0b", 3)));
}

TEST_CASE("log pattern: RE2's own message for a bad pattern") {
  auto bad = [](const std::string& pattern) {
    auto r = LogPattern::compile(pattern);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::ConfigInvalidRegex);
    return r.error().message;
  };
  CHECK(bad("(") == "missing ): (");
  CHECK(bad("(a)\\1") == "invalid escape sequence: \\1");  // no backreferences
  CHECK(bad("(?=x)") == "invalid perl operator: (?=");    // no lookaround
  CHECK(bad("[z-a]") == "invalid character class range: z-a");
}

TEST_CASE("log pattern: copies share one program") {
  auto a = compiled("x+y");
  LogPattern b = a;
  CHECK(b.search("xxxy"));
  CHECK(&a.pattern() == &b.pattern());
}

TEST_CASE("log pattern: a 1 MiB line is matched in linear time, without recursion") {
  // std::regex recursed once per character of `.*` here and overflowed the
  // stack at ~40 KB; RE2 walks the line once.
  std::string line = "ready " + std::string(1 << 20, 'x');
  auto p = compiled("ready.*now");
  CHECK_FALSE(p.search(line));
  CHECK(p.search(line + " now"));
  CHECK(compiled("(x+x+)+y").search(line + "y"));       // exponential for a backtracking engine
  CHECK_FALSE(compiled("(x+x+)+y").search(line));
  CHECK(compiled("(\\s*)[\\^~]+").search(std::string(1 << 20, ' ') + "^"));
}
