// RotatingFile: the size-rotated file writer of service output and of
// procd's own log file (see output.hpp).
//
// Invariants:
// - RotatingFile rotates only between lines, never in the middle of one, so
//   a line is never split or dropped by rotation. Files are path (current),
//   path.1 (newest rotated) … path.max_files (oldest kept), as spdlog does.
//   max_size == 0 or max_files <= 0 disables rotation.
// - The file is opened through open_for_write (procd/file_io.hpp): never
//   through a symlink or a hard link (st_nlink must be 1), a regular file
//   only: a symlink the service user plants at `path` (before start, or
//   between a rotation's rename and its open) never redirects root's writes,
//   and a FIFO never blocks the loop; IoOpen names the path instead. The
//   rotation renames are safe as they are: rename(2) moves a symlink itself,
//   never writes through it.
// - Error contract of write(): IoRotate means the data WAS written (to the
//   current file, which stays over size) and rotation failed — log it and go
//   on. It comes once per outage: later tries wait 1 s, 2 s … 60 s (on the
//   caller's clock; no timer, no sleep: the next write past the wait tries)
//   and fail quietly; rotation_recovered tells when one works again. IoWrite / ResourceDiskFull mean only `written` bytes were: the caller
//   keeps the rest and passes exactly that again later (nothing is written
//   twice; a line cut by a full disk is finished in the same file).
// - Rotation splits a write at the last line that fits, so no file passes
//   max_size unless it holds a single line longer than that.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "procd/file_io.hpp"
#include "procd/output.hpp"

namespace procd {
namespace {

constexpr std::int64_t kFirstRetryMs = 1000;   // a failed rotation is tried again after 1 s,
constexpr std::int64_t kMaxRetryMs = 60 * 1000;  // then 2, 4 … 60 s

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Code io_code(int err, Code fallback) {
  if (err == ENOSPC || err == EDQUOT) return Code::ResourceDiskFull;
  if (err == EMFILE || err == ENFILE) return Code::ResourceFds;
  return fallback;
}

}  // namespace

// ---- RotatingFile ------------------------------------------------------------

RotatingFile::RotatingFile(std::string path, std::uint64_t max_size, int max_files)
    : path_(std::move(path)), max_size_(max_size), max_files_(max_files) {}

RotatingFile::~RotatingFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> RotatingFile::open() {
  auto opened = open_for_write(path_, O_WRONLY | O_APPEND | O_CREAT);
  if (!opened.ok())
    return make_error(opened.error().code, fmt::format("cannot open {}: {}", path_, opened.error().message));
  int fd = *opened;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(Code::IoOpen, fmt::format("cannot open {}: {}", path_, std::strerror(err)));
  }
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  size_ = size;
  mid_line_ = false;
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

namespace {

// a + b seen as one byte string, without joining them.
struct TwoPart {
  std::string_view a, b;
  std::size_t size() const { return a.size() + b.size(); }
  // One past the first '\n' at or after `from`; 0 if none.
  std::size_t line_end_after(std::size_t from) const {
    if (from < a.size())
      if (const void* nl = std::memchr(a.data() + from, '\n', a.size() - from))
        return static_cast<std::size_t>(static_cast<const char*>(nl) - a.data()) + 1;
    std::size_t in_b = from > a.size() ? from - a.size() : 0;
    if (in_b < b.size())
      if (const void* nl = std::memchr(b.data() + in_b, '\n', b.size() - in_b))
        return a.size() + static_cast<std::size_t>(static_cast<const char*>(nl) - b.data()) + 1;
    return 0;
  }
  // The longest prefix of at most `room` bytes that ends with '\n'; 0 if none.
  std::size_t lines_within(std::size_t room) const {
    if (room > size()) room = size();
    if (room > a.size())
      if (const void* nl = ::memrchr(b.data(), '\n', room - a.size()))
        return a.size() + static_cast<std::size_t>(static_cast<const char*>(nl) - b.data()) + 1;
    if (const void* nl = ::memrchr(a.data(), '\n', std::min(room, a.size())))
      return static_cast<std::size_t>(static_cast<const char*>(nl) - a.data()) + 1;
    return 0;
  }
  void drop(std::size_t n) {
    std::size_t from_a = std::min(n, a.size());
    a.remove_prefix(from_a);
    b.remove_prefix(n - from_a);
  }
};

// The n-th byte (1-based) of data.
char last_byte(TwoPart data, std::size_t n) {
  data.drop(n - 1);
  return data.a.empty() ? data.b.front() : data.a.front();
}

}  // namespace

FileWrite RotatingFile::write(std::string_view a, std::string_view b) {
  FileWrite out;
  if (fd_ < 0)
    if (auto r = open(); !r) {
      out.error = r.error();
      return out;
    }
  TwoPart data{a, b};
  bool rotating = max_size_ > 0 && max_files_ > 0;
  while (data.size() > 0) {
    // How much goes into the current file: everything, unless that passes
    // max_size; then the lines that fit, and a rotation before the rest.
    std::size_t take = data.size();
    if (mid_line_) {
      take = data.line_end_after(0);  // finish the cut line where it began
      if (take == 0) take = data.size();
    } else if (rotating && size_ + data.size() > max_size_) {
      std::size_t room = size_ < max_size_ ? static_cast<std::size_t>(max_size_ - size_) : 0;
      take = data.lines_within(room);
      if (take == 0 && size_ > 0) {
        const std::int64_t now = clock_ ? clock_() : steady_ms();
        if (backoff_ms_ > 0 && now < retry_at_) {  // backing off: the current file takes it
          rotating = false;
          continue;
        }
        if (auto r = rotate(); !r) {
          if (backoff_ms_ == 0) out.error = r.error();  // IoRotate, once per outage: keep writing to the current file
          backoff_ms_ = backoff_ms_ == 0 ? kFirstRetryMs : std::min(2 * backoff_ms_, kMaxRetryMs);
          retry_at_ = now + backoff_ms_;
          rotating = false;
        } else if (backoff_ms_ > 0) {
          backoff_ms_ = 0;
          out.rotation_recovered = true;
        }
        continue;
      }
      if (take == 0) take = data.line_end_after(0);  // one line longer than max_size: alone
      if (take == 0) take = data.size();
    }
    std::size_t wrote = 0;
    while (wrote < take) {
      TwoPart piece = data;
      piece.drop(wrote);
      std::size_t left = take - wrote;
      struct iovec iov[2];
      int cnt = 0;
      std::size_t na = std::min(left, piece.a.size());
      if (na) iov[cnt++] = {const_cast<char*>(piece.a.data()), na};
      if (left > na) iov[cnt++] = {const_cast<char*>(piece.b.data()), left - na};
      ssize_t n = ::writev(fd_, iov, cnt);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        if (wrote > 0) mid_line_ = last_byte(data, wrote) != '\n';  // the rest then belongs to this file
        out.written += wrote;
        out.error = make_error(io_code(err, Code::IoWrite), fmt::format("cannot write {}: {}", path_, std::strerror(err)));
        return out;
      }
      wrote += static_cast<std::size_t>(n);
      size_ += static_cast<std::uint64_t>(n);
    }
    mid_line_ = last_byte(data, take) != '\n';
    data.drop(take);
    out.written += take;
  }
  return out;
}

}  // namespace procd
