// The control socket server on procd's loop. Owns the listening unix socket
// (a ControlListener: created with [control].mode and optional group; never
// replaces a regular file or a symlink; replaces a stale socket; refuses a
// live one; out of fds, clients are refused with a code) and every
// client connection. A connection reads newline-delimited requests bounded
// by kMaxRequestBytes and an idle deadline that every complete request
// moves; anything malformed gets an error reply and the connection is
// closed; the supervisor is never blocked (a streaming client that stops
// reading is dropped past a queue limit).
//
// Bounds (SPEC Part 2): at most kMaxConnections open connections (the next
// one gets a ResourceControlConnections error reply and is closed), and at
// most kMaxRequestsPerTurn requests of one peer are handled per loop
// iteration: past that, reading that peer stops and its backlog resumes on
// the next iteration, after every other peer and timer had its turn.
//
// Lifetimes: a ControlConnection's memory (its uv pipe is a member) is freed
// only in its pipe's close callback, never synchronously: close() and
// drop() mark it closing and hand the pipe to uv_close, so a handler may
// close its own connection or the whole server and the caller's reference
// stays valid until it returns to the loop. A cancelled uv_shutdown
// (UV_ECANCELED) runs before that close callback, so it still finds its
// connection. The server must not be destroyed from inside its handler;
// when it is destroyed, connections still closing free themselves.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/control_listener.hpp"
#include "procd/error.hpp"
#include "procd/protocol.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class ControlServer;

class ControlConnection {
 public:
  ControlConnection(ControlServer* server, std::uint64_t id) : server_(server), id_(id) {}
  ControlConnection(const ControlConnection&) = delete;
  ControlConnection& operator=(const ControlConnection&) = delete;
  void send(const std::string& line);   // queued; never blocks
  void close();                          // after what is queued has been written
  std::uint64_t id() const { return id_; }
  uid_t peer_uid() const { return peer_uid_; }
  bool closing() const { return closing_; }

  // Set by the handler for `logs -f` / `events` connections.
  enum class Stream { None, Logs, Events } stream = Stream::None;
  std::vector<std::string> stream_names;  // empty = every service

 private:
  friend class ControlServer;
  uv_stream_t* stream_handle() { return reinterpret_cast<uv_stream_t*>(&pipe_); }
  // uv_close the pipe now (queued writes are cancelled); idempotent. The
  // close callback frees this connection.
  void close_pipe();
  static void on_pipe_closed(uv_handle_t* h);

  ControlServer* server_;   // null once the server is gone: the close callback then deletes this
  std::uint64_t id_;
  uv_pipe_t pipe_{};
  bool pipe_initialized_ = false;
  bool pipe_closing_ = false;
  Timer idle_;
  std::string inbuf_;
  uid_t peer_uid_ = 0;
  bool closing_ = false;
  bool paused_ = false;     // reading stopped: complete requests wait for the next turn
};

class ControlServer {
 public:
  using Handler = std::function<void(ControlConnection&, Request)>;

  static constexpr std::uint64_t kIdleTimeoutMs = 10000;    // slow-drip / half-open bound
  static constexpr std::size_t kMaxQueuedBytes = 8u << 20;  // a stream reader this far behind is dropped
  static constexpr std::size_t kMaxConnections = 256;
  static constexpr int kMaxRequestsPerTurn = 16;

  ControlServer(uv_loop_t* loop, Handler handler, std::uint64_t idle_timeout_ms = kIdleTimeoutMs);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  Result<void> listen(const ControlConfig& cfg);
  // Stop listening, close every connection, remove the socket file. The
  // connections' memory goes in their close callbacks, not here.
  void close();

  // Connections open and not closing.
  std::size_t connection_count() const;

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

 private:
  friend class ControlConnection;
  void on_connection(int fd);
  void on_read(ControlConnection& c, ssize_t nread, const uv_buf_t* buf);
  // Handle up to kMaxRequestsPerTurn complete lines of c.inbuf_; pause
  // reading when more remain.
  void process_lines(ControlConnection& c);
  void resume_paused();
  void fail(ControlConnection& c, const Error& err);
  void drop(ControlConnection& c);
  void forget(ControlConnection* c);
  bool peer_allowed(uid_t uid, gid_t gid) const;

  uv_loop_t* loop_;
  Handler handler_;
  std::uint64_t idle_timeout_ms_;
  ControlListener listener_;
  // Active only while some peer is paused: an idle handle runs once per loop
  // iteration and keeps the poll from blocking. (A 0 ms timer would not do:
  // libuv re-runs a timer re-armed with 0 ms in the same timers pass.)
  UvHandle<uv_idle_t> resume_;
  gid_t group_gid_ = static_cast<gid_t>(-1);
  std::vector<uid_t> group_member_uids_;
  std::list<std::unique_ptr<ControlConnection>> conns_;
  std::uint64_t next_id_ = 1;
};

}  // namespace procd
