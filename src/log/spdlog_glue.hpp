// procd's side of spdlog, for logging.cpp only: the level words and colors,
// the line formatter of procd's own messages (text: timestamp, padded level,
// payload; JSON: the payload is already an object) and the sink that puts
// each formatted message into the output queue.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>

#include "procd/log_format.hpp"
#include "procd/logging.hpp"

namespace procd::log_detail {

inline spdlog::level::level_enum to_spd(LogLevel l) {
  switch (l) {
    case LogLevel::Trace: return spdlog::level::trace;
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

inline const char* level_word(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "TRACE";
    case spdlog::level::debug: return "DEBUG";
    case spdlog::level::info: return "INFO ";
    case spdlog::level::warn: return "WARN ";
    case spdlog::level::err: return "ERROR";
    default: return "CRIT ";
  }
}

inline const char* level_color(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "\033[2m";
    case spdlog::level::warn: return "\033[33m";
    case spdlog::level::err: return "\033[31m";
    default: return "\033[32m";
  }
}

inline void append_timestamp(std::chrono::system_clock::time_point tp, spdlog::memory_buf_t& out) {
  static LineStamp stamp;
  auto sv = stamp.at(std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count());
  out.append(sv.data(), sv.data() + sv.size());
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

// Formats procd's own messages into the output queue.
class QueueSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit QueueSink(std::function<void(const spdlog::memory_buf_t&, bool urgent)> put) : put_(std::move(put)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    buf_.clear();
    formatter_->format(msg, buf_);
    put_(buf_, msg.level >= spdlog::level::warn);
  }
  void flush_() override {}

 private:
  std::function<void(const spdlog::memory_buf_t&, bool)> put_;
  spdlog::memory_buf_t buf_;
};

}  // namespace procd::log_detail
