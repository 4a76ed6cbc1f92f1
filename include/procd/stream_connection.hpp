// What the control socket's and the HTTP endpoint's client connections
// share: a uv stream (unix pipe or TCP socket), writes that never block and
// drop a peer that stops reading, a graceful close (after what is queued)
// and an immediate one, the streaming role (events, followed logs), and the
// one rule that keeps every callback safe:
//
//   a connection's memory is freed only in its handle's close callback.
//
// close() and close_now() only mark it closing and hand the handle to
// uv_close, so a request handler may close its own connection (or the whole
// server) and its reference stays valid until it returns to the loop. A
// cancelled uv_shutdown (UV_ECANCELED) runs before that close callback, so
// it still finds its connection. ConnectionSet owns the connections of one
// server; it erases one only from that close callback, so no loop over the
// set sees it change. When a server (and its set) goes first, connections
// still closing free themselves.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "procd/timer.hpp"

namespace procd {

class StreamConnection;

// Bytes queued for all the connections of one server together (HTTP:
// PROCD_HTTP_MAX_QUEUED_TOTAL, default 64 MiB). Shared with every write in
// flight, so a connection or server that goes first leaves it valid.
struct QueueBudget {
  std::size_t total = 0;
  std::size_t max = 0;
};

// A server's total bound: the environment variable (bytes, > 0; tests lower
// it) or `fallback`.
std::size_t queued_total_bound(const char* env_name, std::size_t fallback);

// One connection's share of its server's budget.
struct QueueShare {
  std::shared_ptr<QueueBudget> budget;
  std::size_t queued = 0;  // bytes of this connection in budget->total
  bool released = false;   // closed: no longer in budget->total
  void release() {
    if (released) return;
    budget->total -= queued;
    released = true;
  }
};

class ConnectionOwner {
 public:
  virtual void forget(StreamConnection* c) = 0;
  // The budget is passed: close the connection with the most queued;
  // false when there is none to close.
  virtual bool drop_largest() { return false; }

 protected:
  ~ConnectionOwner() = default;
};

class StreamConnection {
 public:
  enum class Stream { None, Logs, Events };
  // How long close() waits for the peer to take more of what is queued: a
  // peer that stops reading its last bytes must not hold the connection
  // forever, one that keeps reading is never cut.
  static constexpr std::int64_t kLingerMs = 10000;

  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;
  virtual ~StreamConnection() = default;

  // Queued; never blocks. A peer with more than max_queued bytes unwritten
  // is not reading: it is logged and dropped (close_now).
  void send(std::string_view bytes) { write(std::string(bytes), nullptr); }
  // `bytes`, then `body` without a copy: the body is shared until written.
  void write(std::string bytes, std::shared_ptr<const std::string> body);
  // A body handed over in pieces as the peer takes it (a /logs reply):
  // `head` is queued now; `next` appends the next piece (at most
  // kPieceBytes) to its argument and returns false once it has given the
  // last; then `done` runs (not when the connection closes first). At most
  // kPiecesQueued pieces are queued at a time and the next is made when one
  // is written, so a large reply is never whole in one string or in the
  // write queue, and other clients are served between its pieces.
  using Producer = std::function<bool(std::string&)>;
  static constexpr std::size_t kPieceBytes = 64 * 1024;
  static constexpr int kPiecesQueued = 2;
  void write_pieces(std::string head, Producer next, std::function<void()> done);
  bool writing_pieces() const { return static_cast<bool>(producer_); }
  void close();      // after what is queued has been written, at most kLingerMs
  void close_now();  // now: queued writes are cancelled; idempotent
  void drop_for_budget();  // logged (5006) and closed now: it has the most queued of all
  bool closing() const { return closing_; }
  std::uint64_t id() const { return id_; }

  // Set by the handler for `events` / followed-logs connections.
  Stream stream = Stream::None;
  std::vector<std::string> stream_names;  // empty = every service
  std::uint8_t stream_kinds = 0;          // followed logs: output.hpp's mask of streams; 0 = all

 protected:
  // `kind` names the peer in log lines ("control", "HTTP").
  StreamConnection(ConnectionOwner* owner, std::uint64_t id, std::size_t max_queued, const char* kind)
      : owner_(owner), id_(id), max_queued_(max_queued), kind_(kind) {}

