// A reply of recent log lines (`GET /logs`, `procd logs -n`) read straight
// from the services' rings, piece by piece, never built whole.
//
// The window is chosen once, when the request comes: the last n lines
// across the rings in time order (equal times in the order the rings are
// given), at most kMaxLogLines lines and max_bytes bytes of items. Choosing
// walks the rings newest first and keeps only where each ring's window
// starts (a line number, LineRing::pushed()); each item is formatted to be
// counted, then dropped. next() then formats the items oldest first into
// pieces of at most piece_bytes: at most one item is held besides the piece.
//
// A service keeps printing while its reply is written: a line of the
// window that has left its ring (the ring wrapped) before its piece was
// made is skipped, as are the lines of a ring that is gone (the service was
// removed by a reload). After the last item, when any were skipped, comes
// one item {"skipped":K}. With pad (HTTP, whose Content-Length is bytes()),
// that item is padded with spaces before its '\n' to exactly the bytes the
// skipped items would have taken (always enough: an item is longer than
// the marker), so the body has the length promised.
//
// Pure: no loop, no clock; the rings are passed to every call (a null
// ring: gone), so a window never holds a pointer across loop turns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "procd/output.hpp"
#include "procd/protocol.hpp"

namespace procd {

struct RingRef {
  const LineRing* ring = nullptr;  // null: gone since the window was chosen
  std::string_view name;           // the service's, for its items
};

class LogWindow {
 public:
  // live: the window has no end, lines pushed after it was chosen are given
  // too (a followed reply catching up); bytes() then counts only the start.
  // kinds: the streams given (output.hpp's mask; 0 = all); since_ms: only
  // lines stamped at or after it (wall ms; 0 = all). n counts those only.
  LogWindow(const std::vector<RingRef>& rings, std::size_t n, std::size_t max_bytes = kMaxLogReplyBytes,
            bool live = false, std::uint8_t kinds = 0, std::int64_t since_ms = 0);

  std::size_t lines() const { return lines_; }  // lines chosen
  std::size_t bytes() const { return bytes_; }  // bytes of their items

  // Appends the next bytes to `out` (at most piece_bytes; items are cut
  // across pieces). Returns false once it has given the last.
  bool next(const std::vector<RingRef>& rings, std::string& out, std::size_t piece_bytes, bool pad = false);
  std::uint64_t skipped() const { return skipped_; }

 private:
  bool next_item(const std::vector<RingRef>& rings, std::string& item);

  struct Cursor {
    std::uint64_t next = 0;  // the number of its next line to give
    std::uint64_t end = 0;   // one past its last (not used when live)
  };
  std::vector<Cursor> cursors_;
  bool wanted(const LogLine& l) const { return log_kind_wanted(kinds_, l) && l.ts_ms >= since_ms_; }
  bool live_;
  std::uint8_t kinds_;
  std::int64_t since_ms_;
  std::size_t lines_ = 0;
  std::size_t bytes_ = 0;
  std::size_t given_ = 0;     // bytes appended so far
  std::uint64_t skipped_ = 0;
  bool marked_ = false;       // the skipped marker is made
  std::string pending_;       // the item being cut into pieces
  std::size_t pending_off_ = 0;
};

}  // namespace procd
