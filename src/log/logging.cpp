// procd's own log. spdlog carries the messages; a small formatter and sink
// of ours produce the SPEC's exact line shapes and buffer output so that a
// fast service writer does not cost one write(2) per line: the buffer is
// written whole lines at a time when it passes 64 KiB and on flush() (the
// supervisor flushes once per loop iteration, before it sleeps).
#include "procd/logging.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "procd/output.hpp"

namespace procd {
namespace {

spdlog::level::level_enum to_spd(LogLevel l) {
  switch (l) {
    case LogLevel::Trace: return spdlog::level::trace;
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

const char* level_word(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "TRACE";
    case spdlog::level::debug: return "DEBUG";
    case spdlog::level::info: return "INFO ";
    case spdlog::level::warn: return "WARN ";
    case spdlog::level::err: return "ERROR";
    default: return "CRIT ";
  }
}

const char* level_color(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "\033[2m";
    case spdlog::level::warn: return "\033[33m";
    case spdlog::level::err: return "\033[31m";
    default: return "\033[32m";
  }
}

// "2026-01-02T03:04:05.678Z"; the second-resolution prefix is cached
// (one strftime per second however many lines are logged).
template <typename Out>
void append_timestamp_ms(std::int64_t ms, Out& out) {
  static thread_local std::time_t cached_sec = -1;
  static thread_local char cached[32];
  std::time_t sec = static_cast<std::time_t>(ms / 1000);
  if (sec != cached_sec) {
    std::tm tm{};
    gmtime_r(&sec, &tm);
    std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_sec = sec;
  }
  fmt::format_to(std::back_inserter(out), "{}.{:03}Z", cached, static_cast<int>(ms % 1000));
}

void append_timestamp(std::chrono::system_clock::time_point tp, spdlog::memory_buf_t& out) {
  append_timestamp_ms(std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count(), out);
}

// Text mode: timestamp, padded upper-case level, payload. JSON mode: the
// payload is already a JSON object (built by Log::write) and goes out as is.
class LineFormatter final : public spdlog::formatter {
 public:
  LineFormatter(bool json, bool color) : json_(json), color_(color) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    if (!json_) {
      append_timestamp(msg.time, dest);
      dest.push_back(' ');
      if (color_) dest.append(std::string_view(level_color(msg.level)));
      dest.append(std::string_view(level_word(msg.level)));
      if (color_) dest.append(std::string_view("\033[0m"));
      dest.push_back(' ');
    }
    dest.append(msg.payload.begin(), msg.payload.end());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LineFormatter>(json_, color_); }

 private:
  bool json_;
  bool color_;
};

// Buffers formatted lines; writes them to stderr or a RotatingFile.
class BufferedSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit BufferedSink(std::unique_ptr<RotatingFile> file) : file_(std::move(file)) {}
  ~BufferedSink() override { flush_(); }
  Result<void> reopen() {
    flush_();
    return file_ ? file_->reopen() : Result<void>{};
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    formatter_->format(msg, buf_);
    if (buf_.size() >= kHighWater || msg.level >= spdlog::level::warn) flush_();
  }
  void flush_() override {
    if (buf_.size() == 0) return;
    std::string_view data(buf_.data(), buf_.size());
    if (file_) {
      auto r = file_->write(data);
      if (!r.ok()) write_stderr(fmt::format("procd: error[{}]: log file {}: {}\n", static_cast<int>(r.error().code),
                                             file_->path(), r.error().message));
    } else {
      write_stderr(data);
    }
    buf_.clear();
  }

 private:
  static void write_stderr(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // stderr gone: nothing better to do with the line
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  static constexpr size_t kHighWater = 64 * 1024;
  std::unique_ptr<RotatingFile> file_;
  spdlog::memory_buf_t buf_;
};

struct State {
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<BufferedSink> sink;
  bool json = false;
};

State& state() {
  static State s;
  return s;
}

void install(std::shared_ptr<BufferedSink> sink, bool json, bool color, LogLevel level) {
  auto& st = state();
  if (st.sink) st.sink->flush();
  sink->set_formatter(std::make_unique<LineFormatter>(json, color));
  st.sink = sink;
  st.json = json;
  st.logger = std::make_shared<spdlog::logger>("procd", sink);
  st.logger->set_level(to_spd(level));
  st.logger->flush_on(spdlog::level::off);
}

}  // namespace

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void append_utc_timestamp(std::string& out, std::int64_t wall_ms) { append_timestamp_ms(wall_ms, out); }

std::string utc_timestamp(std::int64_t wall_ms) {
  std::string out;
  append_timestamp_ms(wall_ms, out);
  return out;
}

void Log::setup_default() { install(std::make_shared<BufferedSink>(nullptr), false, false, LogLevel::Info); }

Result<void> Log::setup(const LoggingConfig& cfg) {
  std::unique_ptr<RotatingFile> file;
  if (!cfg.file.empty()) {
    file = std::make_unique<RotatingFile>(cfg.file, cfg.max_file_size, cfg.max_files);
    if (auto r = file->open(); !r.ok()) return r.error();
  }
  bool color = cfg.color && !cfg.json && !file && ::isatty(STDERR_FILENO);
  install(std::make_shared<BufferedSink>(std::move(file)), cfg.json, color, cfg.level);
  return {};
}

void Log::apply_level(LogLevel level) {
  if (state().logger) state().logger->set_level(to_spd(level));
}

Result<void> Log::reopen() { return state().sink ? state().sink->reopen() : Result<void>{}; }

void Log::flush() {
  if (state().logger) state().logger->flush();
}

bool Log::enabled(LogLevel level) {
  if (!state().logger) setup_default();
  return state().logger->should_log(to_spd(level));
}

void Log::write(LogLevel level, std::string_view msg, const LogFields& f) {
  if (!enabled(level)) return;
  auto& st = state();
  if (st.json) {
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

void Log::service_line(std::string_view service, bool is_stderr, std::string_view line) {
  if (!enabled(LogLevel::Info)) return;
  if (state().json) {
    write(LogLevel::Info, line, LogFields{service, is_stderr ? "stderr" : "stdout", 0, std::nullopt});
    return;
  }
  // Hot path (every line a service prints): no intermediate std::string.
  fmt::memory_buffer buf;
  buf.append(service);
  buf.append(std::string_view(" | "));
  buf.append(line);
  state().logger->log(spdlog::level::info, fmt::runtime("{}"), std::string_view(buf.data(), buf.size()));
}

void Log::error(const Error& err, const LogFields& fields) {
  LogFields f = fields;
  f.code = err.code;
  write(LogLevel::Error, err.message, f);
}

}  // namespace procd
