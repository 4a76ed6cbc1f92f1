// LogWindow (procd/log_window.hpp): the last n lines across rings, chosen
// newest first without a copy, given oldest first in pieces.
#include "procd/log_window.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace procd {
namespace {

std::uint64_t oldest(const LineRing& r) { return r.pushed() - r.size(); }

std::string item_of(const LineRing& r, std::uint64_t number, std::string_view name) {
  const LogLine& l = r.at(static_cast<std::size_t>(number - oldest(r)));
  return log_item({l.ts_ms, std::string(name), l.is_stderr, l.text, l.partial, l.is_procd, l.is_hook});
}

}  // namespace

LogWindow::LogWindow(const std::vector<RingRef>& rings, std::size_t n, std::size_t max_bytes, bool live,
                     std::uint8_t kinds, std::int64_t since_ms)
    : cursors_(rings.size()), live_(live), kinds_(kinds), since_ms_(since_ms) {
  n = std::min(n, kMaxLogLines);
  std::vector<std::size_t> left(rings.size());  // per ring: lines not yet looked at, from its newest
  for (std::size_t s = 0; s < rings.size(); ++s) {
    left[s] = rings[s].ring ? rings[s].ring->size() : 0;
    if (rings[s].ring) cursors_[s].end = rings[s].ring->pushed();
  }
  while (lines_ < n) {
    std::size_t best = rings.size();
    for (std::size_t s = 0; s < rings.size(); ++s)
      if (left[s] > 0 && (best == rings.size() || rings[s].ring->at(left[s] - 1).ts_ms >= rings[best].ring->at(left[best] - 1).ts_ms))
        best = s;
    if (best == rings.size()) break;
    const LineRing& r = *rings[best].ring;
    if (!wanted(r.at(left[best] - 1))) {  // another stream, or older: not counted, not given
      --left[best];
      continue;
    }
    std::size_t size = item_of(r, oldest(r) + left[best] - 1, rings[best].name).size();  // counted, not kept
    if (bytes_ + size > max_bytes) break;
    --left[best];
    bytes_ += size;
    ++lines_;
  }
  for (std::size_t s = 0; s < rings.size(); ++s)
    cursors_[s].next = rings[s].ring ? oldest(*rings[s].ring) + left[s] : 0;
}

// The oldest line not given yet across the rings (equal times: the first
// ring), skipping lines that left their ring and rings that are gone.
bool LogWindow::next_item(const std::vector<RingRef>& rings, std::string& item) {
  std::size_t best = cursors_.size();
  std::int64_t best_ts = 0;
  for (std::size_t s = 0; s < cursors_.size(); ++s) {
    Cursor& c = cursors_[s];
    const LineRing* r = s < rings.size() ? rings[s].ring : nullptr;
    std::uint64_t end = live_ && r ? r->pushed() : c.end;
    if (c.next >= end) continue;
    if (!r || r->pushed() < c.next) {  // gone (or replaced by a newer ring): the rest is skipped
      skipped_ += end - c.next;
      c.next = c.end = end;
      continue;
    }
    if (c.next < oldest(*r)) {  // the ring wrapped past them
      std::uint64_t to = std::min(oldest(*r), end);
      skipped_ += to - c.next;
      c.next = to;
      if (c.next >= end) continue;
    }
    while (c.next < end && !wanted(r->at(static_cast<std::size_t>(c.next - oldest(*r))))) ++c.next;
    if (c.next >= end) continue;
    std::int64_t ts = r->at(static_cast<std::size_t>(c.next - oldest(*r))).ts_ms;
    if (best == cursors_.size() || ts < best_ts) {
      best = s;
      best_ts = ts;
    }
  }
  if (best == cursors_.size()) return false;
  item = item_of(*rings[best].ring, cursors_[best].next++, rings[best].name);
  return true;
}

bool LogWindow::next(const std::vector<RingRef>& rings, std::string& out, std::size_t piece_bytes, bool pad) {
  while (out.size() < piece_bytes) {
    if (pending_off_ < pending_.size()) {
      std::size_t take = std::min(pending_.size() - pending_off_, piece_bytes - out.size());
      out.append(pending_, pending_off_, take);
      pending_off_ += take;
      given_ += take;
      continue;
    }
    pending_.clear();
    pending_off_ = 0;
    if (next_item(rings, pending_)) continue;
    if (skipped_ == 0 || marked_) break;
    marked_ = true;
    pending_ = fmt::format("{{\"skipped\":{}}}", skipped_);
    // Padded to the bytes promised; never shorter than the marker, whose
    // 14 to 17 bytes are fewer than any item's.
    if (pad && !live_ && bytes_ > given_ + pending_.size()) pending_.append(bytes_ - given_ - pending_.size() - 1, ' ');
    pending_ += '\n';
  }
  bool more = pending_off_ < pending_.size();
  if (!more && !marked_) {
    // Anything left? Look without taking: a cursor short of its end, or the marker.
    more = skipped_ > 0;
    for (std::size_t s = 0; s < cursors_.size() && !more; ++s) {
      const LineRing* r = s < rings.size() ? rings[s].ring : nullptr;
      more = cursors_[s].next < (live_ && r ? r->pushed() : cursors_[s].end);
    }
  }
  return more;
}

}  // namespace procd
