// Service output plumbing, independent of libuv: splitting a byte stream
// into lines (partial lines kept, very long lines cut into pieces), the
// in-memory ring of each service's last lines (for `procd logs`), and a
// size-rotated file writer (file, file.1 … file.N) that never loses a line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procd/error.hpp"

namespace procd {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line = 64 * 1024) : max_line_(max_line) {}
  // Calls on_line for each complete line (without '\n'); a line longer than
  // max_line is emitted in max_line pieces. During on_line, cut() says the
  // piece is not the line's end (the next piece continues it; no byte is
  // left out, so the pieces joined are the line) and continues() that it
  // goes on from a cut piece.
  void feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line);
  // At EOF: emit the unterminated rest, if any.
  void finish(const std::function<void(std::string_view)>& on_line);
  // An unterminated line is held (EOF would emit it through finish()).
  bool has_partial() const { return !partial_.empty(); }
  bool cut() const { return cut_; }
  bool continues() const { return continues_; }
  // Fast path for consumers of whole lines as bytes (a log file without
  // timestamps). When every line `bytes` completes is plain (no trailing
  // '\r', at most max_line bytes) and the new unterminated rest would not be
  // cut, calls on_block(head, body) once if a line was completed, keeps the
  // rest and returns true: head + body is byte for byte what feed() would
  // have emitted as lines, each followed by '\n' (head = the held partial
  // line, body = `bytes` through its last '\n'). Otherwise changes nothing
  // and returns false: call feed() instead.
  bool feed_plain(std::string_view bytes,
                  const std::function<void(std::string_view head, std::string_view body)>& on_block);

 private:
  void piece(std::string_view text, bool cut, const std::function<void(std::string_view)>& on_line);
  std::size_t max_line_;
  std::string partial_;
  bool cut_ = false;        // the piece on_line is given does not end its line
  bool continues_ = false;  // … and it follows a cut piece
};

struct LogLine {
  std::int64_t ts_ms = 0;   // wall clock, ms since epoch
  bool is_stderr = false;
  std::string text;
  bool partial = false;  // a cut piece of a longer line: the next one continues it
  bool is_procd = false;  // procd's own line about the service (spawned, exited, restarting …)
  bool is_hook = false;   // a line a hook (pre_start, stop_command, ...) wrote: "stream":"hook"
};

// A line's stream as a bit, for `procd logs --stream` and /logs?stream=:
// a set of kinds is a mask, 0 meaning every stream.
inline constexpr std::uint8_t kLogOut = 1, kLogErr = 2, kLogProcd = 4, kLogHook = 8;
inline std::uint8_t log_kind_bit(const LogLine& l) {
  return l.is_procd ? kLogProcd : l.is_hook ? kLogHook : l.is_stderr ? kLogErr : kLogOut;
}
inline bool log_kind_wanted(std::uint8_t kinds, const LogLine& l) { return kinds == 0 || (kinds & log_kind_bit(l)) != 0; }
// "out,err,procd,hook" (any of them, comma separated; "" = every stream) as a
// mask; nullopt for a word that is none of them.
std::optional<std::uint8_t> parse_log_kinds(std::string_view list);

// A circular array of `capacity` slots: a push reuses the oldest slot's
// string (no allocation once warm), and push_lines() copies only the last
// `capacity` lines of a block.
class LineRing {
 public:
  explicit LineRing(std::size_t capacity = 1000) : capacity_(capacity) {}
  void push(LogLine line);
  void push(std::int64_t ts_ms, bool is_stderr, std::string_view text, bool partial = false);
  // Same as push() of each line of head + body, where body is empty or ends
  // with '\n' and lines are separated by '\n' (head: the start of the first
  // line, without '\n'; ignored when body is empty).
  void push_lines(std::int64_t ts_ms, bool is_stderr, std::string_view head, std::string_view body);
  std::vector<LogLine> last(std::size_t n) const;
  // The i-th line, oldest first (i < size()): read without a copy.
  const LogLine& at(std::size_t i) const { return slots_[(first_ + i) % capacity_]; }
  std::size_t size() const { return count_; }
  // Lines ever pushed: the oldest held is number pushed() - size(), so a
  // reader that keeps a line's number sees whether it has been dropped.
  std::uint64_t pushed() const { return pushed_; }

 private:
  LogLine& next_slot();  // capacity_ > 0
  std::size_t capacity_;
  std::vector<LogLine> slots_;   // grows to capacity_, then reused in a circle
  std::size_t first_ = 0;        // oldest line
  std::size_t count_ = 0;
  std::uint64_t pushed_ = 0;
  std::vector<std::size_t> scratch_;  // push_lines: line starts, newest first
};

// What a RotatingFile::write did: `written` bytes went to the file (all of
// them unless `error` is set, or when error is IoRotate: written, but the
// rotation failed).
struct FileWrite {
  std::size_t written = 0;
  std::optional<Error> error;
  bool rotation_recovered = false;  // a rotation worked after failing (tell it once)
  bool ok() const { return !error; }
};

// Appends to `path`; when a write would pass max_size, the data is split at
// the last line that fits, path is renamed to path.1 (shifting older ones up
// to max_files) and the rest goes to a new file. A line is never split
// across files, and a line longer than max_size stands alone in its file.
// A failed rotation is retried with back-off (set_clock).
class RotatingFile {
 public:
  RotatingFile(std::string path, std::uint64_t max_size, int max_files);
  ~RotatingFile();
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;

  Result<void> open();
  // Writes a + b (whole lines) without joining them first. After a partial
  // write (a full disk), the caller passes the unwritten rest again: the
  // file is not rotated until the line it ended inside is complete.
  FileWrite write(std::string_view a, std::string_view b = {});
  Result<void> reopen();                      // SIGUSR1 (logrotate moved the file)
  // The monotonic clock (ms) a failed rotation's retries are timed on: the
  // loop's in the supervisor (default: std::chrono::steady_clock). After a
  // failure, write() goes on appending to the current file and tries again
  // only after 1 s, then 2, 4 … 60 s at most: IoRotate is returned for the
  // first failure of an outage only, rotation_recovered when one works again.
  void set_clock(std::function<std::int64_t()> now_ms) { clock_ = std::move(now_ms); }
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  Result<void> rotate();
  std::string path_;
  std::uint64_t max_size_;
  int max_files_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool mid_line_ = false;  // the last byte written was not '\n'
  std::function<std::int64_t()> clock_;
  std::int64_t backoff_ms_ = 0;  // 0: rotation works; else the wait after the last failure
  std::int64_t retry_at_ = 0;

};

}  // namespace procd
