// The `procd status` table as text: a pure function of the rows and the
// terminal's width, so every layout is unit tested without a terminal.
// Invariants: with width 0 (not a terminal) or wide, every cell is shown
// uncut and the columns are those of the full table; otherwise no line is
// longer than width columns (a code point counts as one column), a cut cell
// ends in an ellipsis, and under kNarrowBelow columns CPU, RSS and HEALTH
// are left out (an unhealthy service says so in its REASON).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace procd {

struct StatusRow {
  std::string name, state, pid, uptime, restarts, last_exit, cpu, rss, health, reason;
};

struct StatusLine {
  std::string text;
  std::size_t state_at = 0;   // byte offset of the STATE cell in text
  std::size_t state_len = 0;  // its length in bytes (0 on the header)
};

inline constexpr std::size_t kNarrowBelow = 100;

// The header line first, then one line per row.
std::vector<StatusLine> layout_status_table(const std::vector<StatusRow>& rows, std::size_t width, bool wide);

}  // namespace procd
