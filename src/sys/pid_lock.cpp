// The instance lock: `pid_file` opened, flock(LOCK_EX|LOCK_NB)'ed, truncated
// and filled with "PID\n", the fd kept for procd's lifetime.
//
// Invariants:
// - The lock, not the file's existence or content, says whether a procd is
//   running: a file nobody has locked is stale and simply taken over.
// - A held lock always sits on the inode currently at `path`: after locking,
//   acquire() checks that nobody unlinked/replaced the file meanwhile (a
//   previous holder releasing while we opened) and retries if so; release()
//   unlinks only while the path still names our inode, so it never deletes a
//   successor's file.
// - Parent directories are never created: a missing one is an IoOpen error
//   naming the path.
// - The file is opened through open_for_write (procd/file_io.hpp): never
//   through a symlink or a hard link (st_nlink must be 1), a regular file
//   only, a FIFO never blocks the open (IoOpen naming the path instead).
#include "procd/pid_lock.hpp"

#include "procd/file_io.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

namespace procd {
namespace {

// First line of the file as a positive PID, or 0.
pid_t read_pid(int fd) {
  char buf[32] = {};
  ssize_t n;
  do n = ::pread(fd, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  char* end = nullptr;
  long v = std::strtol(buf, &end, 10);
  if (end == buf || v <= 0 || v > 0x3fffffff) return 0;
  return static_cast<pid_t>(v);
}

bool same_inode(int fd, const std::string& path) {
  struct stat a {}, b {};
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Error io_error(Code fallback, int err, const std::string& what) {
  Code code = fallback;
  if (err == EMFILE || err == ENFILE) code = Code::ResourceFds;
  if (err == ENOSPC) code = Code::ResourceDiskFull;
  return make_error(code, fmt::format("{}: {}", what, std::strerror(err)));
}

}  // namespace

PidLock::PidLock(PidLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

PidLock& PidLock::operator=(PidLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

PidLock::~PidLock() { release(); }

Result<PidLock> PidLock::acquire(const std::string& path) {
  // A few rounds cover a holder that unlinks between our open and flock.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto opened = open_for_write(path, O_RDWR | O_CREAT);
    if (!opened.ok())
      return make_error(opened.error().code, fmt::format("cannot open PID file {}: {}", path, opened.error().message));
    int fd = *opened;
    int rc;
    do rc = ::flock(fd, LOCK_EX | LOCK_NB);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      int err = errno;
      pid_t other = err == EWOULDBLOCK ? read_pid(fd) : 0;
      ::close(fd);
      if (err != EWOULDBLOCK) return io_error(Code::IoOpen, err, fmt::format("cannot lock PID file {}", path));
      std::string who = other > 0 ? fmt::format("pid {}", other) : std::string("pid unknown");
      return make_error(Code::StateAlreadyRunning, fmt::format("procd is already running ({}) with lock {}", who, path));
    }
    if (!same_inode(fd, path)) {
      ::close(fd);
      continue;
    }
    std::string content = fmt::format("{}\n", ::getpid());
    ssize_t n = -1;
    if (::ftruncate(fd, 0) == 0) {
      do n = ::pwrite(fd, content.data(), content.size(), 0);
      while (n < 0 && errno == EINTR);
    }
    if (n != static_cast<ssize_t>(content.size())) {
      int err = n < 0 ? errno : EIO;  // a short write of 10 bytes means a full disk, in effect
      ::unlink(path.c_str());  // ours (locked, same inode): do not leave a half-written file
      ::close(fd);
      return io_error(Code::IoWrite, err, fmt::format("cannot write PID file {}", path));
    }
    PidLock lock;
    lock.fd_ = fd;
    lock.path_ = path;
    return lock;
  }
  return make_error(Code::StateAlreadyRunning, fmt::format("PID file {} keeps being replaced; another procd is starting", path));
}

pid_t PidLock::holder(const std::string& path) {
  auto opened = open_for_write(path, O_RDONLY);  // same refusals; it writes nothing
  if (!opened.ok()) return 0;
  int fd = *opened;
  pid_t pid = 0;
  int rc;
  do rc = ::flock(fd, LOCK_SH | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno == EWOULDBLOCK) pid = read_pid(fd);
  ::close(fd);  // also drops the shared lock if we got it
  return pid;
}

void PidLock::release() {
  if (fd_ < 0) return;
  // Unlink before unlocking, so a waiting procd never locks a dying file.
  if (same_inode(fd_, path_)) ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace procd
