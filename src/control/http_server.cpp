// HTTP listener and connections on procd's loop: see http_server.hpp for
// the bounds it keeps. A connection lives in conns_ until its socket's close
// callback has run; only that callback erases it, so no read, write,
// shutdown or timer callback sees a dangling pointer and no loop over
// conns_ sees it change.
#include "procd/http_server.hpp"

#include <fmt/core.h>

#include <cstring>

#include "procd/logging.hpp"

namespace procd {
namespace {

char g_read_buf[16 * 1024];

void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buf, sizeof g_read_buf); }

// One write: its bytes, and a shared body written after them without a copy.
struct WriteReq {
  uv_write_t req;
  std::string data;
  std::shared_ptr<const std::string> body;
};

}  // namespace

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

void HttpConnection::reply(int status, std::string_view content_type, std::string_view body, std::string_view extra) {
  send(http_response(status, content_type, body, keep_alive_ && !closing_, head_, extra));
  if (!keep_alive_) close();
}

void HttpConnection::begin_stream(std::string_view content_type) {
  send(http_stream_head(content_type));
  if (head_) return close();
  deadline_.cancel();  // a stream lives until the client goes
  inbuf_.clear();
}

void HttpConnection::reply(int status, std::string_view content_type, std::shared_ptr<const std::string> body) {
  std::string head = http_response_head(status, content_type, body->size(), keep_alive_ && !closing_);
  write(std::move(head), head_ ? nullptr : std::move(body));
  if (!keep_alive_) close();
}

void HttpConnection::send(std::string_view bytes) { write(std::string(bytes), nullptr); }

void HttpConnection::write(std::string bytes, std::shared_ptr<const std::string> body) {
  if (closing_ || !tcp_initialized_) return;
  if (uv_stream_get_write_queue_size(handle()) > HttpServer::kMaxQueuedBytes) {
    Log::write(LogLevel::Warn,
               fmt::format("HTTP client {} is not reading ({} bytes unsent); dropping it", id_, HttpServer::kMaxQueuedBytes),
               code_fields(Code::IoSocket));
    close_socket();
    return;
  }
  auto* w = new WriteReq{{}, std::move(bytes), std::move(body)};
  uv_buf_t bufs[2] = {uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size())), {}};
  unsigned n = 1;
  if (w->body) bufs[n++] = uv_buf_init(const_cast<char*>(w->body->data()), static_cast<unsigned>(w->body->size()));
  int rc = uv_write(&w->req, handle(), bufs, n, [](uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); });
  if (rc != 0) {
    delete w;
    close_socket();
  }
}

void HttpConnection::close() {
  if (closing_ || !tcp_initialized_) return;
  closing_ = true;
  stream = Stream::None;
  deadline_.close();
  auto* req = new uv_shutdown_t;
  req->data = this;
  int rc = uv_shutdown(req, handle(), [](uv_shutdown_t* r, int status) {
    auto* c = static_cast<HttpConnection*>(r->data);
    delete r;
    if (status != UV_ECANCELED) c->close_socket();
  });
  if (rc != 0) {
    delete req;
    close_socket();
  }
}

void HttpConnection::close_socket() {
  closing_ = true;
  stream = Stream::None;
  deadline_.close();
  if (!tcp_initialized_ || tcp_closing_) return;
  tcp_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &HttpConnection::on_closed);
}

void HttpConnection::on_closed(uv_handle_t* h) {
  auto* c = static_cast<HttpConnection*>(h->data);
  if (c->server_) c->server_->forget(c);
  else delete c;
}

HttpServer::HttpServer(uv_loop_t* loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {
  resume_.reset(this);
  uv_idle_init(loop_, resume_.get());
}

HttpServer::~HttpServer() {
  close();
  for (auto& c : conns_) {
    c->server_ = nullptr;
    c.release();
  }
}

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
  for (auto& c : conns_) c->close_socket();
}

void HttpServer::retire() {
  listener_.close();
  if (resume_) uv_idle_stop(resume_.get());
  retired_ = true;
  for (auto& c : conns_) {
    if (c.get() == handling_) c->keep_alive_ = false;  // its reply closes it
    else c->close();
  }
  retire_deadline_.init(loop_, [this] {
    for (auto& c : conns_) c->close_socket();
  });
  retire_deadline_.schedule(kHeaderTimeoutMs);
}

