// LogRepeat: see log_repeat.hpp.
#include "procd/log_repeat.hpp"

#include <fmt/core.h>

namespace procd {

namespace {

bool same(const act::Log& a, const act::Log& b) {
  return a.level == b.level && a.code == b.code && a.message == b.message;
}

bool power_of_ten(long long n) {
  while (n >= 10 && n % 10 == 0) n /= 10;
  return n == 1;
}

act::Log summary(const act::Log& line, long long repeats) {
  return act::Log{line.level, line.code,
                  fmt::format("{} (repeated {} time{})", line.message, repeats, repeats == 1 ? "" : "s")};
}

}  // namespace

std::vector<act::Log> LogRepeat::feed(const act::Log& line) {
  std::vector<act::Log> out;
  if (line.level == act::Level::Debug || line.level == act::Level::Info) {
    out.push_back(line);
    return out;
  }
  if (last_ && same(*last_, line)) {
    ++repeats_;
    if (repeats_ >= 10 && power_of_ten(repeats_)) {
      out.push_back(summary(line, repeats_));
      told_ = repeats_;
    }
    return out;
  }
  if (auto s = flush()) out.push_back(std::move(*s));
  last_ = line;
  out.push_back(line);
  return out;
}

std::optional<act::Log> LogRepeat::flush() {
  std::optional<act::Log> out;
  if (last_ && repeats_ > told_) out = summary(*last_, repeats_);
  last_.reset();
  repeats_ = 0;
  told_ = 0;
  return out;
}

}  // namespace procd
