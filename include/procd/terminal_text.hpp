// Small pure helpers for text shown on a terminal: columns, cutting with an
// ellipsis, and a stable colour per service name.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace procd {

// Columns text takes: one per code point (UTF-8 continuation bytes add none).
std::size_t display_columns(std::string_view text);
// text cut to at most n columns; a cut text ends in "…" (U+2026).
std::string truncate_columns(std::string_view text, std::size_t n);
// One of six SGR colour sequences, the same for the same name in every run.
const char* name_color(std::string_view name);

}  // namespace procd
