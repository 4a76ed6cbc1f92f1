// The ${...} interpolation grammar (src/config/interpolate.cpp) on a fake
// environment: plain and default forms, empty vs unset, recursive
// defaults, escapes, and every syntax error with the offset it points at.
#include <doctest/doctest.h>

#include "src/config/interpolate.hpp"

using namespace procd;
using namespace procd::config_detail;

namespace {

const Environment kEnv = environment_from({"HOME=/home/ann", "PORT=8080", "EMPTY=", "A_1=x", "NESTED=${PORT}"});

std::string ok(std::string_view text) {
  auto r = interpolate(text, kEnv);
  for (const auto& p : r.problems) MESSAGE(p.message);
  REQUIRE(r.problems.empty());
  return r.value;
}

InterpolationProblem one_problem(std::string_view text) {
  auto r = interpolate(text, kEnv);
  REQUIRE(r.problems.size() == 1);
  return r.problems.front();
}

}  // namespace

TEST_CASE("interpolate: text without ${ is unchanged, lone $ and $NAME stay as written") {
  CHECK(ok("") == "");
  CHECK(ok("plain text") == "plain text");
  CHECK(ok("cost: 5$") == "cost: 5$");
  CHECK(ok("echo $HOME $1 $") == "echo $HOME $1 $");
  CHECK(ok("}{ stray braces }") == "}{ stray braces }");
}

TEST_CASE("interpolate: ${VAR} substitutes, set-but-empty is the empty string") {
  CHECK(ok("${HOME}") == "/home/ann");
  CHECK(ok("--port=${PORT}!") == "--port=8080!");
  CHECK(ok("${HOME}${PORT}") == "/home/ann8080");
  CHECK(ok("[${EMPTY}]") == "[]");
  CHECK(ok("${A_1}") == "x");
}

TEST_CASE("interpolate: a value from the environment is not expanded again") {
  CHECK(ok("${NESTED}") == "${PORT}");
}

TEST_CASE("interpolate: $$ is a literal $") {
  CHECK(ok("$$") == "$");
  CHECK(ok("$${HOME}") == "${HOME}");
  CHECK(ok("$$$${PORT}") == "$${PORT}");
  CHECK(ok("$$${PORT}") == "$8080");
  CHECK(ok("a$$b") == "a$b");
}

TEST_CASE("interpolate: :- treats empty as unset, - only unset") {
  CHECK(ok("${UNSET:-fallback}") == "fallback");
  CHECK(ok("${EMPTY:-fallback}") == "fallback");
  CHECK(ok("${PORT:-fallback}") == "8080");
  CHECK(ok("${UNSET-fallback}") == "fallback");
  CHECK(ok("${EMPTY-fallback}") == "");
  CHECK(ok("${UNSET:-}") == "");
  CHECK(ok("${UNSET:-a b:c-d?e}") == "a b:c-d?e");
}

TEST_CASE("interpolate: defaults are expanded recursively, and only when used") {
  CHECK(ok("${UNSET:-${PORT}}") == "8080");
  CHECK(ok("${UNSET:-${ALSO_UNSET:-deep}}") == "deep");
  CHECK(ok("${UNSET:-http://${HOME}:${PORT}/x}") == "http:///home/ann:8080/x");
  CHECK(ok("${UNSET:-$${literal}}") == "${literal}");
  // The default names an unset variable, but is not used: no problem.
  CHECK(ok("${PORT:-${ALSO_UNSET}}") == "8080");
  CHECK(ok("${PORT:?${ALSO_UNSET}}") == "8080");
  // Used: the nested problem is reported at its own offset.
  auto p = one_problem("${UNSET:-${ALSO_UNSET}}");
  CHECK(p.code == Code::ConfigVariableUnset);
  CHECK(p.offset == 9);
  CHECK(p.message.find("ALSO_UNSET") != std::string::npos);
}

TEST_CASE("interpolate: an unset variable without default is error 1034 at its ${") {
  auto p = one_problem("--port ${NOPE}");
  CHECK(p.code == Code::ConfigVariableUnset);
  CHECK(p.offset == 7);
  CHECK(p.message.find("NOPE") != std::string::npos);
  // Every missing variable is reported, in order.
  auto r = interpolate("${X1} and ${X2:-ok} and ${X3}", kEnv);
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].offset == 0);
  CHECK(r.problems[1].offset == 24);
  CHECK(r.value == " and ok and ");
}

