// sd_notify in both directions. NotifyServer owns one SOCK_DGRAM unix
// socket (fd_) and the uv_poll_t watching it; the sender of every datagram
// is the PID the kernel put in SCM_CREDENTIALS, never anything the payload
// claims. Invariants: fd_ >= 0 exactly while listening; the fd is closed
// only after uv_close() of the poll handle (allowed by libuv: the fd may be
// closed right after uv_poll_stop()/uv_close()); file descriptors smuggled
// in with SCM_RIGHTS are closed, never kept; at most kNotifyBatch datagrams
// are handled per readable event (the poll is level-triggered, so the rest
// are read on the next loop iteration, after timers and other handles).
// notify_manager() is one sendto() to $NOTIFY_SOCKET.
#include "procd/notify.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "procd/logging.hpp"

namespace procd {

std::map<std::string, std::string> parse_notify_message(std::string_view datagram) {
  std::map<std::string, std::string> out;
  while (!datagram.empty()) {
    auto nl = datagram.find('\n');
    std::string_view line = datagram.substr(0, nl);
    datagram = nl == std::string_view::npos ? std::string_view{} : datagram.substr(nl + 1);
    auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    out[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return out;
}

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Fill `addr` for a filesystem path or "@abstract" name; returns the address length or 0 if too long.
socklen_t fill_unix_addr(sockaddr_un& addr, std::string_view name) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (!name.empty() && name[0] == '@') {
    // Abstract: sun_path[0] = 0, the name follows, no terminator counted.
    if (name.size() > sizeof addr.sun_path) return 0;
    std::memcpy(addr.sun_path + 1, name.data() + 1, name.size() - 1);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  }
  if (name.size() >= sizeof addr.sun_path) return 0;
  std::memcpy(addr.sun_path, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
}

}  // namespace

NotifyServer::~NotifyServer() { close(); }

Result<void> NotifyServer::listen(const std::string& path) {
  close();
  sockaddr_un addr;
  socklen_t len = fill_unix_addr(addr, path);
  if (path.empty() || path[0] == '@' || len == 0)
    return make_error(Code::IoSocket, fmt::format("notify socket path {} is empty or too long (max {} bytes)", path,
                                                  sizeof addr.sun_path - 1));

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(Code::ControlSocketUnsafe,
                        fmt::format("{} exists and is not a socket; refusing to replace it", path));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return make_error(Code::IoSocket, fmt::format("cannot remove stale socket {}: {}", path, errno_text(errno)));
  } else if (errno != ENOENT) {
    return make_error(Code::IoSocket, fmt::format("cannot inspect {}: {}", path, errno_text(errno)));
  }

  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error(Code::IoSocket, fmt::format("notify socket: {}", errno_text(errno)));
  auto fail = [&](std::string what) {
    int err = errno;
    ::close(fd);
    return make_error(Code::IoSocket, fmt::format("{} {}: {}", what, path, errno_text(err)));
  };
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) return fail("SO_PASSCRED on");
  // Services of any user send to it, so 0666. Set on the fd before bind
  // (Linux gives the bound node the socket inode's mode minus the umask),
  // with umask 0 around bind only: no path is chmod-ed after bind, so a
  // symlink swapped in there is never followed.
  if (::fchmod(fd, 0666) != 0) return fail("fchmod");
  mode_t saved_umask = ::umask(0);
  int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  int bind_errno = errno;
  ::umask(saved_umask);
  errno = bind_errno;
  if (bound != 0) return fail("bind");

  uv_poll_t* h = poll_.reset(this);
  int rc = uv_poll_init(loop_, h, fd);
  if (rc == 0)
    rc = uv_poll_start(h, UV_READABLE, [](uv_poll_t* p, int status, int) {
      auto* self = owner_of<NotifyServer>(p);
      if (!self) return;
      if (status < 0) {
        Log::write(LogLevel::Warn, fmt::format("notify socket poll: {}", uv_strerror(status)));
        return;
      }
      self->on_readable();
    });
  if (rc != 0) {
    poll_.close();
    ::close(fd);
    ::unlink(path.c_str());
    return make_error(Code::IoSocket, fmt::format("watch notify socket {}: {}", path, uv_strerror(rc)));
  }
  fd_ = fd;
  path_ = path;
  return {};
}

void NotifyServer::close() {
  if (fd_ < 0) return;
  poll_.close();  // uv_close first: only then may the fd go
  ::close(std::exchange(fd_, -1));
  ::unlink(path_.c_str());
}

void NotifyServer::on_readable() {
  char buf[4096];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * 16)];
  std::size_t handled = 0;
  while (fd_ >= 0 && handled < kNotifyBatch) {
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        Log::write(LogLevel::Warn, fmt::format("notify socket recvmsg: {}", errno_text(errno)));
      return;
    }
    ++handled;  // dropped datagrams count too: they cost the same to read
    const ucred* cred = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
        cred = reinterpret_cast<const ucred*>(CMSG_DATA(c));
      } else if (c->cmsg_type == SCM_RIGHTS) {
        // FDSTORE and friends are not supported: never keep passed descriptors.
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int passed;
          std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
          ::close(passed);
        }
      }
    }
    if (msg.msg_flags & MSG_TRUNC) {
      Log::write(LogLevel::Debug, "notify datagram larger than 4 KiB dropped");
      continue;
    }
    if (!cred || cred->pid <= 0) {
      Log::write(LogLevel::Debug, "notify datagram without sender credentials dropped");
      continue;
    }
    pid_t sender = cred->pid;
    auto fields = parse_notify_message(std::string_view(buf, static_cast<size_t>(n)));
    if (on_message_) on_message_(sender, fields);
  }
}

Result<void> notify_manager(std::string_view message) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (!env || !*env) return {};
  std::string_view name(env);
  if (name[0] != '/' && name[0] != '@')
    return make_error(Code::IoSocket, fmt::format("NOTIFY_SOCKET={}: only paths and @abstract names are supported", name));
  sockaddr_un addr;
  socklen_t len = fill_unix_addr(addr, name);
  if (len == 0) return make_error(Code::IoSocket, fmt::format("NOTIFY_SOCKET={}: name too long", name));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(Code::IoSocket, fmt::format("notify socket: {}", errno_text(errno)));
  ssize_t n;
  do {
    n = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0) return make_error(Code::IoSocket, fmt::format("notify {}: {}", name, errno_text(err)));
  return {};
}

bool manager_notify_enabled() {
  const char* env = std::getenv("NOTIFY_SOCKET");
  return env && *env;
}

}  // namespace procd
