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
  if (streak_ && same(streak_->last, line)) {
    Streak& s = *streak_;
    ++s.repeats;
    if (s.repeats >= 10 && power_of_ten(s.repeats)) {
      out.push_back(summary(line, s.repeats));
      s.told = s.repeats;
    }
    return out;
  }
  if (auto s = flush()) out.push_back(std::move(*s));
  streak_ = std::make_unique<Streak>(Streak{line, 0, 0});
  out.push_back(line);
  return out;
}

std::optional<act::Log> LogRepeat::flush() {
  std::optional<act::Log> out;
  if (streak_ && streak_->repeats > streak_->told) out = summary(streak_->last, streak_->repeats);
  streak_.reset();
  return out;
}

}  // namespace procd
