// The line shapes of procd's own log, appended straight to a byte buffer:
// no allocation per line once the buffer is warm, no fmt or JSON library on
// the hot path (every line a service prints goes through here).
//
//   text:  2026-01-02T03:04:05.678Z INFO  web | a line from stdout
//          2026-01-02T03:04:05.678Z INFO  web ! a line from stderr
//   JSON:  {"ts":"…","level":"info","service":"web","stream":"stderr","msg":"…"}
//   a cut piece of a line longer than 64 KiB (the next line continues it):
//          2026-01-02T03:04:05.678Z INFO  web |+the first 64 KiB
//          {…,"msg":"the first 64 KiB","partial":true}
//
// Invariants: every append_* call appends whole lines ending in '\n'; JSON
// output is always valid UTF-8 (invalid input bytes become U+FFFD, as the
// JSON library's "replace" mode does) with every control character escaped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace procd {

// "2026-01-02T03:04:05.678Z" for a wall-clock millisecond, formatted again
// only when the millisecond changes (a read of many lines shares one).
class LineStamp {
 public:
  std::string_view at(std::int64_t wall_ms);

 private:
  std::int64_t ms_ = -1;
  std::int64_t sec_ = -1;
  char text_[32] = {};
  std::size_t len_ = 0;
};

// s as a JSON string literal, quotes included; append_json_body without them.
void append_json_string(std::string& out, std::string_view s);
void append_json_body(std::string& out, std::string_view s);

struct ServiceLineFormat {
  bool json = false;
  bool color = false;   // text only: the level word in color (a terminal)
  bool escape = false;  // text only: a terminal: control bytes of the line shown as \xNN
};

// The parts every line of one service, stream and millisecond shares: a
// batch of lines is framed once, then each line costs two or three appends.
struct LineFrame {
  std::string prefix;  // text: "TS INFO  web | "; JSON: up to the msg's opening quote
  bool json = false;
  bool escape = false;
  void set(const ServiceLineFormat& fmt, std::string_view stamp, std::string_view service, bool is_stderr);
  // One line (without its '\n'). `partial`: a cut piece of a longer line
  // (the next one continues it): text "|+" / "!+" instead of "| " / "! ",
  // JSON "partial":true.
  void append(std::string& out, std::string_view line, bool partial = false) const;
};

// One line of service output (without its '\n') in procd's own log.
void append_service_line(std::string& out, const ServiceLineFormat& fmt, std::string_view stamp,
                         std::string_view service, bool is_stderr, std::string_view line, bool partial = false);

// Whether s is valid UTF-8 (no overlong form, surrogate or value past U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace procd
