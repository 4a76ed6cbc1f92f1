// layout_status_table: see status_table.hpp. Columns take their natural
// width; on a terminal too narrow for that, the middle columns (short,
// bounded values) stay whole and NAME and REASON share the rest: REASON
// gets up to kReasonShare columns first, NAME what is left but never fewer
// than kMinName, REASON then the remainder. A width too small even for
// that cuts each line at the width, so no line ever wraps.
#include "procd/status_table.hpp"

#include <algorithm>
#include <array>

#include "procd/terminal_text.hpp"

namespace procd {
namespace {

constexpr std::size_t kGap = 2;
constexpr std::size_t kMinName = 12;
constexpr std::size_t kReasonShare = 40;

using Cells = std::vector<std::string>;

Cells cells_of(const StatusRow& r, bool narrow) {
  if (narrow) return {r.name, r.state, r.pid, r.uptime, r.restarts, r.last_exit, r.reason};
  return {r.name, r.state, r.pid, r.uptime, r.restarts, r.last_exit, r.cpu, r.rss, r.health, r.reason};
}

Cells header(bool narrow) {
  if (narrow) return {"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "REASON"};
  return {"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "CPU", "RSS", "HEALTH", "REASON"};
}

// NAME's and REASON's widths when the natural ones do not fit in width.
void share_room(std::vector<std::size_t>& w, std::size_t width) {
  std::size_t fixed = kGap * (w.size() - 1);
  for (std::size_t i = 1; i + 1 < w.size(); ++i) fixed += w[i];
  std::size_t& name = w.front();
  std::size_t& reason = w.back();
  if (fixed + name + reason <= width) return;
  std::size_t room = width > fixed ? width - fixed : 0;
  std::size_t reason_first = std::min(reason, kReasonShare);
  name = std::min(name, std::max(kMinName, room > reason_first ? room - reason_first : 0));
  reason = room > name ? room - name : 0;
}

}  // namespace

std::vector<StatusLine> layout_status_table(const std::vector<StatusRow>& rows, std::size_t width, bool wide) {
  const bool fit = width > 0 && !wide;
  const bool narrow = fit && width < kNarrowBelow;
  std::vector<Cells> table = {header(narrow)};
  for (const auto& r : rows) table.push_back(cells_of(r, narrow));
  std::vector<std::size_t> w(table[0].size(), 0);
  for (const auto& r : table)
    for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], display_columns(r[i]));
  if (fit) share_room(w, width);

  std::vector<StatusLine> lines;
  lines.reserve(table.size());
  for (std::size_t n = 0; n < table.size(); ++n) {
    StatusLine line;
    for (std::size_t i = 0; i < table[n].size(); ++i) {
      std::string cell = fit ? truncate_columns(table[n][i], w[i]) : table[n][i];
      if (i == 1 && n > 0) {
        line.state_at = line.text.size();
        line.state_len = cell.size();
      }
      line.text += cell;
      if (i + 1 < table[n].size()) line.text.append(w[i] - display_columns(cell) + kGap, ' ');
    }
    if (fit && display_columns(line.text) > width) {
      line.text = truncate_columns(line.text, width);
      line.state_len = std::min(line.state_len, line.text.size() > line.state_at ? line.text.size() - line.state_at : 0);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace procd
