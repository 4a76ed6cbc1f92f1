// HTTP listener and connections on procd's loop: see http_server.hpp for
// the bounds it keeps; connection lifetimes are StreamConnection's
// (stream_connection.hpp).
#include "procd/http_server.hpp"

#include <fmt/core.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

#include "procd/http_host.hpp"
#include "procd/logging.hpp"

namespace procd {
bool http_sockaddr(const std::string& address, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 >= address.size()) return false;
  std::string host = address.substr(0, colon);
  int port = 0;
  for (char ch : address.substr(colon + 1)) {
    if (ch < '0' || ch > '9' || port > 65535) return false;
    port = port * 10 + (ch - '0');
  }
  if (port > 65535) return false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    return uv_ip6_addr(host.substr(1, host.size() - 2).c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
  if (host == "localhost") host = "127.0.0.1";
  return uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0;
}

HttpConnection::HttpConnection(ConnectionOwner* owner, std::uint64_t id, HttpServer* server)
    : StreamConnection(owner, id, HttpServer::kMaxQueuedBytes, "HTTP"), server_(server) {}

void HttpConnection::on_read(ssize_t nread, const uv_buf_t* buf) { server_->on_read(*this, nread, buf); }

void HttpConnection::reply(int status, std::string_view content_type, std::string_view body, std::string_view extra) {
  send(http_response(status, content_type, body, keep_alive_ && !closing(), head_, extra));
  if (!keep_alive_) close();
}

void HttpConnection::begin_stream(std::string_view content_type, Producer catch_up) {
  if (!head_) server_->make_stream_room(*this);
  std::string head = http_stream_head(content_type);
  if (head_ || !catch_up) {
    send(head);
    if (head_) return close();
    deadline_.cancel();  // a stream lives until the client goes
    inbuf_.clear();
    return;
  }
  inbuf_.clear();
  // Caught up: from then on it lives until the client goes.
  write_pieces(std::move(head), std::move(catch_up), [this] { deadline_.cancel(); });
}

void HttpConnection::reply(int status, std::string_view content_type, std::shared_ptr<const std::string> body) {
  std::string head = http_response_head(status, content_type, body->size(), keep_alive_ && !closing());
  write(std::move(head), head_ ? nullptr : std::move(body));
  if (!keep_alive_) close();
}

void HttpConnection::reply_pieces(int status, std::string_view content_type, std::size_t length, Producer next) {
  std::string head = http_response_head(status, content_type, length, keep_alive_ && !closing());
  if (head_) {
    send(head);
    if (!keep_alive_) close();
    return;
  }
  bool keep = keep_alive_;
  write_pieces(std::move(head), std::move(next), [this, keep] {
    if (keep) server_->pieces_done(*this);
    else close();
  });
}

HttpServer::HttpServer(uv_loop_t* loop, Handler handler)
    : loop_(loop), handler_(std::move(handler)), budget_(std::make_shared<QueueBudget>(QueueBudget{0, queued_total_bound("PROCD_HTTP_MAX_QUEUED_TOTAL", kMaxQueuedTotal)})) {
  resume_.reset(this);
  uv_idle_init(loop_, resume_.get());
}

HttpServer::~HttpServer() { close(); }

Result<void> HttpServer::listen(const std::string& address) {
  auto fail = [&](const std::string& why) {
    listener_.close();
    return make_error(Code::IoHttpListen, fmt::format("[control].http \"{}\": {}", address, why));
  };
  sockaddr_storage sa{};
  if (!http_sockaddr(address, sa)) return fail("not an IP address and port");
  listener_.reset(this);
  uv_tcp_init(loop_, listener_.get());
  int rc = uv_tcp_bind(listener_.get(), reinterpret_cast<const sockaddr*>(&sa), 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_.get()), 128,
                   [](uv_stream_t* s, int status) { owner_of<HttpServer>(s)->on_connection(status); });
  if (rc != 0) return fail(uv_strerror(rc));
  address_ = address;
  return {};
}

