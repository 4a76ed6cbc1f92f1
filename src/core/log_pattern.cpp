// LogPattern: the one place procd uses a regular-expression engine (RE2).
// Invariants: RE2 never logs (log_errors off: its errors travel in the
// Error we return), and a compiled program is shared, never rebuilt.
#include "procd/log_pattern.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

namespace procd {

Result<LogPattern> LogPattern::compile(std::string_view pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(kMaxMemory);
  opts.set_encoding(RE2::Options::EncodingLatin1);  // bytes, as service output is
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
  if (!re->ok()) return make_error(Code::ConfigInvalidRegex, re->error());
  return LogPattern(std::move(re));
}

bool LogPattern::search(std::string_view line) const {
  return RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re_);
}

const std::string& LogPattern::pattern() const { return re_->pattern(); }

}  // namespace procd
