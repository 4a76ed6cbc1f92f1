// Control socket server: see control_server.hpp for what it guarantees;
// connection lifetimes are StreamConnection's (stream_connection.hpp).
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

ControlConnection::ControlConnection(ConnectionOwner* owner, std::uint64_t id, ControlServer* server)
    : StreamConnection(owner, id, ControlServer::kMaxQueuedBytes, "control"), server_(server) {}

void ControlConnection::on_read(ssize_t nread, const uv_buf_t* buf) { server_->on_read(*this, nread, buf); }

void ControlConnection::reply_pieces(std::string head, Producer next, bool follow, std::vector<std::string> names) {
  write_pieces(std::move(head), std::move(next), [this, follow, names = std::move(names)] {
    if (!follow) return close();
    stream = Stream::Logs;
    stream_names = names;
    deadline_.cancel();  // streams live until the client goes
    if (paused_) {       // read again: its EOF ends the stream
      paused_ = false;
      start_reading();
    }
  });
}

ControlServer::ControlServer(uv_loop_t* loop, Handler handler, std::uint64_t idle_timeout_ms)
    : loop_(loop),
      handler_(std::move(handler)),
      idle_timeout_ms_(idle_timeout_ms),
      listener_(loop),
      budget_(std::make_shared<QueueBudget>(QueueBudget{0, queued_total_bound("PROCD_CONTROL_MAX_QUEUED_TOTAL", kMaxQueuedTotal)})) {
  resume_.reset(this);
  uv_idle_init(loop_, resume_.get());
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
  conns_.close_all();
}

std::size_t ControlServer::connection_count() const { return conns_.open_count(); }

void ControlServer::on_connection(int fd) {
  ControlConnection& c = conns_.add(this);
  c.share_budget(budget_);
  uv_pipe_init(loop_, c.pipe(), 0);
  c.handle_ready();
  if (uv_pipe_open(c.pipe(), fd) != 0) {
    ::close(fd);
    c.close_now();
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
  c.arm_deadline(static_cast<std::int64_t>(idle_timeout_ms_),
                 [this, &c] { fail(c, make_error(Code::ProtocolMalformed, "no complete request in time; closing")); });
  c.start_reading();
}

void ControlServer::on_read(ControlConnection& c, ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {  // EOF or error: the client is gone
    c.close_now();
    return;
  }
  if (c.closing()) return;
  c.inbuf_.append(buf->base, static_cast<size_t>(nread));
  process_lines(c);
}

void ControlServer::process_lines(ControlConnection& c) {
  size_t start = 0;
  int handled = 0;
  for (size_t nl; (nl = c.inbuf_.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (handled == kMaxRequestsPerTurn) {
      // A flood: the rest waits for the next turn, and so does reading.
      if (!c.paused_) c.stop_reading();
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
    if (c.stream == ControlConnection::Stream::None) c.rearm_deadline(static_cast<std::int64_t>(idle_timeout_ms_));
    handler_(c, std::move(req.value()));
    // The handler may have closed c or the whole server: c is still valid
    // memory (freed only in its close callback) but must not be used further.
    if (c.closing()) return;
    if (c.writing_pieces()) {
      // A reply in pieces (logs): the rest waits in the client's socket until
      // it is out; the deadline measures the client's progress (none for
      // kLingerMs: closed now, no error line inside the reply).
      c.inbuf_.erase(0, nl + 1);
      if (!c.paused_) c.stop_reading();
      c.paused_ = true;
      c.arm_deadline(StreamConnection::kLingerMs);
      return;
    }
    if (c.stream != ControlConnection::Stream::None) c.deadline_.cancel();  // streams live until the client goes
  }
  c.inbuf_.erase(0, start);
  if (c.paused_) {
    c.paused_ = false;
    c.start_reading();
  }
  if (c.inbuf_.size() > kMaxRequestBytes)
    fail(c, make_error(Code::ProtocolTooLarge, fmt::format("request larger than {} bytes", kMaxRequestBytes)));
}

// Each paused peer gets one more bounded turn; the list may not change
// under this loop (connections are erased only in close callbacks).
void ControlServer::resume_paused() {
  uv_idle_stop(resume_.get());  // process_lines re-starts it for a peer still paused
  conns_.for_each([this](ControlConnection& c) {
    if (c.paused_ && !c.closing() && !c.writing_pieces()) process_lines(c);
  });
}

void ControlServer::fail(ControlConnection& c, const Error& err) {
  Log::write(LogLevel::Debug, fmt::format("control client {}: {}", c.id(), err.message), code_fields(err.code));
  c.send(reply_error(err));
  c.close();
}

}  // namespace procd