int HttpServer::port() const {
  if (!listener_) return 0;
  sockaddr_storage sa{};
  int len = sizeof sa;
  if (uv_tcp_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) return 0;
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
}

void HttpServer::close() {
  listener_.close();
  if (resume_) uv_idle_stop(resume_.get());
  conns_.close_all();
}

void HttpServer::retire() {
  listener_.close();
  if (resume_) uv_idle_stop(resume_.get());
  retired_ = true;
  conns_.for_each([this](HttpConnection& c) {
    if (&c == handling_) c.keep_alive_ = false;  // its reply closes it
    else c.close();
  });
}

std::size_t HttpServer::connection_count() const { return conns_.open_count(); }

void HttpServer::on_connection(int status) {
  if (status < 0) {
    Log::write(LogLevel::Warn, fmt::format("HTTP accept failed: {}", uv_strerror(status)), code_fields(Code::IoSocket));
    return;
  }
  HttpConnection& c = conns_.add(this);
  c.share_budget(budget_);
  uv_tcp_init(loop_, c.tcp());
  c.handle_ready();
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_.get()), c.stream_handle()) != 0) {
    c.close_now();
    return;
  }
  uv_tcp_nodelay(c.tcp(), 1);
  // The kernel keeps at most a piece of not-yet-sent bytes: what it holds
  // is what the peer's window lets through, so procd sees a write each
  // time the peer takes bytes. Without it the send buffer grows to ~4 MB
  // and wakes a writer only when a third is free: a client reading
  // 50 KB/s looked stalled for 16 s and was cut by the progress deadline.
  uv_os_fd_t fd = -1;
  int lowat = static_cast<int>(StreamConnection::kPieceBytes);
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(c.tcp()), &fd) == 0)
    ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
  // c itself is counted: the cap is on connections besides this one. At
  // the cap, the oldest connection with no request under way makes room
  // (an idle keep-alive client costs nothing to reconnect); only when all
  // are mid-request or streaming is the newcomer refused.
  if (connection_count() > kMaxConnections) {
    bool made_room = false;
    conns_.for_each([&](HttpConnection& other) {
      if (!made_room && &other != &c && !other.closing() && other.stream == HttpConnection::Stream::None &&
          other.inbuf_.empty() && !other.parser_.busy() && other.unwritten() == 0 && !other.writing_pieces()) {
        other.close_now();
        made_room = true;
      }
    });
  }
  if (connection_count() > kMaxConnections && connection_count() <= kMaxConnections + kProbeSlots) {
    c.probe_only_ = true;  // a liveness or readiness probe always has a slot
  } else if (connection_count() > kMaxConnections) {
    if (!full_told_)
      Log::write(LogLevel::Warn, fmt::format("HTTP clients refused: {} connections open", kMaxConnections),
                 code_fields(Code::ResourceHttpConnections));
    full_told_ = true;
    return refuse(c, 503, fmt::format("error[{}]: too many HTTP connections (at most {})\n",
                                      static_cast<int>(Code::ResourceHttpConnections), kMaxConnections));
  }
  if (!c.probe_only_) full_told_ = false;
  c.arm_deadline(kHeaderTimeoutMs);
  c.start_reading();
}

void HttpServer::on_read(HttpConnection& c, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {  // EOF or error: the client is gone (a stream ends here)
    c.close_now();
    return;
  }
  if (c.closing() || c.stream != HttpConnection::Stream::None) return;  // input on a stream is ignored
  c.inbuf_.append(buf->base, static_cast<size_t>(nread));
  process(c);
}