std::size_t HttpServer::connection_count() const {
  std::size_t n = 0;
  for (auto& c : conns_)
    if (!c->closing_) ++n;
  return n;
}

void HttpServer::on_connection(int status) {
  if (status < 0) {
    Log::write(LogLevel::Warn, fmt::format("HTTP accept failed: {}", uv_strerror(status)), code_fields(Code::IoSocket));
    return;
  }
  conns_.push_back(std::make_unique<HttpConnection>(this, next_id_++));
  HttpConnection& c = *conns_.back();
  uv_tcp_init(loop_, &c.tcp_);
  c.tcp_.data = &c;
  c.tcp_initialized_ = true;
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_.get()), c.handle()) != 0) {
    c.close_socket();
    return;
  }
  uv_tcp_nodelay(&c.tcp_, 1);
  // c itself is counted: the cap is on connections besides this one. At
  // the cap, the oldest connection with no request under way makes room
  // (an idle keep-alive client costs nothing to reconnect); only when all
  // are mid-request or streaming is the newcomer refused.
  if (connection_count() > kMaxConnections) {
    for (auto& other : conns_)
      if (other.get() != &c && !other->closing_ && other->stream == HttpConnection::Stream::None &&
          other->inbuf_.empty() && !other->parser_.busy() && uv_stream_get_write_queue_size(other->handle()) == 0) {
        other->close_socket();
        break;
      }
  }
  if (connection_count() > kMaxConnections) {
    if (!full_told_)
      Log::write(LogLevel::Warn, fmt::format("HTTP clients refused: {} connections open", kMaxConnections),
                 code_fields(Code::ResourceHttpConnections));
    full_told_ = true;
    return refuse(c, 503, fmt::format("error[{}]: too many HTTP connections (at most {})\n",
                                      static_cast<int>(Code::ResourceHttpConnections), kMaxConnections));
  }
  full_told_ = false;
  c.deadline_.init(loop_, [&c] { c.close_socket(); });
  c.deadline_.schedule(kHeaderTimeoutMs);
  start_reading(c);
}

void HttpServer::start_reading(HttpConnection& c) {
  uv_read_start(c.handle(), alloc_cb, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* conn = static_cast<HttpConnection*>(s->data);
    if (conn->server_) conn->server_->on_read(*conn, n, b);
  });
}

void HttpServer::on_read(HttpConnection& c, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {  // EOF or error: the client is gone (a stream ends here)
    c.close_socket();
    return;
  }
  if (c.closing_ || c.stream != HttpConnection::Stream::None) return;  // input on a stream is ignored
  c.inbuf_.append(buf->base, static_cast<size_t>(nread));
  process(c);
}

void HttpServer::process(HttpConnection& c) {
  int handled = 0;
  while (!c.inbuf_.empty() && !c.closing_ && c.stream == HttpConnection::Stream::None) {
    if (handled == kMaxRequestsPerTurn) {
      if (!c.paused_) uv_read_stop(c.handle());
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
    c.keep_alive_ = req.keep_alive;
    c.head_ = req.head();
    handling_ = &c;
    handler_(c, req);
    handling_ = nullptr;
    // The handler may have closed c or this server: c's memory is still
    // valid (freed in its close callback) but nothing more is done with it.
    if (c.closing_) return;
    if (retired_) return c.close();
    if (c.stream == HttpConnection::Stream::None) c.deadline_.schedule(kHeaderTimeoutMs);
  }
  if (c.paused_ && !c.closing_) {
    c.paused_ = false;
    start_reading(c);
  }
}

void HttpServer::resume_paused() {
  uv_idle_stop(resume_.get());  // process() re-starts it for a peer still paused
  for (auto& c : conns_)
    if (c->paused_ && !c->closing_) process(*c);
}

void HttpServer::refuse(HttpConnection& c, int status, const std::string& why) {
  Log::write(LogLevel::Debug, fmt::format("HTTP client {}: {} {}", c.id_, status, why), code_fields(Code::HttpBadRequest));
  c.keep_alive_ = false;
  c.head_ = false;
  c.reply(status, "text/plain; charset=utf-8", why);
}

void HttpServer::forget(HttpConnection* c) {
  conns_.remove_if([c](const std::unique_ptr<HttpConnection>& p) { return p.get() == c; });
}

}  // namespace procd
