// Service output plumbing: byte stream -> lines, and the per-service ring of
// last lines (RotatingFile is in rotating_file.cpp).
//
// Invariants:
// - LineSplitter never holds more than max_line + 1 bytes: a line with no
//   '\n' yet is emitted in max_line pieces as it grows (the +1 keeps a
//   possible trailing '\r' with its line so CRLF never yields a stray piece).
//   One trailing '\r' is stripped from each complete line; empty lines are
//   kept. Every piece but a line's last is flagged cut() while on_line runs.
// - feed_plain() hands out exactly the bytes feed() would turn into lines
//   (each + '\n'), or does nothing: callers may mix the two freely.
// - LineRing holds at most `capacity` lines, oldest first.
#include "procd/output.hpp"

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>

namespace procd {
namespace {

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

// ---- LineSplitter ------------------------------------------------------------

void LineSplitter::piece(std::string_view text, bool cut, const std::function<void(std::string_view)>& on_line) {
  cut_ = cut;
  on_line(text);
  continues_ = cut;
  cut_ = false;
}

void LineSplitter::feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line) {
  const std::size_t max = max_line_ ? max_line_ : 1;
  auto emit = [&](std::string_view line) {
    line = strip_cr(line);
    do {  // do/while: an empty line is still one line
      const bool more = line.size() > max;
      piece(line.substr(0, max), more, on_line);
      line.remove_prefix(more ? max : line.size());
    } while (!line.empty());
  };
  while (!bytes.empty()) {
    std::size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      std::size_t done = 0;
      while (partial_.size() - done > max + 1) {
        piece(std::string_view(partial_).substr(done, max), true, on_line);
        done += max;
      }
      partial_.erase(0, done);
      return;
    }
    if (partial_.empty()) {
      emit(bytes.substr(0, nl));  // common case: no copy
    } else {
      partial_.append(bytes.substr(0, nl));
      emit(partial_);
      partial_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

void LineSplitter::finish(const std::function<void(std::string_view)>& on_line) {
  if (partial_.empty()) return;
  std::string rest = std::move(partial_);
  partial_.clear();
  feed(rest + '\n', on_line);  // same cutting rules as a terminated line
}

bool LineSplitter::feed_plain(std::string_view bytes,
                             const std::function<void(std::string_view, std::string_view)>& on_block) {
  const std::size_t max = max_line_ ? max_line_ : 1;
  const char* base = bytes.data();
  const void* last = bytes.empty() ? nullptr : ::memrchr(base, '\n', bytes.size());
  if (!last) {  // nothing completed: plain while feed() would not cut the partial line
    if (partial_.size() + bytes.size() > max + 1) return false;
    partial_.append(bytes);
    return true;
  }
  const std::size_t body_len = static_cast<std::size_t>(static_cast<const char*>(last) - base) + 1;
  std::string_view body = bytes.substr(0, body_len), rest = bytes.substr(body_len);
  if (rest.size() > max + 1) return false;
  // Line lengths: the first line is partial_ + body up to its first '\n'.
  const std::size_t first_nl = body.find('\n');
  if (partial_.size() + first_nl > max) return false;
  // Every later line fits in max bytes iff each window of max + 1 bytes
  // holds a '\n' (memrchr from the window's end: short lines stop it early).
  for (std::size_t pos = first_nl + 1; body_len - pos > max;) {
    const void* nl = ::memrchr(base + pos, '\n', max + 1);
    if (!nl) return false;
    pos = static_cast<std::size_t>(static_cast<const char*>(nl) - base) + 1;
  }
  // No line may end in '\r' (feed() strips it).
  if (!partial_.empty() && partial_.back() == '\r' && first_nl == 0) return false;
  for (const char* p = base; (p = static_cast<const char*>(std::memchr(p, '\r', body_len - static_cast<std::size_t>(p - base))));) {
    if (p[1] == '\n') return false;  // p < last '\n', so p[1] is in body
    ++p;
  }
  on_block(partial_, body);
  partial_.assign(rest);
  return true;
}

// ---- LineRing ----------------------------------------------------------------

LogLine& LineRing::next_slot() {
  ++pushed_;
  if (count_ < capacity_) {  // still filling: first_ == 0, slots_.size() == count_
    ++count_;
    return slots_.emplace_back();
  }
  LogLine& slot = slots_[first_];
  first_ = first_ + 1 == capacity_ ? 0 : first_ + 1;
  return slot;
}

namespace {
void set_text(std::string& to, std::string_view text) {
  // Reuse the slot's buffer, but let one huge line's buffer go once lines shrink.
  if (to.capacity() > 4096 && text.size() < to.capacity() / 4) to = std::string(text);
  else to.assign(text);
}
}  // namespace

void LineRing::push(LogLine line) {
  if (capacity_ == 0) return;
  LogLine& slot = next_slot();
  slot = std::move(line);
}

void LineRing::push(std::int64_t ts_ms, bool is_stderr, std::string_view text, bool partial) {
  if (capacity_ == 0) return;
  LogLine& slot = next_slot();
  slot.ts_ms = ts_ms;
  slot.is_stderr = is_stderr;
  slot.partial = partial;
  slot.is_procd = false;
  slot.is_hook = false;
  set_text(slot.text, text);
}

void LineRing::push_lines(std::int64_t ts_ms, bool is_stderr, std::string_view head, std::string_view body) {
  if (capacity_ == 0 || body.empty()) return;
  // Walk back from the last '\n' collecting at most capacity_ line starts;
  // SIZE_MAX marks the first line, which begins in head.
  scratch_.clear();
  std::size_t end = body.size() - 1;  // the '\n' ending the newest line
  while (scratch_.size() < capacity_) {
    const void* nl = end ? ::memrchr(body.data(), '\n', end) : nullptr;
    if (!nl) {
      scratch_.push_back(SIZE_MAX);
      break;
    }
    std::size_t start = static_cast<std::size_t>(static_cast<const char*>(nl) - body.data()) + 1;
    scratch_.push_back(start);
    end = start - 1;
  }
  for (std::size_t i = scratch_.size(); i-- > 0;) {
    std::size_t start = scratch_[i];
    std::size_t stop = i == 0 ? body.size() - 1 : scratch_[i - 1] - 1;
    LogLine& slot = next_slot();
    slot.ts_ms = ts_ms;
    slot.is_stderr = is_stderr;
    slot.partial = false;
    slot.is_procd = false;
    slot.is_hook = false;
  slot.is_hook = false;
    if (start == SIZE_MAX) {
      set_text(slot.text, head);
      slot.text.append(body.substr(0, stop));
    } else {
      set_text(slot.text, body.substr(start, stop - start));
    }
  }
}

std::vector<LogLine> LineRing::last(std::size_t n) const {
  if (n > count_) n = count_;
  std::vector<LogLine> out;
  out.reserve(n);
  for (std::size_t i = count_ - n; i < count_; ++i) out.push_back(slots_[(first_ + i) % capacity_]);
  return out;
}

std::optional<std::uint8_t> parse_log_kinds(std::string_view list) {
  std::uint8_t kinds = 0;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view word = list.substr(0, comma);
    if (word == "out") kinds |= kLogOut;
    else if (word == "err") kinds |= kLogErr;
    else if (word == "procd") kinds |= kLogProcd;
    else if (word == "hook") kinds |= kLogHook;
    else if (!word.empty()) return std::nullopt;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return kinds;
}

}  // namespace procd
