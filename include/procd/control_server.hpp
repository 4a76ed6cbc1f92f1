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
// Lifetimes: as every StreamConnection (stream_connection.hpp). The server
// must not be destroyed from inside its handler.
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
#include "procd/stream_connection.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class ControlServer;

class ControlConnection final : public StreamConnection {
 public:
  ControlConnection(ConnectionOwner* owner, std::uint64_t id, ControlServer* server);
  uid_t peer_uid() const { return peer_uid_; }
  // A reply in pieces (write_pieces: `head`, then the pieces of `next` as
  // the client takes them); nothing more is read from the client meanwhile.
  // Then the connection closes, or (follow) becomes a logs stream of `names`.
  void reply_pieces(std::string head, Producer next, bool follow, std::vector<std::string> names);

 private:
  friend class ControlServer;
  void on_read(ssize_t nread, const uv_buf_t* buf) override;

  ControlServer* server_;  // used only while attached()
  uid_t peer_uid_ = 0;
};

class ControlServer {
 public:
  using Handler = std::function<void(ControlConnection&, Request)>;

  static constexpr std::uint64_t kIdleTimeoutMs = 10000;    // slow-drip / half-open bound
  static constexpr std::size_t kMaxQueuedBytes = 8u << 20;  // a stream reader this far behind is dropped
  static constexpr std::size_t kMaxConnections = 256;
  // Bytes queued for all control clients together (PROCD_CONTROL_MAX_QUEUED_TOTAL
  // lowers it for tests): past it the client with the most queued is dropped.
  static constexpr std::size_t kMaxQueuedTotal = 64u << 20;
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
    conns_.for_each_stream(kind, std::forward<F>(f));
  }
  bool has_streams(ControlConnection::Stream kind) const { return conns_.has_streams(kind); }

 private:
  friend class ControlConnection;
  void on_connection(int fd);
  void on_read(ControlConnection& c, ssize_t nread, const uv_buf_t* buf);
  // Handle up to kMaxRequestsPerTurn complete lines of c.inbuf_; pause
  // reading when more remain.
  void process_lines(ControlConnection& c);
  void resume_paused();
  void fail(ControlConnection& c, const Error& err);
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
  std::shared_ptr<QueueBudget> budget_;
  ConnectionSet<ControlConnection> conns_;  // last member: its connections go before the rest
};

}  // namespace procd
