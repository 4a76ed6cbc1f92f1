// ControlListener: see control_listener.hpp for what it guarantees.
#include "procd/control_listener.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "procd/logging.hpp"
#include "procd/protocol.hpp"

namespace procd {
namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  return addr;
}

// Is something listening on the unix socket at path?
bool socket_is_live(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr = address_of(path);
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

// After bind, the path may already be someone else's (a directory others can
// write): mode and group are changed only through one O_PATH|O_NOFOLLOW
// descriptor that is first checked to be a socket we own, so neither a
// symlink nor a hard link planted at the path is ever followed.
Result<void> settle_socket_file(const std::string& path, mode_t mode, gid_t gid) {
  int fd = ::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return make_error(Code::ControlSocketUnsafe,
                      fmt::format("control socket {} is gone right after bind: {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid()) {
    ::close(fd);
    return make_error(Code::ControlSocketUnsafe, fmt::format("control socket {} was replaced right after bind", path));
  }
  // The umask at bind gave the mode already, unless a default ACL of the
  // directory overrode it: then chmod the inode the descriptor holds.
  if ((st.st_mode & 0777) != mode) {
    std::string by_fd = fmt::format("/proc/self/fd/{}", fd);
    if (::chmod(by_fd.c_str(), mode) != 0) {
      int err = errno;
      ::close(fd);
      return make_error(Code::ControlSocketUnsafe,
                        fmt::format("cannot set mode {:o} on control socket {}: {}", mode, path, std::strerror(err)));
    }
  }
  if (gid != static_cast<gid_t>(-1) && ::fchownat(fd, "", static_cast<uid_t>(-1), gid, AT_EMPTY_PATH) != 0)
    Log::write(LogLevel::Warn, fmt::format("cannot give {} to group {}: {}", path, gid, std::strerror(errno)),
               code_fields(Code::IoSocket));
  ::close(fd);
  return {};
}

int open_reserve_fd() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

Result<void> ControlListener::open(const ControlConfig& cfg, gid_t group_gid) {
  path_ = cfg.socket;
  sockaddr_un probe{};
  if (path_.size() >= sizeof probe.sun_path)
    return make_error(Code::ControlSocketUnsafe, fmt::format("control socket path is too long ({} bytes, at most {}): {}",
                                                             path_.size(), sizeof probe.sun_path - 1, path_));
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode))
      return make_error(Code::ControlSocketUnsafe, fmt::format("refusing to replace symlink {} with the control socket", path_));
    if (!S_ISSOCK(st.st_mode))
      return make_error(Code::ControlSocketUnsafe,
                        fmt::format("refusing to replace {}: it exists and is not a socket", path_));
    if (socket_is_live(path_))
      return make_error(Code::StateAlreadyRunning,
                        fmt::format("another process is listening on control socket {}", path_));
    ::unlink(path_.c_str());  // stale: nobody listens
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Code::IoSocket, fmt::format("control socket: {}", std::strerror(errno)));
  sockaddr_un addr = address_of(path_);
  // Bind under a umask that already yields `mode`, so there is no window
  // in which the socket is more open than configured.
  mode_t old = ::umask(static_cast<mode_t>(~cfg.mode & 0777));
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_err = errno;
  ::umask(old);
  if (rc != 0) {
    ::close(fd);
    return make_error(Code::IoSocket, fmt::format("cannot bind control socket {}: {}", path_, std::strerror(bind_err)));
  }
  if (auto settled = settle_socket_file(path_, cfg.mode, group_gid); !settled.ok()) {
    ::close(fd);
    return settled;
  }
  if (::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path_.c_str());
    return make_error(Code::IoSocket, fmt::format("cannot listen on {}: {}", path_, std::strerror(err)));
  }
  fd_ = fd;
  reserve_fd_ = open_reserve_fd();
  return {};
}

void ControlListener::start(OnClient on_client) {
  on_client_ = std::move(on_client);
  uv_poll_init(loop_, poll_.reset(this), fd_);
  retry_.init(loop_, [this] { watch(); });
  watch();
}

void ControlListener::watch() {
  uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
    if (auto* self = owner_of<ControlListener>(h)) self->on_readable();
  });
}

void ControlListener::on_readable() {
  for (int n = 0; n < kMaxAcceptsPerTurn && fd_ >= 0; ++n) {
    int client = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client >= 0) {
      if (refusing_) {
        refusing_ = false;
        Log::write(LogLevel::Info, fmt::format("control socket {}: accepting clients again", path_));
      }
      if (reserve_fd_ < 0) reserve_fd_ = open_reserve_fd();
      on_client_(client);
      continue;
    }
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    if (err == EINTR || err == ECONNABORTED) continue;
    refuse_waiting_clients(err);
    return;
  }
}

void ControlListener::refuse_waiting_clients(int err) {
  bool fds = err == EMFILE || err == ENFILE;
  Code code = fds ? Code::ResourceFds : Code::IoSocket;
  if (!refusing_) {
    refusing_ = true;
    Log::write(LogLevel::Error,
               fmt::format("control socket {}: cannot accept clients: {}; refusing them until this clears", path_,
                           std::strerror(err)),
               code_fields(code));
  }
  if (fds && reserve_fd_ >= 0) {
    ::close(reserve_fd_);
    reserve_fd_ = -1;
    std::string reply = reply_error(make_error(code, fmt::format("procd cannot accept clients: {}", std::strerror(err))));
    for (int n = 0; n < kMaxAcceptsPerTurn; ++n) {
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) break;
      [[maybe_unused]] ssize_t w = ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(client);
    }
    reserve_fd_ = open_reserve_fd();
    if (reserve_fd_ >= 0) return;  // more waiting clients: the next turn refuses them
  }
  // No fd to refuse with (or another error): stop watching for a while
  // instead of waking at once for the same backlog.
  uv_poll_stop(poll_.get());
  retry_.schedule(kRetryMs);
}

void ControlListener::close() {
  retry_.close();
  poll_.close();
  if (reserve_fd_ >= 0) ::close(std::exchange(reserve_fd_, -1));
  if (fd_ >= 0) {
    ::close(std::exchange(fd_, -1));
    ::unlink(path_.c_str());
  }
}

}  // namespace procd
