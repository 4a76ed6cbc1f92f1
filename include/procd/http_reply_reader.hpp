// HttpReplyReader: one HTTP/1.x reply, fed in whatever pieces the socket
// delivers; http-parser underneath decodes Content-Length, chunked encoding
// and a body that runs until the close. Pure: no I/O, unit tested and
// fuzzed (fuzz_http_reply). Its users:
//  * `procd top --http` and `procd probe` (src/cli/http_client): Whole (a
//    /status or a POST's JSON) or Lines (a stream: /events as server-sent
//    events, /logs?follow=1 as JSON lines);
//  * the daemon's http health check (src/daemon/health_http.cpp): Status.
// Invariants:
//  * the head (status line and headers) is at most limits.head bytes, and
//    with limits.total the whole reply (head and body) at most that: nothing
//    past a bound is parsed;
//  * a status code has 3 digits (http-parser alone takes "HTTP/1.1 2");
//  * interim 1xx replies (100 Continue, 103 Early Hints) are skipped: the
//    status is the final reply's; 101 (Switching Protocols, which ends HTTP
//    on the connection) is final;
//  * Whole: the body is kept, at most limits.body bytes;
//    Lines: the body is cut at '\n' into lines (a trailing '\r' dropped),
//    each at most limits.line bytes; nothing else is kept;
//    Status: the body is read to its end and discarded; only the status is
//    kept, and it counts once the reply is Complete;
//  * past a bound, on a parse error or a cut-short reply: Malformed for
//    good with a reason naming what was wrong; later input is ignored.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

namespace procd {

struct HttpReplyLimits {
  std::size_t head = 16 * 1024;
  std::size_t body = 16 * 1024 * 1024;  // Whole: as a control reply line (kMaxReplyBytes)
  std::size_t line = 1024 * 1024;       // Lines: one event or log item
  std::size_t total = 0;                // head and body together; 0: no such bound
};

class HttpReplyReader {
 public:
  enum class Mode { Whole, Lines, Status };
  enum class State { NeedMore, Complete, Malformed };

  // Whole and Lines: HttpReplyLimits{} (head 16 KiB, body 16 MiB, line
  // 1 MiB); Status: 64 KiB in all, head and body.
  static HttpReplyLimits default_limits(Mode mode);

  explicit HttpReplyReader(Mode mode) : HttpReplyReader(mode, default_limits(mode)) {}
  HttpReplyReader(Mode mode, HttpReplyLimits limits);
  HttpReplyReader(const HttpReplyReader&) = delete;
  HttpReplyReader& operator=(const HttpReplyReader&) = delete;

  State feed(std::string_view bytes);
  // The peer closed the connection: completes a body that runs until the
  // close, otherwise the reply is cut short (Malformed).
  State finish();

  State state() const { return state_; }
  bool head_done() const { return head_done_; }
  unsigned status() const { return status_; }  // once head_done()
  const std::string& reason() const { return reason_; }
  std::size_t consumed() const { return consumed_; }  // bytes parsed, head and body
  std::string& body() { return body_; }  // Whole; empty once Malformed
  // Lines: the complete lines so far, oldest first (the caller pops them).
  std::deque<std::string>& lines() { return lines_; }

 private:
  void fail(std::string reason);
  void add_body(const char* at, std::size_t n);
  void complete();

  Mode mode_;
  HttpReplyLimits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  State state_ = State::NeedMore;
  bool head_done_ = false, done_ = false, too_long_ = false, bad_status_ = false;
  unsigned status_ = 0;
  std::size_t head_bytes_ = 0, consumed_ = 0;
  std::string reason_, body_, partial_;
  std::deque<std::string> lines_;
};

}  // namespace procd
