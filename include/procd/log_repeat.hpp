// A service's repeated identical warning or error (a spawn failure in a
// restart loop: "command not found: x (...PATH...)") is logged once, then
// counted: the count is logged as "<message> (repeated N times)" when N
// reaches 10, 100, 1000, ... and when the streak ends (another message, or
// flush() when the service leaves its restart loop). Pure: the caller
// writes what feed() and flush() return. Invariant: every repeat is either
// written or counted in a summary line; memory is one message, held only
// while a streak lasts (8 B a service otherwise).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "procd/service_machine.hpp"

namespace procd {

class LogRepeat {
 public:
  // The lines to write for `line` (none when it repeats the last one).
  std::vector<act::Log> feed(const act::Log& line);
  // The summary of a streak not summed up yet, and forget it.
  std::optional<act::Log> flush();

 private:
  struct Streak {
    act::Log last;
    long long repeats = 0;   // identical lines after the first
    long long told = 0;      // repeats already in a summary line
  };
  std::unique_ptr<Streak> streak_;  // null: no warning or error since the last flush
};

}  // namespace procd
