// procd's own log: text lines
// `2026-01-02T03:04:05.678Z INFO  web | message` or one JSON object a line
// (ts, level, msg, and service, stream, pid, code where they apply); color
// only on a terminal; a file sink with size rotation (RotatingFile) that
// SIGUSR1 can reopen. One logger for the process, single-threaded.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "procd/config.hpp"
#include "procd/error.hpp"

namespace spdlog {
class logger;
}

namespace procd {

struct LogFields {
  std::string_view service;            // empty = procd itself
  std::string_view stream;             // "stdout" | "stderr" | empty
  int pid = 0;                         // 0 = none
  std::optional<Code> code;
};

// Wall clock, milliseconds since the epoch.
std::int64_t wall_clock_ms();
// "2026-01-02T03:04:05.678Z" (UTC, milliseconds) appended to out / returned.
void append_utc_timestamp(std::string& out, std::int64_t wall_ms);
std::string utc_timestamp(std::int64_t wall_ms);

inline LogFields svc_fields(std::string_view service, int pid = 0, std::optional<Code> code = std::nullopt) {
  LogFields f;
  f.service = service;
  f.pid = pid;
  f.code = code;
  return f;
}
inline LogFields code_fields(Code code) { return svc_fields({}, 0, code); }

class Log {
 public:
  // Configure from [logging]. Failing to open the file is an error (IoOpen).
  static Result<void> setup(const LoggingConfig& cfg);
  // Before any config is read: plain stderr at info.
  static void setup_default();
  // Re-apply level/format live (reload); the sink stays.
  static void apply_level(LogLevel level);
  static Result<void> reopen();  // SIGUSR1
  // Write out what the destination takes now (attached), or all of it,
  // waiting for a slow reader up to 10 s without progress (not attached).
  static void flush();

  // While the supervisor's loop runs: output never blocks (see logging.cpp);
  // on_drained runs once a backlog backlogged() reported has drained.
  static void attach(uv_loop_t* loop, std::function<void()> on_drained);
  static void detach();  // before the loop closes; flushes as flush() unattached
  // Too much queued: stop producing service lines until on_drained.
  static bool backlogged();

  static void write(LogLevel level, std::string_view msg, const LogFields& fields = {});
  // A line of service output: `NAME | line` (stdout) or `NAME ! line`
  // (stderr) in text mode; wall_ms 0 = now; partial: a cut piece that the
  // next line continues (`NAME |+piece`, JSON "partial":true). On a terminal
  // (text), the line's control bytes are shown as \xNN.
  static void service_line(std::string_view service, bool is_stderr, std::string_view line, std::int64_t wall_ms = 0,
                           bool partial = false);
  // service_line() for each line of head + body (body empty or ending in
  // '\n'; head: the start of its first line), as LineSplitter::feed_plain gives them.
  static void service_lines(std::string_view service, bool is_stderr, std::string_view head, std::string_view body,
                            std::int64_t wall_ms);
  static void error(const Error& err, const LogFields& fields = {});

  static bool enabled(LogLevel level);
};

}  // namespace procd
