// A service's output at the Supervisor's edge: reading its two pipes and
// where each line goes — the service's ring (for `procd logs`), followers,
// and either its files (stdout + stderr into one, or stderr apart with
// stderr = "separate") or procd's own log as `NAME | line` / `NAME ! line`.
//
// Back-pressure, never loss: a pipe is read only while its destination
// takes lines (may_read). A file write that fails (a full disk) keeps the
// unwritten rest in ServiceFile::pending, stops reading the service and
// retries on the service's timer; procd's own log, when backlogged, stops
// reading every service that logs there until Log reports it drained. The
// services then block in write(2), as they would on a slow terminal.
//
// Fast path (file, timestamps = false, nobody needs each line: no ready
// pattern being watched, no `logs -f` follower): the complete-lines part of a
// read goes to the file as is (LineSplitter::feed_plain guarantees it is
// byte for byte what the per-line path would write) and the ring copies only
// the read's last lines.
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include "procd/logging.hpp"
#include "procd/spawn.hpp"
#include "procd/supervisor.hpp"

namespace procd {
namespace {

// One read buffer for every pipe: libuv hands it to exactly one read
// callback at a time on this single thread.
char g_read_buf[256 * 1024];

// A read that returns exactly the default pipe capacity found the pipe full:
// the service writes faster than one wake-up drains, so give that pipe 1 MiB
// (fewer wake-ups, the writer blocks less). Only for such pipes: an
// unprivileged user's pipe memory is capped (fs/pipe-user-pages-soft), and
// past the cap every new pipe of that user shrinks to 2 pages.
constexpr ssize_t kDefaultPipeSize = 64 * 1024;
constexpr int kBigPipeSize = 1024 * 1024;
constexpr Millis kFileRetryMs = 1000;
// What a run's pipes may still hold when they are closed without EOF: read
// at once, whatever the destination's backlog (bounded: pipes are 1 MiB at most).
constexpr std::size_t kDrainAtClose = 4 * 1024 * 1024;

void maybe_grow_pipe(uv_stream_t* stream) {
#ifdef F_SETPIPE_SZ
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) != 0) return;
  if (::fcntl(fd, F_GETPIPE_SZ) < kBigPipeSize) ::fcntl(fd, F_SETPIPE_SZ, kBigPipeSize);  // failure: keep it
#else
  (void)stream;
#endif
}

// A failed rotation (once per outage: RotatingFile backs off) and its end.
void tell_rotation(const FileWrite& w, const RotatingFile& file, const std::string& service) {
  if (!w.ok() && w.error->code == Code::IoRotate)
    Log::write(LogLevel::Warn, fmt::format("{}; writing on to {}, retrying with back-off", w.error->message, file.path()),
               svc_fields(service, 0, Code::IoRotate));
  if (w.rotation_recovered)
    Log::write(LogLevel::Info, fmt::format("{}: rotation works again", file.path()), svc_fields(service));
}

void alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_read_buf, sizeof g_read_buf); }

void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* svc = static_cast<ServiceRunner*>(stream->data);
  if (!svc) return;
  bool is_stderr = reinterpret_cast<uv_pipe_t*>(stream) == svc->err.get();
  if (nread > 0) {
    if (nread == kDefaultPipeSize) maybe_grow_pipe(stream);
    svc->sup->on_output(*svc, is_stderr, buf->base, static_cast<size_t>(nread));
  } else if (nread < 0) {  // UV_EOF or a read error: the stream is over either way
    // A last line without '\n' is terminated through the normal path, so it
    // reaches the ring, the file and followers like any other line.
    if ((is_stderr ? svc->err_split : svc->out_split).has_partial()) svc->sup->on_output(*svc, is_stderr, "\n", 1);
    (is_stderr ? svc->err : svc->out).close();
    svc->sup->on_stream_closed(*svc);
  }
}

}  // namespace

