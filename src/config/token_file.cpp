// read_token_file (procd/token_file.hpp): O_NOFOLLOW | O_NONBLOCK open,
// fstat for a regular file, a bounded read, whitespace trimmed.
#include "procd/token_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "procd/http_request.hpp"

namespace procd {

Result<std::string> read_token_file(const std::string& path) {
  constexpr std::size_t kMaxBytes = 4096;
  auto fail = [&](const std::string& why) {
    return make_error(Code::ConfigTokenFile, fmt::format("http_token_file {}: {}", path, why));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return fail(errno == ELOOP ? "is a symbolic link (not followed)" : std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  std::string data;
  char buf[1024];
  while (data.size() <= kMaxBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(std::strerror(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (data.size() > kMaxBytes) return fail(fmt::format("larger than {} bytes", kMaxBytes));
  std::string token = trim_token(data);
  if (token.empty()) return fail("is empty");
  return token;
}

}  // namespace procd
