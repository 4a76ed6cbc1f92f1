// Service output plumbing: byte stream -> lines, the per-service ring of last
// lines, and the size-rotated file writer.
//
// Invariants:
// - LineSplitter never holds more than max_line + 1 bytes: a line with no
//   '\n' yet is emitted in max_line pieces as it grows (the +1 keeps a
//   possible trailing '\r' with its line so CRLF never yields a stray piece).
//   One trailing '\r' is stripped from each complete line; empty lines are
//   kept.
// - feed_plain() hands out exactly the bytes feed() would turn into lines
//   (each + '\n'), or does nothing: callers may mix the two freely.
// - LineRing holds at most `capacity` lines, oldest first.
// - RotatingFile writes each write() call's data into a single file: rotation
//   happens only *before* a write, never in the middle of one, so a line is
//   never split or dropped by rotation. Files are path (current),
//   path.1 (newest rotated) … path.max_files (oldest kept), as spdlog does.
//   max_size == 0 or max_files <= 0 disables rotation.
// - The file is opened with O_NOFOLLOW | O_NONBLOCK and must be a regular
//   file: a symlink the service user plants at `path` (before start, or
//   between a rotation's rename and its open) never redirects root's writes,
//   and a FIFO never blocks the loop; IoOpen names the path instead. The
//   rotation renames are safe as they are: rename(2) moves a symlink itself,
//   never writes through it.
// - Error contract of write(): IoRotate means the data WAS written (to the
//   current file, which stays over size) and rotation failed — log it and go
//   on. IoWrite / ResourceDiskFull mean the data was not (fully) written; a
//   prefix may be in the file, and the caller decides whether to retry.
#include "procd/output.hpp"

#include <cerrno>
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

Code io_code(int err, Code fallback) {
  if (err == ENOSPC || err == EDQUOT) return Code::ResourceDiskFull;
  if (err == EMFILE || err == ENFILE) return Code::ResourceFds;
  return fallback;
}

}  // namespace

// ---- LineSplitter ------------------------------------------------------------

void LineSplitter::feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line) {
  const std::size_t max = max_line_ ? max_line_ : 1;
  auto emit = [&](std::string_view line) {
    line = strip_cr(line);
    do {  // do/while: an empty line is still one line
      on_line(line.substr(0, max));
      line.remove_prefix(line.size() < max ? line.size() : max);
    } while (!line.empty());
  };
  while (!bytes.empty()) {
    std::size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      partial_.append(bytes);
      std::size_t done = 0;
      while (partial_.size() - done > max + 1) {
        on_line(std::string_view(partial_).substr(done, max));
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

void LineRing::push(std::int64_t ts_ms, bool is_stderr, std::string_view text) {
  if (capacity_ == 0) return;
  LogLine& slot = next_slot();
  slot.ts_ms = ts_ms;
  slot.is_stderr = is_stderr;
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

// ---- RotatingFile ------------------------------------------------------------

RotatingFile::RotatingFile(std::string path, std::uint64_t max_size, int max_files)
    : path_(std::move(path)), max_size_(max_size), max_files_(max_files) {}

RotatingFile::~RotatingFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> RotatingFile::open() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) {
    int err = errno;
    std::string why = err == ELOOP ? "is a symbolic link (not followed)" : std::strerror(err);
    if (err == ENXIO) why = "not a regular file (a FIFO?)";
    return make_error(io_code(err, Code::IoOpen), fmt::format("cannot open {}: {}", path_, why));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(Code::IoOpen, fmt::format("cannot open {}: not a regular file", path_));
  }
  // Regular files never return EAGAIN; keep the write loop's blocking contract plain.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  size_ = size;
  return {};
}

Result<void> RotatingFile::reopen() {
  // open() only replaces the fd once the new one is open: if it fails we keep
  // writing to the old (moved) file rather than losing lines.
  return open();
}

Result<void> RotatingFile::rotate() {
  // Shift oldest first: path.(N-1) -> path.N overwrites (drops) the oldest.
  for (int i = max_files_ - 1; i >= 1; --i) {
    std::string from = fmt::format("{}.{}", path_, i);
    std::string to = fmt::format("{}.{}", path_, i + 1);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      int err = errno;
      return make_error(Code::IoRotate, fmt::format("cannot rename {} to {}: {}", from, to, std::strerror(err)));
    }
  }
  std::string first = path_ + ".1";
  if (::rename(path_.c_str(), first.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    return make_error(Code::IoRotate, fmt::format("cannot rename {} to {}: {}", path_, first, std::strerror(err)));
  }
  // Until the new file opens, fd_ still points at path.1: nothing is lost.
  if (auto r = open(); !r) return make_error(Code::IoRotate, r.error().message);
  return {};
}

Result<void> RotatingFile::write(std::string_view data) { return write(data, {}); }

Result<void> RotatingFile::write(std::string_view a, std::string_view b) {
  if (fd_ < 0)
    if (auto r = open(); !r) return r;
  std::optional<Error> rotate_error;
  bool rotating = max_size_ > 0 && max_files_ > 0;
  if (rotating && size_ > 0 && size_ + a.size() + b.size() > max_size_)
    if (auto r = rotate(); !r) rotate_error = r.error();
  while (!a.empty() || !b.empty()) {
    struct iovec iov[2];
    int cnt = 0;
    if (!a.empty()) iov[cnt++] = {const_cast<char*>(a.data()), a.size()};
    if (!b.empty()) iov[cnt++] = {const_cast<char*>(b.data()), b.size()};
    ssize_t n = cnt == 1 ? ::write(fd_, iov[0].iov_base, iov[0].iov_len) : ::writev(fd_, iov, cnt);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      return make_error(io_code(err, Code::IoWrite), fmt::format("cannot write {}: {}", path_, std::strerror(err)));
    }
    size_ += static_cast<std::uint64_t>(n);
    std::size_t done = static_cast<std::size_t>(n);
    std::size_t from_a = done < a.size() ? done : a.size();
    a.remove_prefix(from_a);
    b.remove_prefix(done - from_a);
  }
  if (rotate_error) return *rotate_error;
  return {};
}

}  // namespace procd
