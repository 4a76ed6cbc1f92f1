// Tcp and http health checks, on the loop (HealthChecker::Impl, see
// health_checker.hpp): resolve the target (an address literal directly, a
// name through uv_getaddrinfo), try each address in turn, and for http send
// one GET and read the whole response through HttpReplyReader in Status
// mode (procd/http_reply_reader.hpp: 2xx/3xx = healthy; at most 64 KiB,
// headers and body, else the check fails). uv memory belongs to libuv until its
// callback: the tcp handle is a UvHandle (freed in its close callback,
// `data` nulled at close so late connect/write/read callbacks see no
// owner); connect, write and getaddrinfo requests are heap objects deleted
// by their own callbacks; a pending resolve is detached (owner = nullptr)
// when cancelled.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "health_checker.hpp"

namespace procd {
namespace {

using health_detail::Resolve;

struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

std::string HealthChecker::Impl::where() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

void HealthChecker::Impl::resolve() {
  if (!target_error.empty()) return finish(gen, false, target_error);
  addrs.clear();
  next_addr = 0;
  connect_error.clear();
  sockaddr_storage ss{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss)) == 0 ||
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
    addrs.push_back(ss);
    return connect_next();
  }
  auto* r = new Resolve{{}, this};
  r->req.data = r;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop, &r->req, &Impl::on_resolved, host.c_str(), std::to_string(port).c_str(), &hints);
  if (rc != 0) {
    delete r;
    return finish(gen, false, fmt::format("resolve {}: {}", host, uv_strerror(rc)));
  }
  resolving = r;
}

void HealthChecker::Impl::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  std::unique_ptr<Resolve> r(static_cast<Resolve*>(req->data));
  Impl* self = r->owner;
  if (self) {
    self->resolving = nullptr;
    for (addrinfo* a = res; status == 0 && a; a = a->ai_next) {
      sockaddr_storage ss{};
      std::memcpy(&ss, a->ai_addr, std::min<size_t>(a->ai_addrlen, sizeof ss));
      self->addrs.push_back(ss);
    }
  }
  uv_freeaddrinfo(res);
  if (!self) return;
  if (status != 0 || self->addrs.empty())
    return self->finish(self->gen, false, fmt::format("resolve {}: {}", self->host, uv_strerror(status)));
  self->connect_next();
}

// Try each resolved address in turn ("localhost" may be ::1 first while the service listens on 127.0.0.1).
void HealthChecker::Impl::connect_next() {
  while (next_addr < addrs.size()) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&addrs[next_addr++]);
    uv_tcp_t* h = tcp.reset(this);
    int rc = uv_tcp_init(loop, h);
    if (rc == 0) {
      auto* req = new uv_connect_t{};
      rc = uv_tcp_connect(req, h, addr, &Impl::on_connected);
      if (rc == 0) return;
      delete req;
    }
    tcp.close();
    connect_error = fmt::format("connect {}: {}", where(), uv_strerror(rc));
  }
  finish(gen, false, connect_error.empty() ? fmt::format("connect {}: no address", where()) : connect_error);
}

void HealthChecker::Impl::on_connected(uv_connect_t* req, int status) {
  std::unique_ptr<uv_connect_t> hold(req);
  auto* self = owner_of<Impl>(req->handle);
  if (!self) return;  // cancelled: the handle is closing
  if (status < 0) {
    self->connect_error = fmt::format("connect {}: {}", self->where(), uv_strerror(status));
    self->tcp.close();
    return self->connect_next();
  }
  if (self->cfg.kind == HealthKind::Tcp) return self->finish(self->gen, true, fmt::format("connected to {}", self->where()));
  self->send_request();
}

void HealthChecker::Impl::send_request() {
  auto* w = new WriteReq{};
  w->req.data = w;
  w->data = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: procd-health\r\n\r\n", path,
                        port == 80 ? (host.find(':') != std::string::npos ? "[" + host + "]" : host) : where());
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp.get());
  int rc = uv_write(&w->req, stream, &buf, 1, [](uv_write_t* req, int status) {
    std::unique_ptr<WriteReq> hold(static_cast<WriteReq*>(req->data));
    auto* self = owner_of<Impl>(req->handle);
    if (self && status < 0) self->finish(self->gen, false, fmt::format("send to {}: {}", self->where(), uv_strerror(status)));
  });
  if (rc != 0) {
    delete w;
    return finish(gen, false, fmt::format("send to {}: {}", where(), uv_strerror(rc)));
  }
  response.emplace(HttpReplyReader::Mode::Status);
  rc = uv_read_start(
      stream,
      [](uv_handle_t* h, size_t, uv_buf_t* b) {
        auto* self = owner_of<Impl>(h);
        *b = self ? uv_buf_init(self->readbuf, sizeof self->readbuf) : uv_buf_init(nullptr, 0);
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
        if (auto* self = owner_of<Impl>(s)) self->on_read(n, b->base);
      });
  if (rc != 0) finish(gen, false, fmt::format("read from {}: {}", where(), uv_strerror(rc)));
}

void HealthChecker::Impl::on_read(ssize_t n, const char* data) {
  if (n == 0) return;
  if (n < 0 && n != UV_EOF) return finish(gen, false, fmt::format("read from {}: {}", where(), uv_strerror(static_cast<int>(n))));
  const auto got = n == UV_EOF ? response->finish() : response->feed({data, static_cast<size_t>(n)});
  if (got == HttpReplyReader::State::NeedMore) return;
  if (got == HttpReplyReader::State::Malformed) return finish(gen, false, fmt::format("{}: {}", where(), response->reason()));
  const unsigned code = response->status();
  finish(gen, code >= 200 && code < 400, fmt::format("HTTP {}", code));
}

}  // namespace procd
