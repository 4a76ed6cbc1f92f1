// The ${...} interpolation grammar of config string values (SPEC Part 2
// "Composing the configuration"), as a pure function of the text and an
// environment, so it is unit-tested without touching the real environment.
//   ${VAR}           the value of VAR; unset = error 1034 (empty is fine)
//   ${VAR:-default}  default when VAR is unset OR empty (POSIX sh / compose)
//   ${VAR-default}   default only when VAR is unset
//   ${VAR:?message}  error 1035 with message when VAR is unset OR empty
//   ${VAR?message}   error 1035 only when VAR is unset
//   $$               a literal $
// Defaults and messages are expanded recursively (${A:-${B:-x}}), as
// compose does; a problem inside a default counts only when the default is
// used, a syntax error always. A `$` followed by anything else, `$HOME`
// included, stays as written: shell commands in `command` keep their own
// variables. Names are [A-Za-z_][A-Za-z0-9_]*.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "procd/error.hpp"

namespace procd::config_detail {

using Environment = std::map<std::string, std::string, std::less<>>;

// "K=V" entries (the environ format) into a map; a later duplicate wins.
Environment environment_from(const std::vector<std::string>& entries);

struct InterpolationProblem {
  Code code;            // ConfigVariableUnset, ConfigVariableRequired or ConfigInterpolationSyntax
  std::size_t offset;   // byte offset of the "${" (or "$") in the input text
  std::string message;
};

struct Interpolation {
  std::string value;                          // the expanded text (best effort when there are problems)
  std::vector<InterpolationProblem> problems; // in text order
  std::vector<std::string> used;              // the variables whose values went into `value`
};

// Nesting of ${...} inside defaults beyond this is a syntax error (bounded recursion).
inline constexpr int kMaxInterpolationDepth = 16;

Interpolation interpolate(std::string_view text, const Environment& env);

// Warning 1047 for a command written `SHELL [-opts] -c SCRIPT ...` (sh,
// bash, dash, zsh, ksh, mksh, ash; argv before interpolation): a message
// when SCRIPT holds a `$$` that becomes `$` (an escaped `$$$$` does not
// count) and one when it holds a `${` that procd expands (not `$${`), each
// naming the escape. Empty for any other command.
std::vector<std::string> shell_dollar_warnings(const std::vector<std::string>& argv);

}  // namespace procd::config_detail
