// open_for_write / read_bounded (procd/file_io.hpp).
//
// Invariants:
// - No path is followed through a symlink on a write; no open ever blocks
//   on a FIFO (O_NONBLOCK; a FIFO without a reader is ENXIO for a writer).
// - A file is checked (type, link count) on the fd that was opened, never
//   by path again, so nothing can be swapped in between check and use.
// - read_bounded reads at most max_bytes + 1 bytes, whatever the file.
#include "procd/file_io.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace procd {
namespace {

Code code_of(int err, Code fallback) {
  if (err == EMFILE || err == ENFILE) return Code::ResourceFds;
  if (err == ENOSPC || err == EDQUOT) return Code::ResourceDiskFull;
  return fallback;
}

std::string open_reason(int err) {
  if (err == ELOOP) return "is a symbolic link (not followed)";
  if (err == ENXIO) return "not a regular file (a FIFO or socket)";
  return std::strerror(err);
}

}  // namespace

const char* file_type_name(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "of an unknown type";
}

Result<int> open_for_write(const std::string& path, int flags, mode_t mode) {
  const bool truncate = (flags & O_TRUNC) != 0;
  int fd = ::open(path.c_str(), (flags & ~O_TRUNC) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
  if (fd < 0) {
    int err = errno;
    return make_error(code_of(err, Code::IoOpen), open_reason(err));
  }
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0) why = std::strerror(errno);
  else if (!S_ISREG(st.st_mode)) why = fmt::format("not a regular file ({})", file_type_name(st.st_mode));
  else if (st.st_nlink != 1) why = fmt::format("has {} hard links (refused: it may be another file)", st.st_nlink);
  else if (truncate && ::ftruncate(fd, 0) != 0) why = std::strerror(errno);
  if (!why.empty()) {
    ::close(fd);
    return make_error(Code::IoOpen, why);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result<std::string> read_bounded(const std::string& path, const ReadPolicy& policy, struct stat* st_out) {
  int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (policy.follow_symlinks ? 0 : O_NOFOLLOW);
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    return make_error(code_of(err, Code::IoOpen), open_reason(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(Code::IoOpen, std::strerror(err));
  }
  if (policy.regular_only && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(Code::IoOpen, fmt::format("not a regular file ({})", file_type_name(st.st_mode)));
  }
  if (st_out) *st_out = st;
  std::string data;
  char buf[16384];
  while (data.size() <= policy.max_bytes) {
    std::size_t want = std::min(sizeof buf, policy.max_bytes + 1 - data.size());
    ssize_t n = ::read(fd, buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      std::string why = err == EAGAIN ? "no data ready (not a regular file)" : std::strerror(err);
      return make_error(Code::IoRead, why);
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (data.size() > policy.max_bytes) return make_error(Code::IoRead, fmt::format("larger than {} bytes", policy.max_bytes));
  return data;
}

}  // namespace procd
