// UTF-8 well-formedness of the config text (see utf8_check.hpp), by the
// table of well-formed byte sequences in Unicode 15 §3.9 (Table 3-7):
// every lead byte fixes the length and the range its first continuation
// byte may take, which excludes overlongs, surrogates and > U+10FFFF.
#include "src/config/utf8_check.hpp"

#include <fmt/format.h>

namespace procd::config_detail {
namespace {

struct Sequence {
  int length = 0;  // 0 = not a lead byte
  unsigned char second_min = 0x80, second_max = 0xBF;
};

Sequence sequence_of(unsigned char lead) {
  if (lead < 0x80) return {1};
  if (lead >= 0xC2 && lead <= 0xDF) return {2};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};
  if (lead == 0xED) return {3, 0x80, 0x9F};
  if (lead >= 0xE1 && lead <= 0xEF) return {3};
  if (lead == 0xF0) return {4, 0x90, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};
  if (lead >= 0xF1 && lead <= 0xF3) return {4};
  return {};
}

// Length of the well-formed sequence at text[i], or 0.
std::size_t valid_length_at(const std::string& text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  Sequence seq = sequence_of(byte(i));
  const auto n = static_cast<std::size_t>(seq.length);
  if (n == 0 || i + n > text.size()) return 0;
  if (n > 1 && (byte(i + 1) < seq.second_min || byte(i + 1) > seq.second_max)) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

}  // namespace

std::optional<Error> find_invalid_utf8(const std::string& text, const std::string& file) {
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = valid_length_at(text, i);
    if (n == 0) {
      int column = static_cast<int>(i - line_start) + 1;
      return Error{Code::ConfigSyntax,
                   fmt::format("invalid UTF-8 (byte 0x{:02X}): a config file must be UTF-8",
                               static_cast<unsigned char>(text[i])),
                   Location{file, line, column}, {}};
    }
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
    i += n;
  }
  return std::nullopt;
}

}  // namespace procd::config_detail