void HttpServer::process(HttpConnection& c) {
  int handled = 0;
  while (!c.inbuf_.empty() && !c.closing() && c.stream == HttpConnection::Stream::None && !c.writing_pieces()) {
    if (handled == kMaxRequestsPerTurn) {
      if (!c.paused_) c.stop_reading();
      c.paused_ = true;
      uv_idle_start(resume_.get(), [](uv_idle_t* h) { owner_of<HttpServer>(h)->resume_paused(); });
      return;
    }
    auto fed = c.parser_.feed(c.inbuf_);
    c.inbuf_.erase(0, fed.consumed);
    if (fed.state == HttpRequestParser::State::Bad) return refuse(c, 400, fmt::format("bad request: {}\n", fed.reason));
    if (fed.state == HttpRequestParser::State::TooLarge)
      return refuse(c, c.parser_.in_headers() ? 431 : 413, fmt::format("bad request: {}\n", fed.reason));
    if (fed.state == HttpRequestParser::State::NeedMore) break;
    ++handled;
    HttpRequest req = c.parser_.take();
    c.keep_alive_ = req.keep_alive && !c.probe_only_;
    c.head_ = req.head();
    // Every route, probes included: a rebound name must not reach even /healthz.
    if (HostVerdict host = check_http_host(req.host, req.host_headers, req.http11, address_, allowed_hosts_); !host.allowed())
      return refuse(c, host.status, host.reason);
    if (c.probe_only_ && req.path != "/healthz" && req.path != "/readyz")
      return refuse(c, 503, fmt::format("error[{}]: too many HTTP connections (at most {}; the rest answer /healthz and /readyz only)\n",
                                        static_cast<int>(Code::ResourceHttpConnections), kMaxConnections));
    handling_ = &c;
    handler_(c, req);
    handling_ = nullptr;
    // The handler may have closed c or this server: c's memory is still
    // valid (freed in its close callback) but nothing more is done with it.
    if (c.closing()) return;
    if (retired_) return c.close();
    if (c.stream == HttpConnection::Stream::None) c.rearm_deadline(kHeaderTimeoutMs);
  }
  if (c.writing_pieces() && !c.closing()) {  // what comes behind a reply in pieces waits (pieces_done)
    if (!c.paused_) c.stop_reading();
    c.paused_ = true;
    return;
  }
  if (c.paused_ && !c.closing()) {
    c.paused_ = false;
    c.start_reading();
  }
}

// A reply in pieces (keep-alive) has queued its last: the requests
// pipelined behind it are read next turn.
void HttpServer::pieces_done(HttpConnection& c) {
  c.rearm_deadline(kHeaderTimeoutMs);
  if (c.paused_) uv_idle_start(resume_.get(), [](uv_idle_t* h) { owner_of<HttpServer>(h)->resume_paused(); });
}

void HttpServer::resume_paused() {
  uv_idle_stop(resume_.get());  // process() re-starts it for a peer still paused
  conns_.for_each([this](HttpConnection& c) {
    if (c.paused_ && !c.closing() && !c.writing_pieces()) process(c);
  });
}

void HttpServer::refuse(HttpConnection& c, int status, const std::string& why) {
  Log::write(LogLevel::Debug, fmt::format("HTTP client {}: {} {}", c.id(), status, why), code_fields(Code::HttpBadRequest));
  c.keep_alive_ = false;
  c.head_ = false;
  c.reply(status, "text/plain; charset=utf-8", why);
}

// A new stream beside kMaxStreams others closes the oldest (after what it
// was sent): idle followers cannot take every slot.
void HttpServer::make_stream_room(HttpConnection& c) {
  std::size_t streams = 0;
  HttpConnection* oldest = nullptr;
  conns_.for_each([&](HttpConnection& other) {
    if (&other == &c || other.closing() || other.stream == HttpConnection::Stream::None) return;
    if (!oldest) oldest = &other;
    ++streams;
  });
  if (streams < kMaxStreams || !oldest) return;
  Log::write(LogLevel::Info, fmt::format("HTTP client {}: stream closed, {} streams open (the oldest makes room)", oldest->id(), kMaxStreams),
             code_fields(Code::ResourceHttpConnections));
  oldest->close();
}

}  // namespace procd
