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
#include "procd/service.hpp"
#include "procd/terminal_text.hpp"

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
  if (auto* svc = static_cast<Service*>(stream->data)) svc->on_read(stream, nread, buf->base);
}

}  // namespace

Result<void> Service::watch_output(UvPipe& pipe, int fd) {
  pipe.reset(this);
  uv_pipe_init(host_.loop(), pipe.get(), 0);
  if (int rc = uv_pipe_open(pipe.get(), fd); rc != 0) {
    ::close(fd);
    return make_error(Code::IoPipe, fmt::format("cannot watch output pipe: {}", uv_strerror(rc)));
  }
  return {};
}

void Service::on_read(uv_stream_t* stream, ssize_t nread, const char* data) {
  bool is_stderr = reinterpret_cast<uv_pipe_t*>(stream) == err_.get();
  if (nread > 0) {
    if (nread == kDefaultPipeSize) maybe_grow_pipe(stream);
    on_output(is_stderr, data, static_cast<size_t>(nread));
  } else if (nread < 0) {  // UV_EOF or a read error: the stream is over either way
    // A last line without '\n' is terminated through the normal path, so it
    // reaches the ring, the file and followers like any other line.
    if ((is_stderr ? err_split_ : out_split_).has_partial()) on_output(is_stderr, "\n", 1);
    (is_stderr ? err_ : out_).close();
    on_stream_closed();
  }
}

// ---- destinations -------------------------------------------------------------

void Service::setup_files() {
  const ServiceLogConfig& log = cfg_->log;
  files_.reset();
  if (log.file.empty()) return;
  files_ = std::make_unique<ServiceFiles>();
  files_->out.file = std::make_unique<RotatingFile>(log.file, log.max_file_size, log.max_files);
  if (!log.merge_stderr) {
    std::string err_path = log.stderr_file.empty() ? log.file + ".err" : log.stderr_file;
    files_->err.file = std::make_unique<RotatingFile>(err_path, log.max_file_size, log.max_files);
  }
  for (ServiceFile* f : {&files_->out, &files_->err})  // failed rotations back off on the loop clock
    if (*f) f->file->set_clock([this] { return host_.now(); });
}

void Service::open_files() {
  if (!files_) return;
  for (ServiceFile* f : {&files_->out, &files_->err})
    if (*f)
      if (auto r = f->file->open(); !r.ok()) Log::error(r.error(), svc_fields(cfg_->name));
}

void Service::on_output(bool is_stderr, const char* data, std::size_t len) {
  auto& splitter = is_stderr ? err_split_ : out_split_;
  ServiceFile* dest = to_file() ? &file_for(is_stderr) : nullptr;
  const std::int64_t ts = wall_clock_ms();
  const bool watch_ready = ready_pattern_ && state_.phase == Phase::Starting;  // as check_log_ready
  const bool followed = host_.logs_followed();
  if (dest && !cfg_->log.timestamps && dest->pending.empty() && !watch_ready && !followed) {
    bool plain = splitter.feed_plain(std::string_view(data, len), [&](std::string_view head, std::string_view body) {
      ring_.push_lines(ts, is_stderr, head, body);
      auto w = dest->file->write(head, body);
      tell_rotation(w, *dest->file, cfg_->name);
      if (!w.ok() && w.error->code != Code::IoRotate) {  // keep exactly what was not written; flush_file tells
        std::size_t skip = w.written;
        std::size_t from_head = std::min(skip, head.size());
        dest->pending.append(head.substr(from_head));
        dest->pending.append(body.substr(skip - from_head));
      }
    });
    if (plain) {
      if (!dest->pending.empty()) flush_file(*dest);
      return;
    }
  }
  if (!dest && !watch_ready && !followed) {
    bool plain = splitter.feed_plain(std::string_view(data, len), [&](std::string_view head, std::string_view body) {
      ring_.push_lines(ts, is_stderr, head, body);
      Log::service_lines(cfg_->name, is_stderr, head, body, ts);
    });
    if (plain) {
      if (!host_.own_log_held() && Log::backlogged()) host_.own_log_backlogged();
      return;
    }
  }
  put_lines(splitter, is_stderr, std::string_view(data, len), {});
}

