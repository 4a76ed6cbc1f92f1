#include "procd/time_spec.hpp"

#include <time.h>

#include <cctype>
#include <charconv>

namespace procd {
namespace {

// Digits at text[at, at+n) as a number; false when any is not a digit.
bool digits(std::string_view text, std::size_t at, std::size_t n, int& out) {
  if (at + n > text.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

std::optional<std::int64_t> utc_time(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.mmm][Z]
  int y, mo, d, h, mi, s, ms = 0;
  if (!digits(t, 0, 4, y) || t.size() < 19 || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
      !digits(t, 8, 2, d) || (t[10] != 'T' && t[10] != ' ') || !digits(t, 11, 2, h) || t[13] != ':' ||
      !digits(t, 14, 2, mi) || t[16] != ':' || !digits(t, 17, 2, s))
    return std::nullopt;
  std::size_t at = 19;
  if (at < t.size() && t[at] == '.') {
    if (!digits(t, at + 1, 3, ms)) return std::nullopt;
    at += 4;
  }
  if (at < t.size() && t[at] == 'Z') ++at;
  if (at != t.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  time_t secs = ::timegm(&tm);
  return static_cast<std::int64_t>(secs) * 1000 + ms;
}

}  // namespace

std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_ms) {
  if (auto t = utc_time(text)) return t;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || n < 0 || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::int64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : unit == "h" ? 3600000 : unit == "d" ? 86400000 : 0;
  if (scale == 0 || n > 3650LL * 86400000 / scale) return std::nullopt;  // at most ten years back
  return now_ms - n * scale;
}

}  // namespace procd
