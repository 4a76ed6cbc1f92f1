// Control socket server: see control_server.hpp for what it guarantees.
// Connection memory: a ControlConnection (its uv_pipe_t is a member) lives in
// conns_ until its pipe's close callback has run; only that callback erases
// it, so no read, write, shutdown or timer callback sees a dangling pointer,
// and no loop over conns_ sees it change.
#include "procd/control_server.hpp"

#include <fmt/core.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "procd/logging.hpp"

namespace procd {
namespace {

char g_read_buf[16 * 1024];

void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buf, sizeof g_read_buf); }

struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

void ControlConnection::send(const std::string& line) {
  if (closing_ || !pipe_initialized_) return;
  if (uv_stream_get_write_queue_size(stream_handle()) > ControlServer::kMaxQueuedBytes) {
    Log::write(LogLevel::Warn, fmt::format("control client {} is not reading; dropping it", id_),
               code_fields(Code::IoSocket));
    server_->drop(*this);
    return;
  }
  auto* w = new WriteReq{{}, line};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  // The write callback touches only its own request: a cancelled write
  // (the pipe closed first) must not reach the connection.
  int rc = uv_write(&w->req, stream_handle(), &buf, 1, [](uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); });
  if (rc != 0) {
    delete w;
    server_->drop(*this);
  }
}

void ControlConnection::close() {
  if (closing_ || !pipe_initialized_) return;
  closing_ = true;
  idle_.close();
  // uv_shutdown runs after queued writes; then the pipe is closed.
  auto* req = new uv_shutdown_t;
  req->data = this;
  int rc = uv_shutdown(req, stream_handle(), [](uv_shutdown_t* r, int status) {
    auto* c = static_cast<ControlConnection*>(r->data);
    delete r;
    // UV_ECANCELED: the pipe is being closed (the server closed, the peer
    // went); the connection is still alive until that close callback.
    if (status != UV_ECANCELED) c->close_pipe();
  });
  if (rc != 0) {
    delete req;
    close_pipe();
  }
}

void ControlConnection::close_pipe() {
  closing_ = true;
  stream = Stream::None;
  idle_.close();
  if (!pipe_initialized_ || pipe_closing_) return;
  pipe_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), &ControlConnection::on_pipe_closed);
}

// The one place a connection is freed: no libuv callback can reach it after this.
void ControlConnection::on_pipe_closed(uv_handle_t* h) {
  auto* c = static_cast<ControlConnection*>(h->data);
  if (c->server_) c->server_->forget(c);
  else delete c;
}

ControlServer::ControlServer(uv_loop_t* loop, Handler handler, std::uint64_t idle_timeout_ms)
    : loop_(loop), handler_(std::move(handler)), idle_timeout_ms_(idle_timeout_ms), listener_(loop) {
  resume_.reset(this);
  uv_idle_init(loop_, resume_.get());
}

ControlServer::~ControlServer() {
  close();
  // Connections still closing outlive the server: their close callbacks free them.
  for (auto& c : conns_) {
    c->server_ = nullptr;
    c.release();
  }
}

bool ControlServer::peer_allowed(uid_t uid, gid_t gid) const {
  if (uid == 0 || uid == ::geteuid()) return true;
  if (group_gid_ == static_cast<gid_t>(-1)) return false;
  if (gid == group_gid_) return true;
  for (uid_t m : group_member_uids_)
    if (m == uid) return true;
  return false;
}

Result<void> ControlServer::listen(const ControlConfig& cfg) {
  if (!cfg.group.empty()) {
    struct group* gr = ::getgrnam(cfg.group.c_str());
    if (!gr) return make_error(Code::ConfigUnknownUser, fmt::format("control group \"{}\" does not exist", cfg.group));
    group_gid_ = gr->gr_gid;
    for (char** m = gr->gr_mem; m && *m; ++m)
      if (struct passwd* pw = ::getpwnam(*m)) group_member_uids_.push_back(pw->pw_uid);
  }
  if (auto opened = listener_.open(cfg, group_gid_); !opened.ok()) return opened;
  listener_.start([this](int fd) { on_connection(fd); });
  return {};
}

void ControlServer::close() {
  listener_.close();
  if (resume_) uv_idle_stop(resume_.get());
  for (auto& c : conns_) c->close_pipe();
}

std::size_t ControlServer::connection_count() const {
  std::size_t n = 0;
  for (auto& c : conns_)
    if (!c->closing_) ++n;
  return n;
}

