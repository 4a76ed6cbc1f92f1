// shell_split: POSIX word splitting and quote removal, no expansion.
#include <doctest/doctest.h>

#include "procd/config_load.hpp"

using namespace procd;
using Words = std::vector<std::string>;

namespace {
Words split(const std::string& text) {
  auto r = shell_split(text);
  REQUIRE(r.ok());
  return r.value();
}
}  // namespace

TEST_CASE("shell_split: blanks separate words, runs of blanks count once") {
  CHECK(split("ls -l  /tmp") == Words{"ls", "-l", "/tmp"});
  CHECK(split("  a\tb\nc  ") == Words{"a", "b", "c"});
  CHECK(split("").empty());
  CHECK(split("   ").empty());
}

TEST_CASE("shell_split: single quotes are literal") {
  CHECK(split("sh -c 'echo $HOME; ls \"x\"'") == Words{"sh", "-c", "echo $HOME; ls \"x\""});
  CHECK(split("'a\\b'") == Words{"a\\b"});
}

TEST_CASE("shell_split: double quotes with their four escapes") {
  CHECK(split(R"(echo "a b" "q\"q" "back\\slash" "\$x" "\`y\`")") ==
        Words{"echo", "a b", "q\"q", "back\\slash", "$x", "`y`"});
  // Any other backslash inside double quotes stays.
  CHECK(split(R"("a\nb")") == Words{"a\\nb"});
}

TEST_CASE("shell_split: backslash outside quotes escapes one character") {
  CHECK(split(R"(a\ b c\'d)") == Words{"a b", "c'd"});
  CHECK(split("a\\\nb") == Words{"ab"});  // line continuation
}

TEST_CASE("shell_split: adjacent parts join, empty quotes are an argument") {
  CHECK(split(R"(pre'mid'"post")") == Words{"premidpost"});
  CHECK(split(R"(a "" b '')") == Words{"a", "", "b", ""});
}

TEST_CASE("shell_split: no expansion of any kind") {
  CHECK(split("echo $HOME ~ *.txt $(id) a|b a;b") == Words{"echo", "$HOME", "~", "*.txt", "$(id)", "a|b", "a;b"});
}

TEST_CASE("shell_split: unterminated quotes and trailing backslash are errors") {
  for (const char* bad : {"echo 'abc", "echo \"abc", "echo \"a\\\"", "echo abc\\"}) {
    auto r = shell_split(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::ConfigCommandSyntax);
  }
}