// The per-line path, for the run's output and for its hooks' (`hook`: the
// hook's name, empty for the run): each line to the ring, followers and the
// destination, then the destination's back-pressure is judged (may_read), so
// a hook's pipes are held back exactly as the run's. A hook's line is marked:
// "stream":"hook" in the ring, `* pre_start: line` in the file,
// `NAME | pre_start: line` in procd's own log.
void Service::put_lines(LineSplitter& splitter, bool is_stderr, std::string_view bytes, std::string_view hook) {
  ServiceFile* dest = to_file() ? &file_for(is_stderr) : nullptr;
  const std::int64_t ts = wall_clock_ms();
  const bool followed = host_.logs_followed();
  const bool is_hook = !hook.empty();
  splitter.feed(bytes, [&](std::string_view line) {
    const bool cut = splitter.cut();  // a piece of a line past the bound: marked, never a byte lost
    if (!is_hook) check_log_ready(line);
    if (followed) host_.log_line(*this, LogLine{ts, is_stderr, std::string(line), cut, false, is_hook});
    if (is_hook) ring_.push(LogLine{ts, is_stderr, std::string(line), cut, false, true});
    else ring_.push(ts, is_stderr, line, cut);
    if (dest) {  // the file gets the line whole: no mark, no '\n' inside it
      if (!splitter.continues()) {
        if (cfg_->log.timestamps) {
          append_utc_timestamp(dest->pending, ts);
          dest->pending.push_back(' ');
        }
        if (is_hook) dest->pending.append("* ").append(hook).append(": ");
      }
      dest->pending.append(line);
      if (!cut) dest->pending.push_back('\n');
    } else if (is_hook) {
      Log::service_line(cfg_->name, is_stderr, fmt::format("{}: {}", hook, line), ts, cut);
    } else {
      Log::service_line(cfg_->name, is_stderr, line, ts, cut);
    }
  });
  if (dest) flush_file(*dest);
  else if (!host_.own_log_held() && Log::backlogged()) host_.own_log_backlogged();
}

// Write f.pending; on failure keep the rest, hold the service's output back
// and retry on its timer. Returns whether everything was written.
bool Service::flush_file(ServiceFile& f) {
  if (!f || f.pending.empty()) return true;
  auto w = f.file->write(f.pending);
  f.pending.erase(0, w.written);
  if (w.ok() || w.error->code == Code::IoRotate) {
    tell_rotation(w, *f.file, cfg_->name);
    if (files_->error_told && files_->out.pending.empty() && files_->err.pending.empty()) {
      files_->error_told = false;
      Log::write(LogLevel::Info, fmt::format("{} is writable again; output resumed", f.file->path()),
                 svc_fields(cfg_->name));
    }
    update_reading();
    return true;
  }
  if (!files_->error_told) {  // once per outage, not once per retry
    files_->error_told = true;
    Log::write(LogLevel::Error, fmt::format("{}; output held back, retrying every {} ms", w.error->message, kFileRetryMs),
               svc_fields(cfg_->name, 0, w.error->code));
  }
  if (files_->retry_due == 0) {
    files_->retry_due = host_.now() + kFileRetryMs;
    rearm();
  }
  update_reading();
  return false;
}

void Service::flush_files() {
  if (!files_) return;
  flush_file(files_->out);
  flush_file(files_->err);
}

void Service::reopen_files() {
  flush_files();
  if (!files_) return;
  for (ServiceFile* f : {&files_->out, &files_->err})
    if (*f)
      if (auto r = f->file->reopen(); !r.ok()) Log::error(r.error(), svc_fields(cfg_->name));
}

// ---- holding output back ---------------------------------------------------

bool Service::may_read() const {
  if (files_) return files_->out.pending.empty() && files_->err.pending.empty();
  return !host_.own_log_held();
}

void Service::update_reading() {
  bool want = may_read();
  hooks_reading(want);
  if (want == reading_) return;
  reading_ = want;
  for (UvPipe* pipe : {&out_, &err_}) {
    if (!*pipe) continue;
    auto* stream = reinterpret_cast<uv_stream_t*>(pipe->get());
    if (want) uv_read_start(stream, alloc_cb, read_cb);
    else uv_read_stop(stream);
  }
}

// Read what the pipes hold right now into the output path (they are about to
// be closed without EOF, perhaps while held back): the lines are kept.
void Service::drain_pipes_now() {
  for (UvPipe* pipe : {&out_, &err_}) {
    if (!*pipe) continue;
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(pipe->get()), &fd) != 0) continue;
    const bool is_stderr = pipe == &err_;
    std::size_t total = 0;
    while (total < kDrainAtClose) {
      ssize_t n = ::read(fd, g_read_buf, sizeof g_read_buf);  // libuv made it non-blocking
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
      on_output(is_stderr, g_read_buf, static_cast<std::size_t>(n));
    }
    if ((is_stderr ? err_split_ : out_split_).has_partial()) on_output(is_stderr, "\n", 1);
  }
}

void Service::close_streams() {
  drain_pipes_now();
  for (auto* pipe : {&out_, &err_})
    if (*pipe) pipe->close();
  reading_ = false;
}

}  // namespace procd

namespace procd {

void Service::tell(std::string_view text) {
  // One short line: a spawn error's PATH (up to its ')') stays in procd's
  // log; then at most kTellBytes, cut on a character boundary.
  std::string full(text);
  if (auto at = full.find("; not in PATH="); at != std::string::npos)
    full.erase(at, full.find(')', at) == std::string::npos ? std::string::npos : full.find(')', at) - at);
  constexpr std::size_t kTellBytes = 512;
  std::string shown = truncate_bytes(full, kTellBytes);
  LogLine line{wall_clock_ms(), false, std::move(shown), false, true};
  if (host_.logs_followed()) host_.log_line(*this, line);
  ring_.push(std::move(line));
}

}  // namespace procd
