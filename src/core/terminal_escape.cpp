// escape_for_terminal: see terminal_escape.hpp for what it guarantees.
#include "procd/terminal_escape.hpp"

#include <cstddef>

namespace procd {
namespace {

void append_hex_escape(std::string& out, unsigned char byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xf];
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one
// (overlong forms, surrogates and values past U+10FFFF are not valid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = at(i);
  std::size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
  if (len == 0 || b > 0xf4 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k)
    if ((at(i + k) & 0xc0) != 0x80) return 0;
  unsigned char second = at(i + 1);
  if (b == 0xe0 && second < 0xa0) return 0;   // overlong
  if (b == 0xed && second > 0x9f) return 0;   // surrogate
  if (b == 0xf0 && second < 0x90) return 0;   // overlong
  if (b == 0xf4 && second > 0x8f) return 0;   // past U+10FFFF
  return len;
}

}  // namespace

std::string escape_for_terminal(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  append_for_terminal(out, line);
  return out;
}

void append_for_terminal(std::string& out, std::string_view line) {
  for (std::size_t i = 0; i < line.size();) {
    auto b = static_cast<unsigned char>(line[i]);
    if (b < 0x80) {
      if ((b < 0x20 && b != '\t') || b == 0x7f) append_hex_escape(out, b);
      else out += static_cast<char>(b);
      ++i;
      continue;
    }
    std::size_t len = utf8_sequence_length(line, i);
    bool c1 = len == 2 && b == 0xc2 && static_cast<unsigned char>(line[i + 1]) < 0xa0;
    if (len == 0 || c1) {
      std::size_t n = c1 ? 2 : 1;
      for (std::size_t k = 0; k < n; ++k) append_hex_escape(out, static_cast<unsigned char>(line[i + k]));
      i += n;
      continue;
    }
    out.append(line.substr(i, len));
    i += len;
  }
}

// Length of the SGR sequence (ESC [ params m) at line[i], or 0. Parameters
// are digits, ';' and ':' only, and at most kMaxSgr bytes long.
static std::size_t sgr_length(std::string_view line, std::size_t i) {
  constexpr std::size_t kMaxSgr = 64;
  if (line.compare(i, 2, "\x1b[") != 0) return 0;
  for (std::size_t k = i + 2; k < line.size() && k - i <= kMaxSgr; ++k) {
    char c = line[k];
    if (c == 'm') return k - i + 1;
    if (!((c >= '0' && c <= '9') || c == ';' || c == ':')) return 0;
  }
  return 0;
}

bool append_for_terminal(std::string& out, std::string_view line, SgrMode sgr) {
  if (sgr == SgrMode::Escape) {
    append_for_terminal(out, line);
    return false;
  }
  bool kept = false;
  std::size_t from = 0;
  for (std::size_t i = line.find('\x1b'); i != std::string_view::npos; i = line.find('\x1b', i + 1)) {
    std::size_t len = sgr_length(line, i);
    if (len == 0) continue;
    append_for_terminal(out, line.substr(from, i - from));
    if (sgr == SgrMode::Keep) {
      out.append(line.substr(i, len));
      kept = true;
    }
    from = i + len;
    i = from - 1;
  }
  append_for_terminal(out, line.substr(from));
  return kept;
}

}  // namespace procd
