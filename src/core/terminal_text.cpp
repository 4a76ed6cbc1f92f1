// display_columns, truncate_columns, name_color: see terminal_text.hpp.
#include "procd/terminal_text.hpp"

#include <cstdint>

namespace procd {
namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

}  // namespace

std::size_t display_columns(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += continuation(c) ? 0 : 1;
  return n;
}

std::string truncate_columns(std::string_view text, std::size_t n) {
  if (display_columns(text) <= n) return std::string(text);
  if (n == 0) return {};
  // Keep n - 1 code points, then the ellipsis.
  std::size_t kept = 0, i = 0;
  for (; i < text.size(); ++i) {
    if (!continuation(text[i]) && kept++ == n - 1) break;
  }
  return std::string(text.substr(0, i)) + "\xe2\x80\xa6";
}

const char* name_color(std::string_view name) {
  // Six colours readable on dark and light backgrounds; red is left for failures.
  static constexpr const char* kColors[] = {"\033[36m", "\033[32m", "\033[33m", "\033[35m", "\033[34m", "\033[96m"};
  std::uint32_t h = 2166136261u;  // FNV-1a: stable across runs and builds
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return kColors[h % 6];
}

}  // namespace procd
