// Service output plumbing: byte stream -> lines, the per-service ring of last
// lines, and the size-rotated file writer.
//
// Invariants:
// - LineSplitter never holds more than max_line + 1 bytes: a line with no
//   '\n' yet is emitted in max_line pieces as it grows (the +1 keeps a
//   possible trailing '\r' with its line so CRLF never yields a stray piece).
//   One trailing '\r' is stripped from each complete line; empty lines are
//   kept.
// - LineRing holds at most `capacity` lines, oldest first.
// - RotatingFile writes each write() call's data into a single file: rotation
//   happens only *before* a write, never in the middle of one, so a line is
//   never split or dropped by rotation. Files are path (current),
//   path.1 (newest rotated) … path.max_files (oldest kept), as spdlog does.
//   max_size == 0 or max_files <= 0 disables rotation.
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

// ---- LineRing ----------------------------------------------------------------

void LineRing::push(LogLine line) {
  if (capacity_ == 0) return;
  if (lines_.size() == capacity_) lines_.pop_front();
  lines_.push_back(std::move(line));
}

std::vector<LogLine> LineRing::last(std::size_t n) const {
  if (n > lines_.size()) n = lines_.size();
  return std::vector<LogLine>(lines_.end() - static_cast<std::ptrdiff_t>(n), lines_.end());
}

// ---- RotatingFile ------------------------------------------------------------

RotatingFile::RotatingFile(std::string path, std::uint64_t max_size, int max_files)
    : path_(std::move(path)), max_size_(max_size), max_files_(max_files) {}

RotatingFile::~RotatingFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> RotatingFile::open() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    return make_error(io_code(err, Code::IoOpen), fmt::format("cannot open {}: {}", path_, std::strerror(err)));
  }
  struct stat st {};
  std::uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
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

Result<void> RotatingFile::write(std::string_view data) {
  if (fd_ < 0)
    if (auto r = open(); !r) return r;
  std::optional<Error> rotate_error;
  bool rotating = max_size_ > 0 && max_files_ > 0;
  if (rotating && size_ > 0 && size_ + data.size() > max_size_)
    if (auto r = rotate(); !r) rotate_error = r.error();
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      return make_error(io_code(err, Code::IoWrite), fmt::format("cannot write {}: {}", path_, std::strerror(err)));
    }
    size_ += static_cast<std::uint64_t>(n);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (rotate_error) return *rotate_error;
  return {};
}

}  // namespace procd
