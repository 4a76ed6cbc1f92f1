// `procd probe URL [--timeout MS]`: one GET for container health checks
// (the image has no curl): exit 0 on a 2xx answer, 1 otherwise with the
// reason and code 6013 on stderr. The URL is parsed like an http health
// check's target, the response read by the same HttpResponseParser; one
// deadline bounds resolving, connecting, sending and reading together.
#include <fmt/core.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "procd/health_target.hpp"
#include "procd/http_response.hpp"

namespace procd {
namespace {

using Clock = std::chrono::steady_clock;

int fail(const std::string& why) {
  fmt::print(stderr, "{}\n", make_error(Code::ProbeFailed, why).format());
  return 1;
}

int left_ms(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms > 0 ? static_cast<int>(ms) : 0;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  int rc;
  do rc = ::poll(&p, 1, left_ms(deadline));
  while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

int cmd_probe(const std::string& url, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto target = parse_http_url(url);
  if (!target.ok()) return fail(fmt::format("{}: {}", url, target.error().message));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(target->host.c_str(), std::to_string(target->port).c_str(), &hints, &res); rc != 0)
    return fail(fmt::format("{}: {}", target->host, gai_strerror(rc)));
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      err = wait_fd(fd, POLLOUT, deadline) ? 0 : ETIMEDOUT;
      socklen_t len = sizeof err;
      if (err == 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err != 0) {
      why = fmt::format("connect: {}", std::strerror(err));
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return fail(fmt::format("{}: {}", url, why));
  std::string host = target->host.find(':') != std::string::npos ? "[" + target->host + "]" : target->host;
  std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: procd-probe\r\nConnection: close\r\n\r\n",
                                target->path, host, target->port);
  for (std::size_t sent = 0; sent < req.size();) {
    if (!wait_fd(fd, POLLOUT, deadline)) return ::close(fd), fail(fmt::format("{}: timed out sending", url));
    ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return ::close(fd), fail(fmt::format("{}: send: {}", url, std::strerror(errno)));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  HttpResponseParser parser;
  char buf[4096];
  while (parser.outcome().state == HttpResponseParser::State::NeedMore) {
    if (!wait_fd(fd, POLLIN, deadline)) return ::close(fd), fail(fmt::format("{}: no answer within {} ms", url, timeout_ms));
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return ::close(fd), fail(fmt::format("{}: recv: {}", url, std::strerror(errno)));
    if (n == 0) parser.finish();
    else parser.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  ::close(fd);
  const auto& out = parser.outcome();
  if (out.state == HttpResponseParser::State::Malformed) return fail(fmt::format("{}: {}", url, out.reason));
  if (out.status / 100 != 2) return fail(fmt::format("{}: HTTP status {}", url, out.status));
  return 0;
}

}  // namespace procd
