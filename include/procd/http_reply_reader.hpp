// HttpReplyReader: one HTTP/1.x reply as `procd top --http` reads it (a
// /status or a POST's JSON, or a stream: /events as server-sent events,
// /logs?follow=1 as JSON lines), fed in whatever pieces the socket delivers;
// http-parser underneath decodes Content-Length, chunked encoding and a
// body that runs until the close. Pure: no I/O, unit tested. Invariants:
//  * the head (status line and headers) is at most limits.head bytes;
//  * Whole: the body is kept, at most limits.body bytes;
//    Lines: the body is cut at '\n' into lines (a trailing '\r' dropped),
//    each at most limits.line bytes; nothing else is kept;
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
};

class HttpReplyReader {
 public:
  enum class Mode { Whole, Lines };
  enum class State { NeedMore, Complete, Malformed };

  explicit HttpReplyReader(Mode mode, HttpReplyLimits limits = {});
  HttpReplyReader(const HttpReplyReader&) = delete;
  HttpReplyReader& operator=(const HttpReplyReader&) = delete;

  State feed(std::string_view bytes);
  // The peer closed the connection.
  State finish();

  State state() const { return state_; }
  bool head_done() const { return head_done_; }
  unsigned status() const { return status_; }  // once head_done()
  const std::string& reason() const { return reason_; }
  std::string& body() { return body_; }  // Whole; empty once Malformed
  // Lines: the complete lines so far, oldest first (the caller pops them).
  std::deque<std::string>& lines() { return lines_; }

 private:
  void fail(std::string reason);
  void add_body(const char* at, std::size_t n);

  Mode mode_;
  HttpReplyLimits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  State state_ = State::NeedMore;
  bool head_done_ = false, done_ = false, too_long_ = false;
  unsigned status_ = 0;
  std::size_t head_bytes_ = 0;
  std::string reason_, body_, partial_;
  std::deque<std::string> lines_;
};

}  // namespace procd
