// The HTTP client of `procd top --http`: see http_client.hpp. Connecting
// tries each address getaddrinfo gives until one answers within the
// deadline; the request goes out whole before the reply is read; reads
// wait in poll() on one deadline for the whole reply.
#include "http_client.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "procd/file_io.hpp"
#include "procd/protocol.hpp"
#include "procd/token_file.hpp"

namespace procd::cli {
namespace {

using Clock = std::chrono::steady_clock;

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

Error unreachable(const HttpEndpoint& ep, const std::string& why) {
  return make_error(Code::HttpUnreachable, fmt::format("{}: {}", ep.url, why));
}

Result<int> connect_to(const HttpEndpoint& ep, Clock::time_point deadline, int connect_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(ep.target.host.c_str(), std::to_string(ep.target.port).c_str(), &hints, &res); rc != 0)
    return unreachable(ep, fmt::format("{}: {}", ep.target.host, gai_strerror(rc)));
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      err = wait_fd(fd, POLLOUT, deadline) ? 0 : ETIMEDOUT;
      socklen_t len = sizeof err;
      if (err == 0) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err != 0) {
      why = err == ETIMEDOUT ? fmt::format("no connection within {} ms", connect_ms) : fmt::format("connect: {}", std::strerror(err));
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return unreachable(ep, why);
  return fd;
}

// Connects and sends the request; the connected fd.
Result<int> send_request(const HttpEndpoint& ep, const std::string& method, const std::string& path, Clock::time_point deadline,
                         int connect_ms = kHttpConnectMs) {
  auto connect_by = std::min(deadline, Clock::now() + std::chrono::milliseconds(connect_ms));
  auto fd = connect_to(ep, connect_by, connect_ms);
  if (!fd.ok()) return fd.error();
  const std::string host = ep.target.host.find(':') != std::string::npos ? "[" + ep.target.host + "]" : ep.target.host;
  std::string prefix = ep.target.path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::string req = fmt::format("{} {}{} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: procd\r\nConnection: close\r\n", method, prefix,
                                path, host, ep.target.port);
  if (method == "POST") req += fmt::format("{}Content-Length: 0\r\n", ep.token.empty() ? "" : "Authorization: Bearer " + ep.token + "\r\n");
  req += "\r\n";
  for (std::size_t sent = 0; sent < req.size();) {
    if (!wait_fd(*fd, POLLOUT, deadline)) return ::close(*fd), unreachable(ep, "timed out sending the request");
    ssize_t n = ::send(*fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return ::close(*fd), unreachable(ep, fmt::format("send: {}", std::strerror(errno)));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  return *fd;
}

// Reads what is there (blocking up to deadline when `wait_ms` > 0) into reader.
Result<void> read_into(int fd, HttpReplyReader& reader, Clock::time_point deadline, int wait_ms, const std::string& url, bool& closed) {
  if (wait_ms > 0 && !wait_fd(fd, POLLIN, deadline))
    return make_error(Code::HttpUnreachable, fmt::format("{}: no answer within {} ms", url, wait_ms));
  char buf[16384];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return {};
  if (n < 0) return make_error(Code::HttpUnreachable, fmt::format("{}: recv: {}", url, std::strerror(errno)));
  if (n == 0) {
    closed = true;
    reader.finish();
  } else {
    reader.feed(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  if (reader.state() == HttpReplyReader::State::Malformed)
    return make_error(Code::HttpReplyMalformed, fmt::format("{}: {}", url, reader.reason()));
  return {};
}

}  // namespace

Result<HttpEndpoint> http_endpoint(const std::string& url, const std::string& token_file) {
  auto target = parse_http_url(url);
  if (!target.ok()) return make_error(Code::RuntimeUsage, fmt::format("--http {}: {}", url, target.error().message));
  HttpEndpoint ep{url, *target, {}};
  if (!token_file.empty()) {
    auto data = read_bounded(token_file, ReadPolicy{4096, false, true});
    if (!data.ok()) return make_error(Code::ConfigTokenFile, fmt::format("--token-file {}: {}", token_file, data.error().message));
    ep.token = trim_token(*data);
    if (ep.token.empty()) return make_error(Code::ConfigTokenFile, fmt::format("--token-file {}: is empty", token_file));
  }
  return ep;
}

Result<HttpReply> http_call(const HttpEndpoint& ep, const std::string& method, const std::string& path, int timeout_ms,
                            int connect_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fd = send_request(ep, method, path, deadline, connect_ms);
  if (!fd.ok()) return fd.error();
  HttpReplyReader reader(HttpReplyReader::Mode::Whole);
  bool closed = false;
  while (reader.state() == HttpReplyReader::State::NeedMore) {
    if (auto r = read_into(*fd, reader, deadline, timeout_ms, ep.url, closed); !r.ok()) return ::close(*fd), r.error();
  }
  ::close(*fd);
  return HttpReply{reader.status(), std::move(reader.body())};
}

Error http_status_error(const HttpEndpoint& ep, const HttpReply& reply) {
  std::string said;
  if (!json_nesting_exceeds(reply.body)) {
    auto j = nlohmann::json::parse(reply.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      const auto& e = j["error"];
      said = fmt::format("{} (procd's error {})", e.value("message", std::string("?")), e.value("code", 0));
    }
  }
  if (said.empty()) said = reply.body.substr(0, std::min<std::size_t>(reply.body.find('\n'), 200));
  std::string hint;
  if (reply.status == 401 || reply.status == 403)
    hint = ep.token.empty() ? "; the token was refused: none given (--token-file F)" : "; the token was refused: check --token-file";
  return make_error(Code::HttpStatus, fmt::format("{}: HTTP {}: {}{}", ep.url, reply.status, said, hint));
}

HttpLineStream::~HttpLineStream() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> HttpLineStream::open(const HttpEndpoint& ep, const std::string& path, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fd = send_request(ep, "GET", path, deadline);
  if (!fd.ok()) return fd.error();
  fd_ = *fd;
  url_ = ep.url;
  reader_ = std::make_unique<HttpReplyReader>(HttpReplyReader::Mode::Lines);
  bool closed = false;
  while (!reader_->head_done() || (reader_->status() != 200 && reader_->state() == HttpReplyReader::State::NeedMore)) {
    if (reader_->state() != HttpReplyReader::State::NeedMore) break;
    if (auto r = read_into(fd_, *reader_, deadline, timeout_ms, url_, closed); !r.ok()) return r.error();
  }
  if (reader_->status() != 200) {
    HttpReply reply{reader_->status(), {}};
    for (const auto& l : reader_->lines()) reply.body += l + "\n";
    return http_status_error(ep, reply);
  }
  return {};
}

Result<std::optional<std::string>> HttpLineStream::next_line() {
  if (!reader_) return make_error(Code::HttpUnreachable, "no stream");
  if (reader_->lines().empty() && reader_->state() == HttpReplyReader::State::NeedMore) {
    bool closed = false;
    if (auto r = read_into(fd_, *reader_, Clock::now(), 0, url_, closed); !r.ok()) return r.error();
  }
  if (!reader_->lines().empty()) {
    std::string line = std::move(reader_->lines().front());
    reader_->lines().pop_front();
    return std::optional<std::string>(std::move(line));
  }
  if (reader_->state() != HttpReplyReader::State::NeedMore)
    return make_error(Code::HttpUnreachable, fmt::format("{}: the stream ended", url_));
  return std::optional<std::string>();
}

}  // namespace procd::cli
