// Config limits checked before toml11 sees the text (linear time): the
// depth of a dotted key. toml11 takes super-linear time on a deep key (a
// 100,000-part key ran over 60 s), and reload parses on the loop.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "procd/config.hpp"
#include "procd/config_load.hpp"

using namespace procd;

namespace {
const std::vector<std::string> kNoEnv;

std::vector<Error> errors_of(const std::string& text) {
  LoadOptions opts;
  opts.environment = &kNoEnv;
  auto r = load_config_text(text, "t.toml", opts);
  for (const auto& e : r.errors) MESSAGE(e.format());
  return r.errors;
}

// Parsed: only unknown-key errors (the keys are made up), no limit hit.
bool parsed(const std::string& text) {
  auto errors = errors_of(text);
  return std::all_of(errors.begin(), errors.end(), [](const Error& e) { return e.code == Code::ConfigUnknownKey; });
}

// A key of `parts` parts: a.a.a...
std::string key_of(int parts, const std::string& sep = ".") {
  std::string key = "a";
  for (int i = 1; i < parts; ++i) key += sep + "a";
  return key;
}

void refused_at(const std::string& text, int line, int column) {
  auto errors = errors_of(text);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == Code::ConfigKeyTooDeep);
  REQUIRE(errors[0].where);
  CHECK(errors[0].where->line == line);
  CHECK(errors[0].where->column == column);
  CHECK(errors[0].message.find("32") != std::string::npos);
}
}  // namespace

TEST_CASE("config limits: a dotted key has at most 32 parts, refused at the first dot too many") {
  CHECK(kMaxKeyDepth == 32);
  // At the bound: accepted, as a key, a table header, an array-of-tables header, in an inline table.
  CHECK(parsed(key_of(32) + " = 1\n"));
  CHECK(parsed(std::string("[") + key_of(32) + "]\nx = 1\n"));
  CHECK(parsed("[[" + key_of(32) + "]]\nx = 1\n"));
  CHECK(parsed("t = { " + key_of(32) + " = 1 }\n"));
  CHECK(parsed(key_of(32, " . ") + " = 1\n"));
  // One more: refused at the 32nd dot (line:col), before parsing.
  refused_at("x = 1\n" + key_of(33) + " = 1\n", 2, 2 + 31 * 2);
  refused_at(std::string("[") + key_of(33) + "]\n", 1, 3 + 31 * 2);
  refused_at("[[" + key_of(33) + "]]\n", 1, 4 + 31 * 2);
  refused_at("t = { x = 1, " + key_of(33) + " = 1 }\n", 1, 15 + 31 * 2);
  refused_at(key_of(33, " . ") + " = 1\n", 1, 3 + 31 * 4);
  // Quoted parts count as parts; the dots inside them do not.
  refused_at("\"a.b\"." + key_of(32) + " = 1\n", 1, 6 + 31 * 2);
  CHECK(parsed(std::string("\"") + key_of(100) + "\" = 1\n'b." + key_of(99) + "'.b = 2\n"));
}

TEST_CASE("config limits: dots in values, strings and comments are not key parts") {
  CHECK(parsed("a = 1.5\nb = [1.5, 2.5, 3.5]\nc = 1979-05-27T00:32:00.999999Z\n"));
  CHECK(parsed("d = \"" + key_of(100) + "\"\ne = '" + key_of(100) + "'\n# " + key_of(100) + "\n"));
  CHECK(parsed("f = \"\"\"\n" + key_of(100) + "\n\"\"\"\ng = '''" + key_of(100) + "'''\n"));
  CHECK(parsed("h = [\"" + key_of(100) + "\", '" + key_of(100) + "']\n"));
}

TEST_CASE("config limits: a 100,000-part key is refused before toml11 sees it") {
  auto errors = errors_of(key_of(100000) + " = 1\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == Code::ConfigKeyTooDeep);
  CHECK(errors[0].where->line == 1);
  errors = errors_of(std::string("[") + key_of(100000) + "]\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == Code::ConfigKeyTooDeep);
}

namespace {
RestartConfig restart_of(const std::string& restart) {
  LoadOptions opts;
  opts.environment = &kNoEnv;
  auto r = load_config_text("[services.s]\ncommand = [\"x\"]\nrestart = " + restart + "\n", "t.toml", opts);
  for (const auto& e : r.errors) MESSAGE(e.format());
  REQUIRE(r.errors.empty());
  REQUIRE(r.config);
  return r.config->services.at(0).restart;
}
}  // namespace

TEST_CASE("config: always / on-failure have a default start limit, burst = 0 opts out") {
  CHECK(restart_of("\"always\"").start_limit_burst == 5);
  CHECK(restart_of("\"on-failure\"").start_limit_burst == 5);
  CHECK(restart_of("\"on-failure\"").start_limit_interval_ms == 10000);
  CHECK(restart_of("{ policy = \"always\", delay_ms = 10 }").start_limit_burst == 5);
  CHECK(restart_of("{ policy = \"always\", start_limit = { burst = 0 } }").start_limit_burst == 0);
  CHECK(restart_of("{ policy = \"always\", start_limit = { burst = 3, interval_ms = 500 } }").start_limit_burst == 3);
  CHECK(restart_of("{ policy = \"always\", start_limit = { interval_ms = 500 } }").start_limit_burst == 5);
  CHECK(restart_of("\"never\"").start_limit_burst == 0);
  CHECK(restart_of("\"exponential-backoff\"").start_limit_burst == 0);
}
