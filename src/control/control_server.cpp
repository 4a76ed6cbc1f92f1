// Control socket server: see control_server.hpp for what it guarantees.
// Connection memory: a ControlConnection lives in conns_ until its pipe's
// close callback has run (UvHandle frees the uv struct there); reap_closed()
// then erases it, so no callback ever sees a dangling pointer.
#include "procd/control_server.hpp"

#include <fmt/core.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

// Is something listening on the unix socket at path?
bool socket_is_live(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

void ControlConnection::send(const std::string& line) {
  if (closing_ || !pipe_) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(pipe_.get());
  if (uv_stream_get_write_queue_size(stream) > ControlServer::kMaxQueuedBytes) {
    Log::write(LogLevel::Warn, fmt::format("control client {} is not reading; dropping it", id_),
               code_fields(Code::IoSocket));
    server_->drop(*this);
    return;
  }
  auto* w = new WriteReq{{}, line};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, stream, &buf, 1, [](uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); });
  if (rc != 0) {
    delete w;
    server_->drop(*this);
  }
}

void ControlConnection::close() {
  if (closing_ || !pipe_) return;
  closing_ = true;
  idle_.close();
  // uv_shutdown runs after queued writes; then the pipe is closed.
  auto* req = new uv_shutdown_t;
  req->data = this;
  int rc = uv_shutdown(req, reinterpret_cast<uv_stream_t*>(pipe_.get()), [](uv_shutdown_t* r, int) {
    auto* c = static_cast<ControlConnection*>(r->data);
    delete r;
    c->server_->drop(*c);
  });
  if (rc != 0) {
    delete req;
    server_->drop(*this);
  }
}

ControlServer::~ControlServer() { close(); }

bool ControlServer::peer_allowed(uid_t uid, gid_t gid) const {
  if (uid == 0 || uid == ::geteuid()) return true;
  if (group_gid_ == static_cast<gid_t>(-1)) return false;
  if (gid == group_gid_) return true;
  for (uid_t m : group_member_uids_)
    if (m == uid) return true;
  return false;
}

Result<void> ControlServer::listen(const ControlConfig& cfg) {
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
  if (!cfg.group.empty()) {
    struct group* gr = ::getgrnam(cfg.group.c_str());
    if (!gr) return make_error(Code::ConfigUnknownUser, fmt::format("control group \"{}\" does not exist", cfg.group));
    group_gid_ = gr->gr_gid;
    for (char** m = gr->gr_mem; m && *m; ++m)
      if (struct passwd* pw = ::getpwnam(*m)) group_member_uids_.push_back(pw->pw_uid);
  }
  listener_.reset(this);
  uv_pipe_init(loop_, listener_.get(), 0);
  // Bind under a umask that already yields `mode`, so there is no window
  // in which the socket is more open than configured.
  mode_t old = ::umask(static_cast<mode_t>(~cfg.mode & 0777));
  int rc = uv_pipe_bind(listener_.get(), path_.c_str());
  ::umask(old);
  if (rc != 0) {
    listener_.close();
    return make_error(Code::IoSocket, fmt::format("cannot bind control socket {}: {}", path_, uv_strerror(rc)));
  }
  ::chmod(path_.c_str(), cfg.mode);
  if (group_gid_ != static_cast<gid_t>(-1) && ::chown(path_.c_str(), static_cast<uid_t>(-1), group_gid_) != 0)
    Log::write(LogLevel::Warn, fmt::format("cannot give {} to group {}: {}", path_, cfg.group, std::strerror(errno)),
               code_fields(Code::IoSocket));
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_.get()), 128,
                 [](uv_stream_t* s, int status) {
                   if (status == 0) owner_of<ControlServer>(s)->on_connection();
                 });
  if (rc != 0) {
    listener_.close();
    ::unlink(path_.c_str());
    return make_error(Code::IoSocket, fmt::format("cannot listen on {}: {}", path_, uv_strerror(rc)));
  }
  return {};
}

void ControlServer::close() {
  if (listener_) {
    listener_.close();
    ::unlink(path_.c_str());
  }
  for (auto& c : conns_) {
    c->closing_ = true;
    c->idle_.close();
    c->pipe_.close();
  }
  conns_.clear();
}

void ControlServer::on_connection() {
  reap_closed();
  auto conn = std::make_unique<ControlConnection>(this, next_id_++);
  ControlConnection& c = *conn;
  c.pipe_.reset(&c);
  uv_pipe_init(loop_, c.pipe_.get(), 0);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_.get()), reinterpret_cast<uv_stream_t*>(c.pipe_.get())) != 0) {
    c.pipe_.close();
    return;
  }
  conns_.push_back(std::move(conn));
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(c.pipe_.get()), &fd);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !peer_allowed(cred.uid, cred.gid)) {
    Log::write(LogLevel::Warn, fmt::format("control client uid {} pid {} refused", cred.uid, cred.pid),
               code_fields(Code::ProtocolPermission));
    fail(c, make_error(Code::ProtocolPermission, fmt::format("uid {} may not control this procd", cred.uid)));
    return;
  }
  c.peer_uid_ = cred.uid;
  c.idle_.reset(&c);
  uv_timer_init(loop_, c.idle_.get());
  uv_timer_start(
      c.idle_.get(),
      [](uv_timer_t* t) {
        auto* conn = owner_of<ControlConnection>(t);
        conn->server_->fail(*conn, make_error(Code::ProtocolMalformed, "no complete request in time; closing"));
      },
      kIdleTimeoutMs, 0);
  uv_read_start(reinterpret_cast<uv_stream_t*>(c.pipe_.get()), alloc_cb, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* conn = static_cast<ControlConnection*>(s->data);
    if (conn) conn->server_->on_read(*conn, n, b);
  });
}

void ControlServer::on_read(ControlConnection& c, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {  // EOF or error: the client is gone
    drop(c);
    return;
  }
  if (c.closing_) return;
  c.inbuf_.append(buf->base, static_cast<size_t>(nread));
  size_t start = 0;
  for (size_t nl; (nl = c.inbuf_.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(c.inbuf_.data() + start, nl - start);
    if (line.empty()) continue;
    auto req = parse_request(line);
    if (!req.ok()) {
      fail(c, req.error());
      return;
    }
    if (c.idle_ && c.stream == ControlConnection::Stream::None) uv_timer_again(c.idle_.get());
    handler_(c, std::move(req.value()));
    if (c.closing_) return;
    if (c.stream != ControlConnection::Stream::None) c.idle_.close();  // streams live until the client goes
  }
  c.inbuf_.erase(0, start);
  if (c.inbuf_.size() > kMaxRequestBytes)
    fail(c, make_error(Code::ProtocolTooLarge, fmt::format("request larger than {} bytes", kMaxRequestBytes)));
}

void ControlServer::fail(ControlConnection& c, const Error& err) {
  Log::write(LogLevel::Debug, fmt::format("control client {}: {}", c.id_, err.message), code_fields(err.code));
  c.send(reply_error(err));
  c.close();
}

void ControlServer::drop(ControlConnection& c) {
  c.closing_ = true;
  c.stream = ControlConnection::Stream::None;
  c.idle_.close();
  c.pipe_.close();
  // Erased on the next accept or by reap_closed; its uv memory is already owned by libuv's close.
}

void ControlServer::reap_closed() {
  conns_.remove_if([](const std::unique_ptr<ControlConnection>& c) { return !c->pipe_; });
}

}  // namespace procd