TEST_CASE("interpolate: :? fails on unset or empty with the message, ? only on unset") {
  auto p = one_problem("key=${API_KEY:?set API_KEY to the token}");
  CHECK(p.code == Code::ConfigVariableRequired);
  CHECK(p.offset == 4);
  CHECK(p.message == "variable API_KEY is not set: set API_KEY to the token");
  p = one_problem("${EMPTY:?must not be empty}");
  CHECK(p.message == "variable EMPTY is empty: must not be empty");
  p = one_problem("${UNSET:?}");
  CHECK(p.message == "variable UNSET is required but not set");
  CHECK(ok("${EMPTY?only unset fails}") == "");
  CHECK(one_problem("${UNSET?gone}").code == Code::ConfigVariableRequired);
  CHECK(ok("${PORT:?never shown}") == "8080");
  // The message is expanded too.
  // The message as written: expanded, it could carry a secret value.
  CHECK(one_problem("${UNSET:?see ${HOME}/README}").message == "variable UNSET is not set: see ${HOME}/README");
}

TEST_CASE("interpolate: syntax errors are 1036 at the offending ${") {
  struct Case {
    const char* text;
    std::size_t offset;
    const char* words;
  };
  const Case cases[] = {
      {"abc ${HOME", 4, "unterminated"},
      {"${", 0, "unterminated"},
      {"x${HOME:-default", 1, "unterminated"},
      {"${HOME:", 0, "unterminated"},
      {"${UNSET:-${PORT}", 0, "unterminated"},
      {"${}", 0, "empty"},
      {"  ${1ABC}", 2, "invalid variable name \"1ABC\""},
      {"${-x}", 0, "invalid variable name \"-\""},
      {"${HO ME}", 0, "invalid character ' '"},
      {"${HOME:+x}", 0, "unknown operator \":+\""},
      {"${HOME/a/b}", 0, "invalid character '/'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto p = one_problem(c.text);
    CHECK(p.code == Code::ConfigInterpolationSyntax);
    CHECK(p.offset == c.offset);
    CHECK(p.message.find(c.words) != std::string::npos);
  }
  // A syntax error in a default counts even when the default is not used.
  auto p = one_problem("${PORT:-${bad name}}");
  CHECK(p.code == Code::ConfigInterpolationSyntax);
  CHECK(p.offset == 8);
}

TEST_CASE("interpolate: parsing resumes after a bad expression") {
  auto r = interpolate("${1x} then ${HOME} then ${NOPE}", kEnv);
  REQUIRE(r.problems.size() == 2);
  CHECK(r.problems[0].code == Code::ConfigInterpolationSyntax);
  CHECK(r.problems[1].code == Code::ConfigVariableUnset);
  CHECK(r.problems[1].offset == 24);
  CHECK(r.value == " then /home/ann then ");
}

TEST_CASE("interpolate: nesting is bounded") {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "${U:-";
  deep += "x";
  for (int i = 0; i < 100; ++i) deep += "}";
  auto r = interpolate(deep, kEnv);
  REQUIRE_FALSE(r.problems.empty());
  CHECK(r.problems.front().message.find("nested deeper") != std::string::npos);
  std::string ok_depth;
  for (int i = 0; i < kMaxInterpolationDepth; ++i) ok_depth += "${U:-";
  ok_depth += "x";
  for (int i = 0; i < kMaxInterpolationDepth; ++i) ok_depth += "}";
  CHECK(ok(ok_depth) == "x");
}

TEST_CASE("interpolate: environment_from keeps the first '=' as the separator") {
  auto env = environment_from({"A=b=c", "NOEQ", "=x", "B="});
  CHECK(env.at("A") == "b=c");
  CHECK(env.at("B").empty());
  CHECK(env.count("NOEQ") == 0);
  CHECK(env.size() == 2);
}

TEST_CASE("interpolate: warning 1047 for $$ and ${ in a sh -c script, naming the escape") {
  using V = std::vector<std::string>;
  auto pid = shell_dollar_warnings(V{"sh", "-c", "echo $$ > x.pid"});
  REQUIRE(pid.size() == 1);
  CHECK(pid[0].find("`$$$$`") != std::string::npos);
  auto var = shell_dollar_warnings(V{"/bin/bash", "-ec", "echo ${HOME}"});
  REQUIRE(var.size() == 1);
  CHECK(var[0].find("`$${NAME}`") != std::string::npos);
  CHECK(shell_dollar_warnings(V{"dash", "-c", "echo $$$x ${A}"}).size() == 2);
  // Escaped as documented, or not a shell script: nothing to say.
  CHECK(shell_dollar_warnings(V{"sh", "-c", "echo $$$$ $${HOME} $HOME $1", "x"}).empty());
  CHECK(shell_dollar_warnings(V{"echo", "$$", "${HOME}"}).empty());
  CHECK(shell_dollar_warnings(V{"sh", "script.sh", "$$"}).empty());
  CHECK(shell_dollar_warnings(V{"sh", "-c"}).empty());
}
