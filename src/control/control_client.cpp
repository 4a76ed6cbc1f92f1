// Blocking client of the control socket, used by the CLI only (no libuv).
// The fd is non-blocking and every wait goes through poll() against one
// absolute deadline, so no call can hang longer than its timeout whatever
// the server does (a server that accepts but never answers, trickles bytes,
// or floods one endless line). Invariants: buf_ holds bytes received after
// the last complete line returned; a connection closed before a line is
// complete is an error, never a truncated reply; writes use MSG_NOSIGNAL so
// a vanished server is an error, not a SIGPIPE.
#include "procd/control_client.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace procd {
namespace {

using Clock = std::chrono::steady_clock;

// Replies are small except metrics text and big status tables; a line
// longer than kMaxReplyBytes means a confused or hostile peer, and refusing
// it bounds the client's memory.

// Milliseconds left before `deadline`, for poll(); -1 (forever) when there
// is no deadline.
int remaining_ms(const std::optional<Clock::time_point>& deadline) {
  if (!deadline) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::optional<Clock::time_point> deadline_in(int timeout_ms) {
  if (timeout_ms < 0) return std::nullopt;
  return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

// Waits for `events` on fd. Returns 1 ready, 0 timed out, -1 error (errno).
int wait_fd(int fd, short events, const std::optional<Clock::time_point>& deadline) {
  for (;;) {
    struct pollfd p = {fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n;
    // POLLHUP/POLLERR still count as "ready": the read or write that follows
    // reports what happened (EOF or the socket error).
    return 1;
  }
}

Error socket_error(const std::string& what) {
  return make_error(Code::IoSocket, fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace

ControlClient::~ControlClient() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> ControlClient::connect(const std::string& path, int timeout_ms) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buf_.clear();
  eof_ = false;
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return make_error(Code::ControlUnreachable, "no control socket path given");
  if (path.size() > sizeof(addr.sun_path) - 1) {
    return make_error(Code::ControlUnreachable,
                      fmt::format("socket path too long ({} bytes, max {}): {}", path.size(),
                                  sizeof(addr.sun_path) - 1, path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return socket_error("cannot create a unix socket");

  auto deadline = deadline_in(timeout_ms);
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      // A unix socket's listen backlog is full: the server is alive but
      // busy. Retry briefly within the deadline rather than fail at once.
      if (remaining_ms(deadline) == 0) {
        ::close(fd);
        return make_error(Code::ControlUnreachable, fmt::format("procd at {} is not accepting connections", path));
      }
      ::poll(nullptr, 0, 10);
      continue;
    }
    if (err == EINPROGRESS) {
      if (wait_fd(fd, POLLOUT, deadline) <= 0) {
        ::close(fd);
        return make_error(Code::ControlUnreachable, fmt::format("timed out connecting to {}", path));
      }
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0) break;
    }
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTSOCK || err == ENOTDIR) {
      // ECONNREFUSED: a socket file left behind by a procd that died.
      return make_error(Code::ControlUnreachable,
                        fmt::format("no procd is listening on {} (start it with `procd start`)", path));
    }
    return make_error(Code::IoSocket, fmt::format("cannot connect to {}: {}", path, std::strerror(err)));
  }
  // Trust only a server run by root or by the caller's own user: another
  // user's process on the socket path could feed the CLI anything.
  struct ucred cred {};
  socklen_t cred_len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0) {
    Error e = socket_error(fmt::format("cannot read the credentials of the server at {}", path));
    ::close(fd);
    return e;
  }
  if (cred.uid != 0 && cred.uid != ::geteuid()) {
    ::close(fd);
    return make_error(Code::ControlServerUntrusted,
                      fmt::format("the control socket {} is served by uid {} (pid {}), neither root nor you (uid {}); "
                                  "refusing to talk to it",
                                  path, cred.uid, cred.pid, ::geteuid()));
  }
  fd_ = fd;
  return {};
}

Result<void> ControlClient::send_all(const std::string& data, int timeout_ms) {
  if (fd_ < 0) return make_error(Code::IoSocket, "not connected to procd");
  auto deadline = deadline_in(timeout_ms);
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int w = wait_fd(fd_, POLLOUT, deadline);
      if (w == 0) return make_error(Code::IoSocket, "timed out sending the request to procd");
      if (w < 0) return socket_error("cannot send the request to procd");
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      return make_error(Code::IoSocket, "procd closed the connection before reading the request");
    }
    return socket_error("cannot send the request to procd");
  }
  return {};
}

Result<std::string> ControlClient::read_line(int timeout_ms) {
  if (fd_ < 0) return make_error(Code::IoSocket, "not connected to procd");
  auto deadline = deadline_in(timeout_ms);
  timed_out_ = false;
  std::size_t scanned = 0;  // bytes of buf_ already known to hold no '\n'
  for (;;) {
    auto nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    scanned = buf_.size();
    if (buf_.size() > kMaxReplyBytes) {
      return make_error(Code::ControlReplyRefused, fmt::format("reply line from procd exceeds {} bytes", kMaxReplyBytes));
    }
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      eof_ = true;
      // An empty buffer means the server hung up between lines (the normal
      // end of a stream is decided by the caller); a partial one means the
      // reply was cut off.
      if (buf_.empty()) return make_error(Code::IoSocket, "procd closed the connection without replying");
      return make_error(Code::IoSocket,
                        fmt::format("procd closed the connection in the middle of a reply ({} bytes received)",
                                    buf_.size()));
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int w = wait_fd(fd_, POLLIN, deadline);
      if (w == 0) {
        timed_out_ = true;
        return make_error(Code::IoSocket, fmt::format("no reply from procd within {} ms", timeout_ms));
      }
      if (w < 0) return socket_error("cannot read the reply from procd");
      continue;
    }
    if (errno == ECONNRESET) return make_error(Code::IoSocket, "procd reset the connection");
    return socket_error("cannot read the reply from procd");
  }
}

