// Error table lookups, Error::format() in all its shapes, and the promise
// that man/procd.1 lists every code.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "procd/error.hpp"

using namespace procd;

TEST_CASE("errors: code names and summaries come from the table") {
  CHECK(code_name(Code::ConfigUnknownKey) == "ConfigUnknownKey");
  CHECK(code_summary(Code::ConfigUnknownKey) == "unknown key");
  CHECK(code_summary(static_cast<Code>(99999)) == "unknown error");
  CHECK(code_name(static_cast<Code>(99999)) == "Unknown");
}

TEST_CASE("errors: all_codes is unique, in SPEC ranges, and in table order") {
  std::set<int> seen;
  int previous = 0;
  for (Code code : all_codes()) {
    int n = static_cast<int>(code);
    CHECK(seen.insert(n).second);
    CHECK(n >= 1000);
    CHECK(n <= 10999);
    CHECK(n > previous);
    previous = n;
  }
  CHECK(seen.size() == all_codes().size());
  CHECK(seen.count(1001) == 1);
}

TEST_CASE("errors: format with full location and key path") {
  Error e{Code::ConfigInvalidValue, "unknown policy \"sometimes\"", Location{"procd.toml", 12, 11},
          "services.web.restart.policy"};
  CHECK(e.format() == "procd.toml:12:11: error[1004]: services.web.restart.policy: unknown policy \"sometimes\"");
}

TEST_CASE("errors: format omits unknown parts") {
  CHECK(Error{Code::ConfigSyntax, "bad", Location{"f.toml", 3, 0}, ""}.format() == "f.toml:3: error[1001]: bad");
  CHECK(Error{Code::ConfigSyntax, "bad", Location{"f.toml", 0, 0}, "a.b"}.format() == "f.toml: error[1001]: a.b: bad");
  CHECK(Error{Code::ConfigSyntax, "bad", std::nullopt, "a.b"}.format() == "error[1001]: a.b: bad");
  CHECK(make_error(Code::IoOpen, "cannot open x").format() == "error[5001]: cannot open x");
  // An empty message falls back to the code's summary.
  CHECK(make_error(Code::ConfigEmptyCommand, "").format() == "error[1005]: empty command");
}

TEST_CASE("errors: Result carries a value or an error") {
  Result<int> good(5);
  CHECK(good.ok());
  CHECK(*good == 5);
  Result<int> bad(make_error(Code::IoRead, "x"));
  CHECK_FALSE(bad.ok());
  CHECK(bad.error().code == Code::IoRead);
  Result<void> fine;
  CHECK(fine.ok());
}

TEST_CASE("errors: man/procd.1 lists every error code") {
  std::ifstream man(PROCD_SOURCE_ROOT "/man/procd.1");
  REQUIRE(man.good());
  std::stringstream text;
  text << man.rdbuf();
  const std::string page = text.str();
  for (Code code : all_codes()) {
    INFO("code " << static_cast<int>(code) << " (" << code_name(code) << ") missing from man/procd.1");
    CHECK(page.find(std::to_string(static_cast<int>(code))) != std::string::npos);
  }
}
