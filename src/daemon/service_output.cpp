// A service's output at the Supervisor's edge: reading its pipes and where
// each line goes. A line goes to
// the service's ring (for `procd logs`) and to its file, or to procd's own
// log as `NAME | line`. File output is batched: one write(2) per pipe read,
// always whole lines, so rotation never splits one.
//
// Fast path (file, timestamps = false, nobody needs each line: no ready
// regex being watched, no `logs -f` follower): the complete-lines part of a
// read goes to the file as is (LineSplitter::feed_plain guarantees it is
// byte for byte what the per-line path would write) and the ring copies only
// the read's last lines. Anything unusual (CRLF, over-long lines, a write
// error being retried) takes the per-line path for that read.
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

void maybe_grow_pipe(uv_stream_t* stream) {
#ifdef F_SETPIPE_SZ
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) != 0) return;
  if (::fcntl(fd, F_GETPIPE_SZ) < kBigPipeSize) ::fcntl(fd, F_SETPIPE_SZ, kBigPipeSize);  // failure: keep it
#else
  (void)stream;
#endif
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
  uv_read_start(reinterpret_cast<uv_stream_t*>(pipe.get()), alloc_cb, read_cb);
  return {};
}

void Supervisor::on_output(ServiceRunner& svc, bool is_stderr, const char* data, size_t len) {
  auto& splitter = is_stderr ? svc.err_split : svc.out_split;
  const bool to_file = svc.file != nullptr;
  const std::int64_t ts = wall_clock_ms();
  const bool watch_ready = svc.ready_regex && svc.state.phase == Phase::Starting;  // as check_log_ready
  const bool followed = control_ && control_->has_streams(ControlConnection::Stream::Logs);
  if (to_file && !svc.cfg.log.timestamps && svc.file_buf.empty() && !watch_ready && !followed) {
    bool plain = splitter.feed_plain(std::string_view(data, len), [&](std::string_view head, std::string_view body) {
      svc.ring.push_lines(ts, is_stderr, head, body);
      if (auto r = svc.file->write(head, body); !r.ok()) {
        Log::error(r.error(), svc_fields(svc.cfg.name));
        // IoRotate: written anyway. Otherwise keep the lines (bounded) for
        // the next flush, as flush_service_file does.
        if (r.error().code != Code::IoRotate && head.size() + body.size() < 16 * 1024 * 1024) {
          svc.file_buf.append(head);
          svc.file_buf.append(body);
        }
      }
    });
    if (plain) return;
  }
  splitter.feed(std::string_view(data, len), [&](std::string_view line) {
    check_log_ready(svc, line);
    if (followed) publish_log_line(svc, LogLine{ts, is_stderr, std::string(line)});
    svc.ring.push(ts, is_stderr, line);
    if (to_file) {
      if (svc.cfg.log.timestamps) {
        append_utc_timestamp(svc.file_buf, ts);
        svc.file_buf.push_back(' ');
      }
      svc.file_buf.append(line);
      svc.file_buf.push_back('\n');
    } else {
      Log::service_line(svc.cfg.name, is_stderr, line);
    }
  });
  if (to_file) flush_service_file(svc);
}

void Supervisor::flush_service_file(ServiceRunner& svc) {
  if (!svc.file || svc.file_buf.empty()) return;
  if (auto r = svc.file->write(svc.file_buf); !r.ok()) {
    Log::error(r.error(), svc_fields(svc.cfg.name));
    // Keep the lines (bounded) so a full disk that frees up loses nothing;
    // IoRotate means they were written (to the current file): writing them
    // again would duplicate them.
    if (r.error().code != Code::IoRotate && svc.file_buf.size() < 16 * 1024 * 1024) return;
  }
  svc.file_buf.clear();
}

void Supervisor::close_streams(ServiceRunner& svc) {
  for (auto* pipe : {&svc.out, &svc.err})
    if (*pipe) pipe->close();
}

}  // namespace procd