Result<void> watch_output(uv_loop_t* loop, UvPipe& pipe, ServiceRunner* svc, int fd) {
  pipe.reset(svc);
  uv_pipe_init(loop, pipe.get(), 0);
  if (int rc = uv_pipe_open(pipe.get(), fd); rc != 0) {
    ::close(fd);
    return make_error(Code::IoPipe, fmt::format("cannot watch output pipe: {}", uv_strerror(rc)));
  }
  return {};
}

// ---- destinations -------------------------------------------------------------

void Supervisor::setup_files(ServiceRunner& svc) {
  const ServiceLogConfig& log = svc.cfg.log;
  svc.out_file = {};
  svc.err_file = {};
  if (log.file.empty()) return;
  svc.out_file.file = std::make_unique<RotatingFile>(log.file, log.max_file_size, log.max_files);
  if (!log.merge_stderr) {
    std::string err_path = log.stderr_file.empty() ? log.file + ".err" : log.stderr_file;
    svc.err_file.file = std::make_unique<RotatingFile>(err_path, log.max_file_size, log.max_files);
  }
  for (ServiceFile* f : {&svc.out_file, &svc.err_file})  // failed rotations back off on the loop clock
    if (*f) f->file->set_clock([this] { return now(); });
}

void Supervisor::open_files(ServiceRunner& svc) {
  for (ServiceFile* f : {&svc.out_file, &svc.err_file})
    if (*f)
      if (auto r = f->file->open(); !r.ok()) Log::error(r.error(), svc_fields(svc.cfg.name));
}

void Supervisor::on_output(ServiceRunner& svc, bool is_stderr, const char* data, size_t len) {
  auto& splitter = is_stderr ? svc.err_split : svc.out_split;
  ServiceFile* dest = svc.to_file() ? &svc.file_for(is_stderr) : nullptr;
  const std::int64_t ts = wall_clock_ms();
  const bool watch_ready = svc.ready_pattern && svc.state.phase == Phase::Starting;  // as check_log_ready
  const bool followed = (control_ && control_->has_streams(ControlConnection::Stream::Logs)) ||
                        (http_ && http_->has_streams(HttpConnection::Stream::Logs));
  if (dest && !svc.cfg.log.timestamps && dest->pending.empty() && !watch_ready && !followed) {
    bool plain = splitter.feed_plain(std::string_view(data, len), [&](std::string_view head, std::string_view body) {
      svc.ring.push_lines(ts, is_stderr, head, body);
      auto w = dest->file->write(head, body);
      tell_rotation(w, *dest->file, svc.cfg.name);
      if (!w.ok() && w.error->code != Code::IoRotate) {  // keep exactly what was not written; flush_file tells
        std::size_t skip = w.written;
        std::size_t from_head = std::min(skip, head.size());
        dest->pending.append(head.substr(from_head));
        dest->pending.append(body.substr(skip - from_head));
      }
    });
    if (plain) {
      if (!dest->pending.empty()) flush_file(svc, *dest);
      return;
    }
  }
  if (!dest && !watch_ready && !followed) {
    bool plain = splitter.feed_plain(std::string_view(data, len), [&](std::string_view head, std::string_view body) {
      svc.ring.push_lines(ts, is_stderr, head, body);
      Log::service_lines(svc.cfg.name, is_stderr, head, body, ts);
    });
    if (plain) {
      if (!log_held_ && Log::backlogged()) hold_log_output();
      return;
    }
  }
  splitter.feed(std::string_view(data, len), [&](std::string_view line) {
    const bool cut = splitter.cut();  // a piece of a line past the bound: marked, never a byte lost
    check_log_ready(svc, line);
    if (followed) publish_log_line(svc, LogLine{ts, is_stderr, std::string(line), cut});
    svc.ring.push(ts, is_stderr, line, cut);
    if (dest) {  // the file gets the line whole: no mark, no '\n' inside it
      if (svc.cfg.log.timestamps && !splitter.continues()) {
        append_utc_timestamp(dest->pending, ts);
        dest->pending.push_back(' ');
      }
      dest->pending.append(line);
      if (!cut) dest->pending.push_back('\n');
    } else {
      Log::service_line(svc.cfg.name, is_stderr, line, ts, cut);
    }
  });
  if (dest) flush_file(svc, *dest);
  else if (!log_held_ && Log::backlogged()) hold_log_output();
}