void ControlServer::on_connection(int fd) {
  conns_.push_back(std::make_unique<ControlConnection>(this, next_id_++));
  ControlConnection& c = *conns_.back();
  uv_pipe_init(loop_, &c.pipe_, 0);
  c.pipe_.data = &c;
  c.pipe_initialized_ = true;
  if (uv_pipe_open(&c.pipe_, fd) != 0) {
    ::close(fd);
    c.close_pipe();
    return;
  }
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !peer_allowed(cred.uid, cred.gid)) {
    Log::write(LogLevel::Warn, fmt::format("control client uid {} pid {} refused", cred.uid, cred.pid),
               code_fields(Code::ProtocolPermission));
    fail(c, make_error(Code::ProtocolPermission, fmt::format("uid {} may not control this procd", cred.uid)));
    return;
  }
  // c itself is counted: the cap is on connections besides this one.
  if (connection_count() > kMaxConnections) {
    Log::write(LogLevel::Warn, fmt::format("control client uid {} pid {} refused: {} connections open", cred.uid,
                                           cred.pid, kMaxConnections),
               code_fields(Code::ResourceControlConnections));
    fail(c, make_error(Code::ResourceControlConnections,
                       fmt::format("too many control connections (at most {})", kMaxConnections)));
    return;
  }
  c.peer_uid_ = cred.uid;
  c.idle_.init(loop_, [this, &c] { fail(c, make_error(Code::ProtocolMalformed, "no complete request in time; closing")); });
  c.idle_.schedule(static_cast<std::int64_t>(idle_timeout_ms_));
  uv_read_start(c.stream_handle(), alloc_cb, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* conn = static_cast<ControlConnection*>(s->data);
    if (conn->server_) conn->server_->on_read(*conn, n, b);
  });
}

void ControlServer::on_read(ControlConnection& c, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {  // EOF or error: the client is gone
    drop(c);
    return;
  }
  if (c.closing_) return;
  c.inbuf_.append(buf->base, static_cast<size_t>(nread));
  process_lines(c);
}

void ControlServer::process_lines(ControlConnection& c) {
  size_t start = 0;
  int handled = 0;
  for (size_t nl; (nl = c.inbuf_.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (handled == kMaxRequestsPerTurn) {
      // A flood: the rest waits for the next turn, and so does reading.
      if (!c.paused_) uv_read_stop(c.stream_handle());
      c.paused_ = true;
      c.inbuf_.erase(0, start);
      uv_idle_start(resume_.get(), [](uv_idle_t* h) { owner_of<ControlServer>(h)->resume_paused(); });
      return;
    }
    std::string_view line(c.inbuf_.data() + start, nl - start);
    if (line.empty()) continue;
    auto req = parse_request(line);
    if (!req.ok()) {
      fail(c, req.error());
      return;
    }
    ++handled;
    if (c.stream == ControlConnection::Stream::None) c.idle_.schedule(static_cast<std::int64_t>(idle_timeout_ms_));
    handler_(c, std::move(req.value()));
    // The handler may have closed c or the whole server: c is still valid
    // memory (freed only in its close callback) but must not be used further.
    if (c.closing_) return;
    if (c.stream != ControlConnection::Stream::None) c.idle_.cancel();  // streams live until the client goes
  }
  c.inbuf_.erase(0, start);
  if (c.paused_) {
    c.paused_ = false;
    uv_read_start(c.stream_handle(), alloc_cb, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
      auto* conn = static_cast<ControlConnection*>(s->data);
      if (conn->server_) conn->server_->on_read(*conn, n, b);
    });
  }
  if (c.inbuf_.size() > kMaxRequestBytes)
    fail(c, make_error(Code::ProtocolTooLarge, fmt::format("request larger than {} bytes", kMaxRequestBytes)));
}

// Each paused peer gets one more bounded turn; the list may not change
// under this loop (connections are erased only in close callbacks).
void ControlServer::resume_paused() {
  uv_idle_stop(resume_.get());  // process_lines re-starts it for a peer still paused
  for (auto& c : conns_)
    if (c->paused_ && !c->closing_) process_lines(*c);
}

void ControlServer::fail(ControlConnection& c, const Error& err) {
  Log::write(LogLevel::Debug, fmt::format("control client {}: {}", c.id_, err.message), code_fields(err.code));
  c.send(reply_error(err));
  c.close();
}

void ControlServer::drop(ControlConnection& c) { c.close_pipe(); }

void ControlServer::forget(ControlConnection* c) {
  conns_.remove_if([c](const std::unique_ptr<ControlConnection>& p) { return p.get() == c; });
}

}  // namespace procd
