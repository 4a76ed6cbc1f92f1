// The HTTP listener of [control].http on procd's loop: the uv edge of the
// endpoint. Owns the listening TCP socket (IPv4 or IPv6) and every client
// connection; what a request gets is the Handler's business
// (Supervisor::handle_http), the pure parsing, routing and response text
// are in http_request.hpp.
//
// Bounds (SPEC Part 2): at most kMaxConnections open connections, and
// kProbeSlots more that answer only /healthz and /readyz (anything else
// there gets a 503; the next one beyond gets a 503 and is closed); at most
// kMaxStreams of them streaming (/events, followed /logs: a new stream
// closes the oldest one); one Timer per connection gives a client
// kHeaderTimeoutMs to send a request's headers, and closes a keep-alive
// connection idle that long; request headers are at most 8 KiB; at most
// kMaxRequestsPerTurn pipelined requests of one peer are answered per loop
// turn (the rest resumes next turn, after every other peer and timer); a
// client whose unread responses or stream pass kMaxQueuedBytes is dropped,
// and when the bytes queued for all clients together pass kMaxQueuedTotal,
// the client with the most queued is dropped. Before any route, a request's
// Host must pass check_http_host (http_host.hpp: 421 or 400 otherwise); a
// reply in pieces (reply_pieces) is at most kPiecesQueued pieces ahead of
// its client.
//
// Lifetimes, as in the control server: a connection's memory is freed only
// in its socket's close callback, so a handler may close its connection
// (or the whole server) and the reference stays valid until it returns.
// A server must not be destroyed from inside its handler: retire it
// (retire() or close()) and destroy it later.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "procd/error.hpp"
#include "procd/http_request.hpp"
#include "procd/stream_connection.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class HttpServer;

class HttpConnection final : public StreamConnection {
 public:
  HttpConnection(ConnectionOwner* owner, std::uint64_t id, HttpServer* server);

  // The answer to the request being handled (Content-Length framing;
  // nothing after the headers for HEAD). Closes unless keep-alive.
  void reply(int status, std::string_view content_type, std::string_view body, std::string_view extra_headers = {});
  // The same for a large body its producer keeps and reuses (the metrics
  // text): written without a copy, shared until the write is done.
  void reply(int status, std::string_view content_type, std::shared_ptr<const std::string> body);
  // The same for a body of `length` bytes handed over in pieces as the
  // client takes them (write_pieces): a /logs reply is never whole in one
  // string. Requests pipelined behind it wait until its last piece is queued.
  void reply_pieces(int status, std::string_view content_type, std::size_t length, Producer next);
  // Start a stream (SSE, followed logs): the body runs until either side
  // closes. A HEAD request gets the head only and the connection closes.
  // `catch_up` (a followed /logs: the recent lines, a live LogWindow) is
  // handed over first in pieces as the client reads, under the reply
  // deadline; the stream's own items go to the connection only once it
  // has caught up (caught_up()), so none is lost, repeated or reordered.
  void begin_stream(std::string_view content_type, Producer catch_up = nullptr);
  bool caught_up() const { return !writing_pieces(); }

 private:
  friend class HttpServer;
  void on_read(ssize_t nread, const uv_buf_t* buf) override;

  HttpServer* server_;       // used only while attached()
  bool keep_alive_ = false;  // of the request being handled
  bool head_ = false;
  bool probe_only_ = false;  // in a probe slot: /healthz and /readyz only
  HttpRequestParser parser_;
};

class HttpServer {
 public:
  using Handler = std::function<void(HttpConnection&, const HttpRequest&)>;

  static constexpr std::size_t kMaxConnections = 256;
  static constexpr std::size_t kProbeSlots = 8;
  static constexpr std::size_t kMaxStreams = 64;
  static constexpr std::int64_t kHeaderTimeoutMs = 10000;
  static constexpr int kMaxRequestsPerTurn = 16;
  static constexpr std::size_t kMaxQueuedBytes = 4u << 20;
  // Bytes queued for all connections together; PROCD_HTTP_MAX_QUEUED_TOTAL
  // (bytes, for tests) overrides it.
  static constexpr std::size_t kMaxQueuedTotal = 64u << 20;

  HttpServer(uv_loop_t* loop, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "127.0.0.1:9100", "0.0.0.0:9100", "[::1]:9100". Errors carry HttpListen
  // (address in use, not an address of this host, ...).
  Result<void> listen(const std::string& address);
  void close();  // stop listening and close every connection
  // Stop listening; every connection ends once what it has queued is
  // written: the request being handled gets its reply (Connection: close),
  // a stream what it was sent. What is unwritten after kLingerMs (a client
  // that does not read) is cut, as after every close(). A rebind from inside a handler
  // (POST /reload) answers its client this way.
  void retire();
  const std::string& address() const { return address_; }
  // [control].http_allowed_hosts: Host names answered besides loopback and
  // the listener's address (http_host.hpp); others get 421.
  void set_allowed_hosts(std::vector<std::string> hosts) { allowed_hosts_ = std::move(hosts); }
  int port() const;  // the bound port (useful with port 0)
  std::size_t connection_count() const;

  template <typename F>
  void for_each_stream(HttpConnection::Stream kind, F&& f) {
    conns_.for_each_stream(kind, std::forward<F>(f));
  }
  bool has_streams(HttpConnection::Stream kind) const { return conns_.has_streams(kind); }

 private:
  friend class HttpConnection;
  void on_connection(int status);
  void on_read(HttpConnection& c, ssize_t nread, const uv_buf_t* buf);
  void process(HttpConnection& c);
  void resume_paused();
  void refuse(HttpConnection& c, int status, const std::string& why);
  void make_stream_room(HttpConnection& c);
  void pieces_done(HttpConnection& c);

  uv_loop_t* loop_;
  Handler handler_;
  std::string address_;
  std::vector<std::string> allowed_hosts_;
  UvHandle<uv_tcp_t> listener_;
  UvHandle<uv_idle_t> resume_;
  std::shared_ptr<QueueBudget> budget_;
  bool full_told_ = false;
  HttpConnection* handling_ = nullptr;  // whose request the handler is answering
  bool retired_ = false;
  ConnectionSet<HttpConnection> conns_;  // last member: its connections go before the rest
};

// "host:port" / "[v6]:port" to a socket address; false when it is not one.
bool http_sockaddr(const std::string& address, sockaddr_storage& out);

}  // namespace procd
