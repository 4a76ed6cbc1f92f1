// procd's own log. procd's messages go through spdlog (a formatter and sink
// of ours produce the SPEC's line shapes); lines of service output skip it
// and are formatted straight into the output queue (log_format.hpp). Both
// end in one LogOutput (log_output.hpp), so their order is kept.
//
// While a loop is attached nothing here blocks: the output's writer thread
// writes (waiting for a slow reader, retrying a full disk), flush() only
// hands it the last lines, and the Supervisor pauses service output while
// backlogged() (resumed by the on_drained callback, through a uv_async). Service lines are never dropped;
// procd's own messages are dropped (and counted, and the count logged) only
// past kHardCap, which paused service output keeps out of reach in practice.
// Without a loop (the CLI, before the loop starts, after it ends) flush()
// waits for the reader, giving up after 10 s without progress.
#include "procd/logging.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "procd/log_format.hpp"
#include "procd/log_output.hpp"
#include "procd/output.hpp"
#include "procd/uv_handle.hpp"
#include "spdlog_glue.hpp"

namespace procd {
namespace {

using namespace log_detail;


constexpr std::size_t kHardCap = 64 * 1024 * 1024;
constexpr int kExitStallMs = 10000;

struct State {
  std::shared_ptr<spdlog::logger> logger;
  std::unique_ptr<LogOutput> out;
  ServiceLineFormat line_format;
  LineStamp stamp;
  LineFrame frame;  // service_lines(): the batch's shared prefix
  // Attached to a loop (the supervisor).
  uv_loop_t* loop = nullptr;
  UvHandle<uv_async_t> woken;  // the writer thread's "backlog drained"
  std::function<void()> on_drained;
  bool backlog_seen = false;  // backlogged() said yes; on_drained is owed
  std::size_t dropped = 0;    // own messages dropped past kHardCap
};

State& state() {
  static State s;
  return s;
}

void drive();

void put_own(const spdlog::memory_buf_t& line, bool urgent) {
  auto& st = state();
  if (st.out->pending() >= kHardCap) {
    ++st.dropped;
    return;
  }
  st.out->append(std::string_view(line.data(), line.size()));
  if (urgent && !st.loop) drive();
}

// What a smaller backlog allows: resume held-back services, say what was dropped.
void after_progress(State& st) {
  if (st.backlog_seen && st.out->pending() < LogOutput::kLowWater) {
    st.backlog_seen = false;
    if (st.on_drained) st.on_drained();
  }
  if (st.dropped && st.out->pending() < LogOutput::kLowWater) {
    std::size_t n = std::exchange(st.dropped, 0);
    Log::write(LogLevel::Warn, fmt::format("{} of procd's own log messages were dropped while its output was blocked", n),
               code_fields(Code::IoWrite));
  }
}

// Write what can be written now; wait (poll, timer) for the rest when attached.
void drive() {
  auto& st = state();
  if (!st.out) return;
  auto progress = st.out->write_some();
  if (st.out->threaded()) {  // attached: the writer thread writes, waits and retries
    after_progress(st);
    return;
  }
  // No loop (the CLI, before or after the supervisor's loop): wait here.
  if (progress == LogOutput::Progress::Again || progress == LogOutput::Progress::Failed)
    st.out->flush_blocking(kExitStallMs);
}

void wake_loop() {
  auto& st = state();
  if (st.woken) uv_async_send(st.woken.get());  // thread-safe
}

void start_writer() { state().out->start_writer(wake_loop); }

void install(std::unique_ptr<LogOutput> out, bool json, bool color, LogLevel level) {
  auto& st = state();
  if (st.out) {
    if (out) {
      // The new destination takes the old one's backlog first: nothing lost, no wait.
      bool threaded = st.out->threaded();
      st.out->stop_writer();
      while (st.out->pending() > 0) {
        std::string_view data = st.out->front();
        out->append(data);
        st.out->discard(data.size());
      }
      st.out = std::move(out);
      if (threaded) start_writer();
    }
  } else {
    st.out = out ? std::move(out) : LogOutput::to_stderr();
  }
  auto sink = std::make_shared<QueueSink>(put_own);
  sink->set_formatter(std::make_unique<LineFormatter>(json, color));
  // A terminal gets no control byte of a service's line (a file or pipe gets them as they are).
  const bool tty = !st.out->file() && st.out->fd() >= 0 && ::isatty(st.out->fd()) == 1;
  st.line_format = ServiceLineFormat{json, color, tty && !json};
  st.logger = std::make_shared<spdlog::logger>("procd", sink);
  st.logger->set_level(to_spd(level));
  st.logger->flush_on(spdlog::level::off);
}

}  // namespace

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void append_utc_timestamp(std::string& out, std::int64_t wall_ms) {
  static LineStamp stamp;
  out.append(stamp.at(wall_ms));
}

std::string utc_timestamp(std::int64_t wall_ms) {
  std::string out;
  append_utc_timestamp(out, wall_ms);
  return out;
}

void Log::setup_default() { install(nullptr, false, false, LogLevel::Info); }

Result<void> Log::setup(const LoggingConfig& cfg) {
  std::unique_ptr<LogOutput> out;
  if (!cfg.file.empty()) {
    auto file = std::make_unique<RotatingFile>(cfg.file, cfg.max_file_size, cfg.max_files);
    if (auto r = file->open(); !r.ok()) return r.error();
    out = LogOutput::to_file(std::move(file));
  } else if (state().out && state().out->file()) {
    out = LogOutput::to_stderr();  // back from a file to stderr
  }
  bool to_file = out ? out->file() != nullptr : state().out && state().out->file();
  bool color = cfg.color && !cfg.json && !to_file && ::isatty(STDERR_FILENO);
  install(std::move(out), cfg.json, color, cfg.level);
  return {};
}

void Log::apply_level(LogLevel level) {
  if (state().logger) state().logger->set_level(to_spd(level));
}

Result<void> Log::reopen() {
  auto& st = state();
  if (!st.out || !st.out->file()) return {};
  drive();
  bool threaded = st.out->threaded();
  st.out->stop_writer();  // the file is the writer thread's until then
  st.out->write_some();   // what was logged before the signal goes to the old file (a file never blocks)
  auto r = st.out->file()->reopen();
  if (threaded) start_writer();
  return r;
}

void Log::flush() { drive(); }

void Log::attach(uv_loop_t* loop, std::function<void()> on_drained) {
  auto& st = state();
  if (!st.out) setup_default();
  st.loop = loop;
  st.on_drained = std::move(on_drained);
  st.woken.reset(nullptr);
  uv_async_init(loop, st.woken.get(), [](uv_async_t*) { drive(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(st.woken.get()));  // never what keeps the loop alive
  start_writer();
}

void Log::detach() {
  auto& st = state();
  if (st.out) st.out->stop_writer();
  st.woken.close();
  st.loop = nullptr;
  st.on_drained = nullptr;
  st.backlog_seen = false;
  drive();
}

bool Log::backlogged() {
  auto& st = state();
  if (!st.out || !st.out->backlogged()) return false;
  st.backlog_seen = true;
  return true;
}

bool Log::enabled(LogLevel level) {
  if (!state().logger) setup_default();
  return state().logger->should_log(to_spd(level));
}

void Log::write(LogLevel level, std::string_view msg, const LogFields& f) {
  if (!enabled(level)) return;
  auto& st = state();
  if (st.line_format.json) {
    spdlog::memory_buf_t ts;
    append_timestamp(std::chrono::system_clock::now(), ts);
    nlohmann::json j;
    j["ts"] = std::string(ts.data(), ts.size());
    j["level"] = spdlog::level::to_string_view(to_spd(level)).data();
    if (!f.service.empty()) j["service"] = f.service;
    if (!f.stream.empty()) j["stream"] = f.stream;
    if (f.pid) j["pid"] = f.pid;
    if (f.code) j["code"] = static_cast<int>(*f.code);
    j["msg"] = msg;
    st.logger->log(to_spd(level), fmt::runtime("{}"), j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string line;
  if (!f.service.empty()) fmt::format_to(std::back_inserter(line), "{} | ", f.service);
  if (f.code) fmt::format_to(std::back_inserter(line), "error[{}]: ", static_cast<int>(*f.code));
  line.append(msg);
  if (f.pid) fmt::format_to(std::back_inserter(line), " (pid {})", f.pid);
  st.logger->log(to_spd(level), fmt::runtime("{}"), line);
}

void Log::service_line(std::string_view service, bool is_stderr, std::string_view line, std::int64_t wall_ms,
                       bool partial) {
  auto& st = state();
  if (!st.logger) setup_default();
  if (!st.logger->should_log(spdlog::level::info)) return;
  // Hot path (every line a service prints): formatted into the queue as is.
  std::string& tail = st.out->tail();
  append_service_line(tail, st.line_format, st.stamp.at(wall_ms ? wall_ms : wall_clock_ms()), service, is_stderr, line,
                      partial);
  st.out->committed();
  if (!st.out->threaded() && st.out->pending() >= LogOutput::kChunk) drive();
}

void Log::service_lines(std::string_view service, bool is_stderr, std::string_view head, std::string_view body,
                        std::int64_t wall_ms) {
  auto& st = state();
  if (!st.logger) setup_default();
  if (body.empty() || !st.logger->should_log(spdlog::level::info)) return;
  st.frame.set(st.line_format, st.stamp.at(wall_ms), service, is_stderr);
  std::size_t nl = body.find('\n');
  std::string& first = st.out->tail();
  if (head.empty()) {
    st.frame.append(first, body.substr(0, nl));
  } else {
    std::string joined(head);
    joined.append(body.substr(0, nl));
    st.frame.append(first, joined);
  }
  st.out->committed();
  body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);  // a last line without '\n' ends it
  while (!body.empty()) {
    // One tail() per batch of lines: the queue closes a chunk only between appends.
    std::string& tail = st.out->tail();
    const std::size_t stop = tail.size() + LogOutput::kChunk / 4;
    while (!body.empty() && tail.size() < stop) {
      nl = body.find('\n');
      st.frame.append(tail, body.substr(0, nl));
      body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);  // a last line without '\n' ends it
    }
    st.out->committed();
    if (!st.out->threaded() && st.out->pending() >= LogOutput::kChunk) drive();
  }
}

void Log::error(const Error& err, const LogFields& fields) {
  LogFields f = fields;
  f.code = err.code;
  write(LogLevel::Error, err.message, f);
}

}  // namespace procd
