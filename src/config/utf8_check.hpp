// The config text must be UTF-8 (TOML 1.0 requires it). Checked before
// toml::parse because toml11 3.7.1's own handling of invalid bytes in
// literal strings reads out of bounds (it rewinds a copy's iterator over
// the original buffer); rejecting them first keeps the parser off that path.
#pragma once

#include <optional>
#include <string>

#include "procd/error.hpp"

namespace procd::config_detail {

// nullopt when `text` is well-formed UTF-8 (no overlongs, no surrogates,
// nothing above U+10FFFF); otherwise a ConfigSyntax error at the first bad
// byte's file:line:col (column in bytes, 1-based, like toml11's).
std::optional<Error> find_invalid_utf8(const std::string& text, const std::string& file);

}  // namespace procd::config_detail