// Write f.pending; on failure keep the rest, hold the service's output back
// and retry on its timer. Returns whether everything was written.
bool Supervisor::flush_file(ServiceRunner& svc, ServiceFile& f) {
  if (!f || f.pending.empty()) return true;
  auto w = f.file->write(f.pending);
  f.pending.erase(0, w.written);
  if (w.ok() || w.error->code == Code::IoRotate) {
    tell_rotation(w, *f.file, svc.cfg.name);
    if (svc.file_error_told && svc.out_file.pending.empty() && svc.err_file.pending.empty()) {
      svc.file_error_told = false;
      Log::write(LogLevel::Info, fmt::format("{} is writable again; output resumed", f.file->path()),
                 svc_fields(svc.cfg.name));
    }
    update_reading(svc);
    return true;
  }
  if (!svc.file_error_told) {  // once per outage, not once per retry
    svc.file_error_told = true;
    Log::write(LogLevel::Error, fmt::format("{}; output held back, retrying every {} ms", w.error->message, kFileRetryMs),
               svc_fields(svc.cfg.name, 0, w.error->code));
  }
  if (svc.file_retry_due == 0) {
    svc.file_retry_due = now() + kFileRetryMs;
    rearm(svc);
  }
  update_reading(svc);
  return false;
}

void Supervisor::flush_service_file(ServiceRunner& svc) {
  flush_file(svc, svc.out_file);
  flush_file(svc, svc.err_file);
}

// ---- holding output back ---------------------------------------------------

bool Supervisor::may_read(const ServiceRunner& svc) const {
  if (svc.to_file()) return svc.out_file.pending.empty() && svc.err_file.pending.empty();
  return !log_held_;
}

void Supervisor::update_reading(ServiceRunner& svc) {
  bool want = may_read(svc);
  if (want == svc.reading) return;
  svc.reading = want;
  for (UvPipe* pipe : {&svc.out, &svc.err}) {
    if (!*pipe) continue;
    auto* stream = reinterpret_cast<uv_stream_t*>(pipe->get());
    if (want) uv_read_start(stream, alloc_cb, read_cb);
    else uv_read_stop(stream);
  }
}

void Supervisor::hold_log_output() {
  log_held_ = true;
  for (auto& s : services_)
    if (!s->to_file()) update_reading(*s);
}

void Supervisor::resume_log_output() {
  log_drained_ = false;
  if (!log_held_ || Log::backlogged()) return;
  log_held_ = false;
  for (auto& s : services_)
    if (!s->to_file()) update_reading(*s);
}

// Read what the pipes hold right now into the output path (they are about to
// be closed without EOF, perhaps while held back): the lines are kept.
void Supervisor::drain_pipes_now(ServiceRunner& svc) {
  for (UvPipe* pipe : {&svc.out, &svc.err}) {
    if (!*pipe) continue;
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(pipe->get()), &fd) != 0) continue;
    const bool is_stderr = pipe == &svc.err;
    std::size_t total = 0;
    while (total < kDrainAtClose) {
      ssize_t n = ::read(fd, g_read_buf, sizeof g_read_buf);  // libuv made it non-blocking
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
      on_output(svc, is_stderr, g_read_buf, static_cast<std::size_t>(n));
    }
    if ((is_stderr ? svc.err_split : svc.out_split).has_partial()) on_output(svc, is_stderr, "\n", 1);
  }
}

void Supervisor::close_streams(ServiceRunner& svc) {
  drain_pipes_now(svc);
  for (auto* pipe : {&svc.out, &svc.err})
    if (*pipe) pipe->close();
  svc.reading = false;
}

}  // namespace procd