  // Call once the handle is initialised (uv_pipe_init / uv_tcp_init on
  // pipe() / tcp()): from then on the close callback frees this connection.
  void handle_ready();
  // Count this connection's queued bytes in `budget` (before any write).
  void share_budget(std::shared_ptr<QueueBudget> budget) { share_ = std::make_shared<QueueShare>(QueueShare{std::move(budget)}); }
  uv_stream_t* stream_handle() { return &handle_.stream; }
  uv_pipe_t* pipe() { return &handle_.pipe; }
  uv_tcp_t* tcp() { return &handle_.tcp; }
  std::size_t unwritten() { return uv_stream_get_write_queue_size(stream_handle()); }
  // Reading into a shared buffer; on_read runs only while a server owns
  // this connection.
  void start_reading();
  void stop_reading() { uv_read_stop(stream_handle()); }
  virtual void on_read(ssize_t nread, const uv_buf_t* buf) = 0;
  bool attached() const { return owner_ != nullptr; }

  // A deadline that measures progress: when it passes, a connection whose
  // peer took bytes since it was armed gets `ms` more, else it is closed
  // now (on_deadline, or close_now by default).
  void arm_deadline(std::int64_t ms, std::function<void()> on_deadline = {});
  void rearm_deadline(std::int64_t ms);  // `ms` from now, progress counted from now
  std::uint64_t taken() { return queued_total_ - unwritten(); }  // bytes the peer has taken

  Timer deadline_;      // the server's idle / header bound; closed with the connection
  std::string inbuf_;   // bytes read, not yet a whole request
  bool paused_ = false; // reading stopped: whole requests wait for the next turn

 private:
  template <typename Conn>
  friend class ConnectionSet;
  static void on_closed(uv_handle_t* h);
  friend void piece_written(StreamConnection* c, int status);
  void queue(std::string bytes, std::shared_ptr<const std::string> body, bool piece);
  void pump();  // queue pieces of producer_ up to kPiecesQueued

  union Handle {
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } handle_{};
  ConnectionOwner* owner_;  // null once the server is gone: the close callback then deletes this
  std::uint64_t id_;
  std::size_t max_queued_;
  const char* kind_;
  std::shared_ptr<QueueShare> share_;  // null: no budget but max_queued_
  std::uint64_t queued_total_ = 0;  // every byte ever handed to uv_write
  std::uint64_t taken_mark_ = 0;    // taken() when the deadline was armed
  bool handle_ready_ = false;
  bool handle_closing_ = false;
  bool closing_ = false;
  Producer producer_;                  // set while a body is written in pieces
  std::function<void()> pieces_done_;
  int pieces_queued_ = 0;
};

// A Producer over `parts` (JSON lines, say): their bytes in order, cut into
// pieces of at most kPieceBytes; each part is freed once it is queued.
StreamConnection::Producer pieces_of(std::vector<std::string> parts);

// The connections of one server, in the order they came.
template <typename Conn>
class ConnectionSet final : public ConnectionOwner {
 public:
  ConnectionSet() = default;
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;
  ~ConnectionSet() {
    // Connections still closing outlive their server: their close callbacks free them.
    for (auto& c : conns_) {
      c->owner_ = nullptr;
      c.release();
    }
  }

  template <typename... Args>
  Conn& add(Args&&... args) {
    conns_.push_back(std::make_unique<Conn>(this, next_id_++, std::forward<Args>(args)...));
    return *conns_.back();
  }
  void forget(StreamConnection* c) override {
    conns_.remove_if([c](const std::unique_ptr<Conn>& p) { return p.get() == c; });
  }
  bool drop_largest() override {
    Conn* largest = nullptr;
    // Closing after its queued bytes (close()) still counts: it may be the largest.
    for (auto& c : conns_)
      if (c->share_ && !c->share_->released && (!largest || c->unwritten() > largest->unwritten())) largest = c.get();
    if (!largest || largest->unwritten() == 0) return false;
    largest->drop_for_budget();
    return true;
  }
  void close_all() {
    for (auto& c : conns_) c->close_now();
  }
  std::size_t open_count() const {
    std::size_t n = 0;
    for (auto& c : conns_)
      if (!c->closing()) ++n;
    return n;
  }
  template <typename F>
  void for_each(F&& f) {
    for (auto& c : conns_) f(*c);
  }
  template <typename F>
  void for_each_stream(StreamConnection::Stream kind, F&& f) {
    for (auto& c : conns_)
      if (c->stream == kind && !c->closing()) f(*c);
  }
  bool has_streams(StreamConnection::Stream kind) const {
    for (auto& c : conns_)
      if (c->stream == kind && !c->closing()) return true;
    return false;
  }

 private:
  std::list<std::unique_ptr<Conn>> conns_;
  std::uint64_t next_id_ = 1;
};

}  // namespace procd
