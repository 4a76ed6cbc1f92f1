// StreamConnection (procd/stream_connection.hpp): writes, the two ways to
// close, and the close callback that is the one place a connection's
// memory is freed.
#include "procd/stream_connection.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>

#include "procd/logging.hpp"

namespace procd {
namespace {

// Every connection reads into this one buffer: a read callback consumes
// its bytes before the loop reads anything else.
char g_read_buf[16 * 1024];

void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buf, sizeof g_read_buf); }

// One write: its bytes, and a shared body written after them without a copy.
struct WriteReq {
  uv_write_t req;
  std::string data;
  std::shared_ptr<const std::string> body;
  std::shared_ptr<QueueShare> share;  // null: not counted in a budget
  std::size_t counted = 0;            // its bytes in share (what uv_write did not write at once)
  StreamConnection* piece_of = nullptr;  // a piece of write_pieces(): its connection
};

}  // namespace

// libuv runs every write callback of a handle (cancelled ones included)
// before its close callback, the one place a connection is freed: a
// piece's connection is still there.
void piece_written(StreamConnection* c, int status) {
  --c->pieces_queued_;
  if (status == 0) c->pump();
}

namespace {

void write_done(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  if (w->share) {
    w->share->queued -= w->counted;
    if (!w->share->released) w->share->budget->total -= w->counted;
  }
  StreamConnection* piece_of = w->piece_of;
  delete w;
  if (piece_of) piece_written(piece_of, status);
}

}  // namespace

void StreamConnection::handle_ready() {
  handle_.stream.data = this;
  handle_ready_ = true;
}

void StreamConnection::start_reading() {
  uv_read_start(stream_handle(), alloc_cb, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* c = static_cast<StreamConnection*>(s->data);
    if (c->attached()) c->on_read(n, b);
  });
}

void StreamConnection::write(std::string bytes, std::shared_ptr<const std::string> body) {
  queue(std::move(bytes), std::move(body), false);
}

void StreamConnection::write_pieces(std::string head, Producer next, std::function<void()> done) {
  producer_ = std::move(next);
  pieces_done_ = std::move(done);
  queue(std::move(head), nullptr, false);
  pump();
}

void StreamConnection::pump() {
  while (producer_ && !closing_ && pieces_queued_ < kPiecesQueued) {
    std::string piece;
    bool more = producer_(piece);
    if (!piece.empty()) {
      ++pieces_queued_;
      queue(std::move(piece), nullptr, true);
      // Progress counted from here, after what the socket took at once: a
      // client that takes nothing more is cut kLingerMs later, as after close().
      if (deadline_.initialized() && !closing_) rearm_deadline(kLingerMs);
    }
    if (!more) {
      producer_ = nullptr;
      auto done = std::move(pieces_done_);
      pieces_done_ = nullptr;
      if (done && !closing_) done();
    }
  }
}

StreamConnection::Producer pieces_of(std::vector<std::string> parts) {
  auto all = std::make_shared<std::vector<std::string>>(std::move(parts));
  return [all, i = std::size_t{0}, off = std::size_t{0}](std::string& out) mutable {
    while (i < all->size() && out.size() < StreamConnection::kPieceBytes) {
      std::string& part = (*all)[i];
      std::size_t take = std::min(part.size() - off, StreamConnection::kPieceBytes - out.size());
      out.append(part, off, take);
      off += take;
      if (off == part.size()) {
        std::string().swap(part);
        ++i;
        off = 0;
      }
    }
    return i < all->size();
  };
}

void StreamConnection::queue(std::string bytes, std::shared_ptr<const std::string> body, bool piece) {
  if (closing_ || !handle_ready_) {
    if (piece) --pieces_queued_;
    return;
  }
  if (unwritten() > max_queued_) {
    Log::write(LogLevel::Warn, fmt::format("{} client {} is not reading ({} bytes unsent); dropping it", kind_, id_, max_queued_),
               code_fields(Code::IoSocket));
    close_now();
    if (piece) --pieces_queued_;
    return;
  }
  auto* w = new WriteReq{{}, std::move(bytes), std::move(body), nullptr, 0, piece ? this : nullptr};
  queued_total_ += w->data.size() + (w->body ? w->body->size() : 0);
  uv_buf_t bufs[2] = {uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size())), {}};
  unsigned n = 1;
  if (w->body) bufs[n++] = uv_buf_init(const_cast<char*>(w->body->data()), static_cast<unsigned>(w->body->size()));
  // The write callback touches only its own request and the shares: a
  // cancelled write (the handle closed first) must not reach the connection.
  std::size_t before = unwritten();
  int rc = uv_write(&w->req, stream_handle(), bufs, n, write_done);
  if (rc != 0) {
    delete w;
    close_now();
    if (piece) --pieces_queued_;
    return;
  }
  if (!share_) return;
  w->share = share_;
  w->counted = unwritten() > before ? unwritten() - before : 0;
  share_->queued += w->counted;
  share_->budget->total += w->counted;
  while (share_->budget->total > share_->budget->max && owner_ && owner_->drop_largest()) {
  }
}

std::size_t queued_total_bound(const char* env_name, std::size_t fallback) {
  const char* env = std::getenv(env_name);
  if (!env || !*env) return fallback;
  char* end = nullptr;
  unsigned long long v = std::strtoull(env, &end, 10);
  return *end == '\0' && v > 0 && env[0] != '-' ? static_cast<std::size_t>(v) : fallback;
}

void StreamConnection::drop_for_budget() {
  Log::write(LogLevel::Warn,
             fmt::format("{} client {} has the most bytes unsent ({}) while all {} clients together pass {}; dropping it",
                         kind_, id_, unwritten(), kind_, share_ ? share_->budget->max : 0),
             code_fields(Code::IoSocket));
  close_now();
}

void StreamConnection::close() {
  if (closing_ || !handle_ready_) return;
  closing_ = true;
  stream = Stream::None;
  arm_deadline(kLingerMs);
  // uv_shutdown runs after the queued writes; then the handle is closed.
  auto* req = new uv_shutdown_t;
  req->data = this;
  int rc = uv_shutdown(req, stream_handle(), [](uv_shutdown_t* r, int status) {
    auto* c = static_cast<StreamConnection*>(r->data);
    delete r;
    // UV_ECANCELED: the handle is being closed (the server closed, the peer
    // went); the connection lives until that close callback.
    if (status != UV_ECANCELED) c->close_now();
  });
  if (rc != 0) {
    delete req;
    close_now();
  }
}

void StreamConnection::arm_deadline(std::int64_t ms, std::function<void()> on_deadline) {
  deadline_.init(handle_.stream.loop, [this, ms, cb = std::move(on_deadline)] {
    if (taken() > taken_mark_) return rearm_deadline(ms);  // still reading: not cut
    if (cb) cb();
    else close_now();
  });
  rearm_deadline(ms);
}

void StreamConnection::rearm_deadline(std::int64_t ms) {
  taken_mark_ = taken();
  deadline_.schedule(ms);
}

void StreamConnection::close_now() {
  closing_ = true;
  if (share_) share_->release();  // its writes are cancelled: out of the total now
  stream = Stream::None;
  deadline_.close();
  if (!handle_ready_ || handle_closing_) return;
  handle_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), &StreamConnection::on_closed);
}

// The one place a connection is freed: no libuv callback can reach it after this.
void StreamConnection::on_closed(uv_handle_t* h) {
  auto* c = static_cast<StreamConnection*>(h->data);
  if (c->owner_) c->owner_->forget(c);
  else delete c;
}

}  // namespace procd
