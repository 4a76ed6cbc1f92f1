// A `ready = { log = "..." }` pattern: RE2 syntax, compiled once per service
// config and searched against each output line while the service starts.
// Invariants: matching is linear in the line and never recurses (RE2: no
// backreferences, no lookaround), so no output line can overflow procd's
// stack or hold its loop; a pattern is compiled with bounded memory
// (kMaxMemory) and matched byte by byte (Latin-1 mode: `.` is any byte, so a
// line that is not valid UTF-8 still matches). Copies share one compiled
// program (RE2 is immutable once built and not copyable).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "procd/error.hpp"

namespace re2 {
class RE2;
}

namespace procd {

class LogPattern {
 public:
  // RE2's budget for one pattern (program and DFA cache); a pattern that
  // needs more is refused at load.
  static constexpr std::int64_t kMaxMemory = 1 << 20;

  // The pattern compiled, or Code::ConfigInvalidRegex with RE2's own message.
  static Result<LogPattern> compile(std::string_view pattern);

  // True when the pattern matches somewhere in `line` (RE2::PartialMatch, a
  // search as ECMAScript's regex_search was): "ready" matches "server ready on :80".
  bool search(std::string_view line) const;
  const std::string& pattern() const;

 private:
  explicit LogPattern(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace procd
