// Line shapes of procd's own log: see log_format.hpp. The JSON escaper copies
// runs of plain bytes with one append and validates UTF-8 as it goes.
#include "procd/log_format.hpp"

#include "procd/terminal_escape.hpp"

#include <cstdint>
#include <cstring>
#include <ctime>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace procd {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting s[i] (a byte >= 0x80), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// How many bytes one U+FFFD replaces at s[i] (an invalid sequence): the
// lead byte and the continuation bytes that still fit a sequence it starts
// (Unicode's "maximal subpart", which the JSON library's replace mode uses).
std::size_t invalid_span(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t want = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1;
  std::size_t k = 1;
  for (; k < want && i + k < s.size(); ++k) {
    unsigned char b = byte(i + k);
    unsigned char lo = 0x80, hi = 0xBF;
    if (k == 1 && c == 0xE0) lo = 0xA0;
    if (k == 1 && c == 0xED) hi = 0x9F;
    if (k == 1 && c == 0xF0) lo = 0x90;
    if (k == 1 && c == 0xF4) hi = 0x8F;
    if (b < lo || b > hi) break;
  }
  return k;
}

void append_escape(std::string& out, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  switch (c) {
    case '"': out.append("\\\""); return;
    case '\\': out.append("\\\\"); return;
    case '\n': out.append("\\n"); return;
    case '\r': out.append("\\r"); return;
    case '\t': out.append("\\t"); return;
    case '\b': out.append("\\b"); return;
    case '\f': out.append("\\f"); return;
    default: {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      out.append(u, sizeof u);
    }
  }
}

// How many leading bytes of s[i..] need no attention (no control character,
// no '"', no '\\', nothing >= 0x80), in steps of 16 (SSE2) or 8 bytes; the
// caller looks at the rest byte by byte.
std::size_t plain_prefix(std::string_view s, std::size_t i) {
  std::size_t start = i;
#ifdef __SSE2__
  const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= s.size(); i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    // Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too.
    __m128i special = _mm_or_si128(_mm_cmplt_epi8(v, space),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    if (_mm_movemask_epi8(special) != 0) break;
  }
#endif
  constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };  // the classic bit trick
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    std::uint64_t special = (v & highs) | ((v - 0x2020202020202020ULL) & ~v & highs) |
                            has_zero(v ^ 0x2222222222222222ULL) | has_zero(v ^ 0x5C5C5C5C5C5C5C5CULL);
    if (special != 0) break;
  }
  return i - start;
}

}  // namespace

std::string_view LineStamp::at(std::int64_t wall_ms) {
  if (wall_ms == ms_) return {text_, len_};
  std::int64_t sec = wall_ms / 1000;
  if (sec != sec_) {
    std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(text_, sizeof text_, "%Y-%m-%dT%H:%M:%S", &tm);
    sec_ = sec;
  }
  int milli = static_cast<int>(wall_ms % 1000);
  char* p = text_ + 19;  // after "YYYY-MM-DDTHH:MM:SS"
  p[0] = '.';
  p[1] = static_cast<char>('0' + milli / 100);
  p[2] = static_cast<char>('0' + milli / 10 % 10);
  p[3] = static_cast<char>('0' + milli % 10);
  p[4] = 'Z';
  len_ = 24;
  ms_ = wall_ms;
  return {text_, len_};
}

// s's characters escaped for inside a JSON string literal (no quotes).
void append_json_body(std::string& out, std::string_view s) {
  std::size_t run = 0;  // start of the bytes copied as they are
  std::size_t i = 0;
  while (i < s.size()) {
    if (std::size_t n = plain_prefix(s, i)) {
      i += n;
      if (i >= s.size()) break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (std::size_t n = utf8_sequence(s, i)) {
        i += n;
        continue;
      }
      out.append(s.substr(run, i - run));
      out.append(kReplacement);
      i += invalid_span(s, i);
      run = i;
      continue;
    }
    out.append(s.substr(run, i - run));
    append_escape(out, c);
    run = ++i;
  }
  out.append(s.substr(run));
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_body(out, s);
  out.push_back('"');
}

void LineFrame::set(const ServiceLineFormat& fmt, std::string_view stamp, std::string_view service, bool is_stderr) {
  json = fmt.json;
  escape = fmt.escape && !fmt.json;
  prefix.clear();
  if (json) {
    prefix.append("{\"ts\":\"");
    prefix.append(stamp);
    prefix.append("\",\"level\":\"info\",\"service\":");
    append_json_string(prefix, service);
    prefix.append(is_stderr ? ",\"stream\":\"stderr\",\"msg\":\"" : ",\"stream\":\"stdout\",\"msg\":\"");
    return;
  }
  prefix.append(stamp);
  prefix.append(fmt.color ? " \033[32mINFO \033[0m " : " INFO  ");
  prefix.append(service);
  prefix.append(is_stderr ? " ! " : " | ");
}

void LineFrame::append(std::string& out, std::string_view line, bool partial) const {
  if (json) {
    out.append(prefix);
    append_json_body(out, line);
    out.append(partial ? "\",\"partial\":true}\n" : "\"}\n");
    return;
  }
  out.append(prefix);
  if (partial) out.back() = '+';  // "web |+…": the next line continues this one
  if (escape) append_for_terminal(out, line);
  else out.append(line);
  out.push_back('\n');
}

void append_service_line(std::string& out, const ServiceLineFormat& fmt, std::string_view stamp,
                         std::string_view service, bool is_stderr, std::string_view line, bool partial) {
  LineFrame frame;
  frame.set(fmt, stamp, service, is_stderr);
  frame.append(out, line, partial);
}

}  // namespace procd
