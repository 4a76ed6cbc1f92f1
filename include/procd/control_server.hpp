// The control socket server on procd's loop. Owns the listening unix socket
// (created with [control].mode and optional group; never replaces a regular
// file or a symlink; replaces a stale socket; refuses a live one) and every
// client connection. A connection reads newline-delimited requests bounded
// by kMaxRequestBytes and an idle deadline; anything malformed gets an
// error reply and the connection is closed; the supervisor is never blocked
// (a streaming client that stops reading is dropped past a queue limit).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/protocol.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class ControlServer;

class ControlConnection {
 public:
  ControlConnection(ControlServer* server, std::uint64_t id) : server_(server), id_(id) {}
  void send(const std::string& line);   // queued; never blocks
  void close();                          // after what is queued has been written
  std::uint64_t id() const { return id_; }
  uid_t peer_uid() const { return peer_uid_; }

  // Set by the handler for `logs -f` / `events` connections.
  enum class Stream { None, Logs, Events } stream = Stream::None;
  std::vector<std::string> stream_names;  // empty = every service

 private:
  friend class ControlServer;
  ControlServer* server_;
  std::uint64_t id_;
  UvPipe pipe_;
  UvTimer idle_;
  std::string inbuf_;
  uid_t peer_uid_ = 0;
  bool closing_ = false;
};

class ControlServer {
 public:
  using Handler = std::function<void(ControlConnection&, Request)>;

  ControlServer(uv_loop_t* loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {}
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  Result<void> listen(const ControlConfig& cfg);
  // Stop listening, drop every connection, remove the socket file.
  void close();

  // Connections currently streaming (for events / logs -f fan-out).
  template <typename F>
  void for_each_stream(ControlConnection::Stream kind, F&& f) {
    for (auto& c : conns_)
      if (c->stream == kind && !c->closing_) f(*c);
  }
  bool has_streams(ControlConnection::Stream kind) const {
    for (auto& c : conns_)
      if (c->stream == kind && !c->closing_) return true;
    return false;
  }

  static constexpr std::uint64_t kIdleTimeoutMs = 10000;    // slow-drip / half-open bound
  static constexpr std::size_t kMaxQueuedBytes = 8u << 20;  // a stream reader this far behind is dropped

 private:
  friend class ControlConnection;
  void on_connection();
  void on_read(ControlConnection& c, ssize_t nread, const uv_buf_t* buf);
  void fail(ControlConnection& c, const Error& err);
  void drop(ControlConnection& c);
  void reap_closed();
  bool peer_allowed(uid_t uid, gid_t gid) const;

  uv_loop_t* loop_;
  Handler handler_;
  UvPipe listener_;
  std::string path_;
  gid_t group_gid_ = static_cast<gid_t>(-1);
  std::vector<uid_t> group_member_uids_;
  std::list<std::unique_ptr<ControlConnection>> conns_;
  std::uint64_t next_id_ = 1;
};

}  // namespace procd
