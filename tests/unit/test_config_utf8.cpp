// The config file must be UTF-8 (TOML 1.0). Invalid bytes are rejected
// before toml11 parses: its own error path for them in literal strings
// ('...' and '''...''') reads past the end of its buffer (toml11 3.7.1,
// found by tests/fuzz/fuzz_config; ASan: heap-buffer-overflow in
// location::reset from parse_literal_string).
#include <doctest/doctest.h>

#include "procd/config_load.hpp"

using namespace procd;

namespace {
LoadResult load_text(const std::string& text) {
  static const std::vector<std::string> no_env;
  LoadOptions opts;
  opts.environment = &no_env;
  opts.as_root = false;
  return load_config_text(text, "t.toml", opts);
}

void check_rejected_at(const std::string& text, int line, int column) {
  auto r = load_text(text);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.errors.size() == 1);
  const Error& e = r.errors[0];
  CHECK(e.code == Code::ConfigSyntax);
  CHECK(e.message.find("invalid UTF-8") != std::string::npos);
  REQUIRE(e.where.has_value());
  CHECK(e.where->file == "t.toml");
  CHECK(e.where->line == line);
  CHECK(e.where->column == column);
}
}  // namespace

TEST_CASE("config utf8: invalid bytes in literal strings are a syntax error at their position") {
  check_rejected_at("name = \"x\"\ns = '\x90'\n", 2, 6);
  check_rejected_at("s = '''\nok\nab\x90'''\n", 3, 3);
}

TEST_CASE("config utf8: overlong, surrogate, truncated and out-of-range sequences are rejected") {
  check_rejected_at("# \xc0\xaf\n", 1, 3);          // overlong '/'
  check_rejected_at("s = \"\xed\xa0\x80\"\n", 1, 6);  // UTF-16 surrogate
  check_rejected_at("s = \"\xe2\x82\"\n", 1, 6);      // truncated (2 of 3 bytes)
  check_rejected_at("s = \"\xf4\x90\x80\x80\"\n", 1, 6);  // above U+10FFFF
  check_rejected_at("s = 1 # \xff", 1, 9);
}

TEST_CASE("config utf8: valid multi-byte text still loads") {
  auto r = load_text("name = \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\" # \xc3\xa9\n[services.w]\ncommand = '\xc3\xa9'\n");
  for (const auto& e : r.errors) MESSAGE(e.format());
  REQUIRE(r.ok());
  CHECK(r.config->name == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}
