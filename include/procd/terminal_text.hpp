// Small pure helpers for text shown on a terminal: columns, cutting with an
// ellipsis, and a stable colour per service name.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace procd {

// Columns a code point takes on a terminal: 2 for East Asian Wide and
// Fullwidth characters (CJK, Hangul, fullwidth forms, emoji), 0 for
// combining marks and zero-width characters, 1 otherwise (a fixed table of
// Unicode 15 ranges, not the locale's wcwidth: the same in every run).
int code_point_columns(char32_t cp);
// Columns text takes (UTF-8; a byte that is not valid UTF-8 takes one).
std::size_t display_columns(std::string_view text);
// text cut to at most n columns; a cut text ends in "…" (U+2026).
std::string truncate_columns(std::string_view text, std::size_t n);
// text cut to at most max_bytes bytes on a UTF-8 character boundary; a cut
// text ends in "…" (counted in max_bytes, which must be at least 3).
std::string truncate_bytes(std::string_view text, std::size_t max_bytes);
// One of six SGR colour sequences, the same for the same name in every run.
const char* name_color(std::string_view name);

}  // namespace procd
