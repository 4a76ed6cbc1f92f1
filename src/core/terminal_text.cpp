// display_columns, truncate_columns, name_color: see terminal_text.hpp.
#include "procd/terminal_text.hpp"

#include <cstdint>

namespace procd {
namespace {

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

struct Range {
  char32_t first, last;
};

// East Asian Wide (W) and Fullwidth (F), Unicode 15 (coalesced).
constexpr Range kWide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},   {0x23F0, 0x23F0},
    {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x267F, 0x267F},
    {0x2693, 0x2693},   {0x26A1, 0x26A1},   {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},
    {0x26CE, 0x26CE},   {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},   {0x2728, 0x2728},
    {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},   {0x2757, 0x2757},   {0x2795, 0x2797},
    {0x27B0, 0x27B0},   {0x27BF, 0x27BF},   {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},
    {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},
    {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4}, {0x17000, 0x18CD5}, {0x1B000, 0x1B2FB},
    {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F202},
    {0x1F210, 0x1F23B}, {0x1F240, 0x1F248}, {0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F320},
    {0x1F32D, 0x1F335}, {0x1F337, 0x1F37C}, {0x1F37E, 0x1F393}, {0x1F3A0, 0x1F3CA}, {0x1F3CF, 0x1F3D3},
    {0x1F3E0, 0x1F3F0}, {0x1F3F4, 0x1F3F4}, {0x1F3F8, 0x1F43E}, {0x1F440, 0x1F440}, {0x1F442, 0x1F4FC},
    {0x1F4FF, 0x1F53D}, {0x1F54B, 0x1F54E}, {0x1F550, 0x1F567}, {0x1F57A, 0x1F57A}, {0x1F595, 0x1F596},
    {0x1F5A4, 0x1F5A4}, {0x1F5FB, 0x1F64F}, {0x1F680, 0x1F6C5}, {0x1F6CC, 0x1F6CC}, {0x1F6D0, 0x1F6D2},
    {0x1F6D5, 0x1F6D7}, {0x1F6DC, 0x1F6DF}, {0x1F6EB, 0x1F6EC}, {0x1F6F4, 0x1F6FC}, {0x1F7E0, 0x1F7EB},
    {0x1F7F0, 0x1F7F0}, {0x1F90C, 0x1F93A}, {0x1F93C, 0x1F945}, {0x1F947, 0x1F9FF}, {0x1FA70, 0x1FAFF},
    {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

// Zero width: combining marks, zero-width space/joiners, variation selectors.
constexpr Range kZero[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F},
    {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},
    {0x200B, 0x200F}, {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0x302A, 0x302D}, {0x3099, 0x309A},
    {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
};

template <std::size_t N>
bool in(const Range (&table)[N], char32_t cp) {
  std::size_t lo = 0, hi = N;
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (cp < table[mid].first) hi = mid;
    else if (cp > table[mid].last) lo = mid + 1;
    else return true;
  }
  return false;
}

// The code point at text[i] and its length in bytes (1 for an invalid byte,
// taken as itself).
char32_t decode(std::string_view text, std::size_t i, std::size_t& len) {
  auto b = static_cast<unsigned char>(text[i]);
  std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
  if (n <= 1 || i + n > text.size()) {
    len = 1;
    return b;
  }
  char32_t cp = b & (0x7f >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if (!continuation(text[i + k])) {
      len = 1;
      return b;
    }
    cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3f);
  }
  len = n;
  return cp;
}

}  // namespace

int code_point_columns(char32_t cp) {
  if (cp < 0x300) return 1;  // below both tables: ASCII and Latin text skip the searches
  if (in(kZero, cp)) return 0;
  return in(kWide, cp) ? 2 : 1;
}

std::size_t display_columns(std::string_view text) {
  std::size_t n = 0;
  for (std::size_t i = 0, len = 0; i < text.size(); i += len) n += static_cast<std::size_t>(code_point_columns(decode(text, i, len)));
  return n;
}

std::string truncate_columns(std::string_view text, std::size_t n) {
  if (display_columns(text) <= n) return std::string(text);
  if (n == 0) return {};
  // Keep what fits in n - 1 columns, then the ellipsis.
  std::size_t used = 0, i = 0;
  for (std::size_t len = 0; i < text.size(); i += len) {
    int w = code_point_columns(decode(text, i, len));
    if (used + static_cast<std::size_t>(w) > n - 1) break;
    used += static_cast<std::size_t>(w);
  }
  return std::string(text.substr(0, i)) + "\xe2\x80\xa6";
}

std::string truncate_bytes(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t i = max_bytes - 3;
  while (i > 0 && continuation(text[i])) --i;  // text[i] starts a character: cut before it
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