Result<Reply> ControlClient::call(const Request& req, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  auto sent = send_all(encode_request(req), timeout_ms);
  if (!sent.ok()) {
    // The server may refuse before reading (e.g. peer not permitted): its
    // error reply is already in our receive buffer and says why.
    if (auto early = read_line(200); early.ok())
      if (auto reply = parse_reply(*early); reply.ok()) return reply;
    return sent.error();
  }
  // One budget for the whole exchange: the read gets what the send left.
  int left = timeout_ms < 0 ? -1 : remaining_ms(deadline);
  auto line = read_line(left);
  if (!line.ok()) return line.error();
  return parse_reply(*line);
}

Result<void> ControlClient::open_stream(const Request& req, int timeout_ms) {
  auto sent = send_all(encode_request(req), timeout_ms);
  if (!sent.ok()) return sent.error();
  auto head = read_line(timeout_ms);
  if (!head.ok()) return head.error();
  auto reply = parse_reply(*head);
  if (!reply.ok()) return reply.error();
  if (!reply->ok) return reply->error;  // e.g. 4009 for an unknown service
  auto is_stream = reply->body.find("stream");
  if (is_stream == reply->body.end() || *is_stream != true) {
    return make_error(Code::ProtocolMalformed, "procd answered a stream request with a plain reply");
  }
  return {};
}

Result<nlohmann::json> ControlClient::parse_item(const std::string& line) {
  if (json_nesting_exceeds(line))
    return make_error(Code::ControlReplyRefused, fmt::format("stream item nested deeper than {} levels", kMaxJsonDepth));
  auto item = nlohmann::json::parse(line, nullptr, false);
  if (item.is_discarded() || !item.is_object()) {
    return make_error(Code::ProtocolMalformed, "procd sent a stream item that is not a JSON object");
  }
  // A stream may end in an error object (the server gave up mid-stream).
  if (auto ok = item.find("ok"); ok != item.end() && *ok == false) {
    auto r = parse_reply(line);
    return r.ok() ? r->error : r.error();
  }
  return item;
}

Result<std::optional<nlohmann::json>> ControlClient::next_item(int timeout_ms) {
  for (;;) {
    auto line = read_line(timeout_ms);
    if (!line.ok()) {
      if (timed_out_) return std::optional<nlohmann::json>{};
      if (ended()) return make_error(Code::IoSocket, "procd ended the stream");
      return line.error();
    }
    if (line->empty()) continue;
    auto item = parse_item(*line);
    if (!item.ok()) return item.error();
    return std::optional<nlohmann::json>{std::move(*item)};
  }
}

Result<void> ControlClient::stream(const Request& req, const std::function<bool(const nlohmann::json&)>& on_item,
                                   int timeout_ms) {
  if (auto opened = open_stream(req, timeout_ms < 0 ? 10000 : timeout_ms); !opened.ok()) return opened.error();
  for (;;) {
    // timeout_ms bounds the silence between items (-1: follow forever).
    auto line = read_line(timeout_ms);
    if (!line.ok()) {
      // The server ending the stream between items is its normal end.
      if (eof_ && buf_.empty()) return {};
      return line.error();
    }
    if (line->empty()) continue;
    auto item = parse_item(*line);
    if (!item.ok()) return item.error();
    if (!on_item(*item)) return {};
  }
}

}  // namespace procd
