// HttpResponseParser: reads one HTTP/1.x response, as an http health check
// receives it, fed in whatever pieces the socket delivers (http-parser
// underneath; no I/O, no libuv, so it is unit-tested and fuzzed directly).
// Invariants:
//  * the outcome is NeedMore until the response is complete (status line,
//    headers and body, framed by Content-Length, chunked encoding or the
//    peer's close), then Complete or Malformed for good: later input is
//    ignored and the same outcome is returned;
//  * at most `limit` bytes (64 KiB by default; headers and body together)
//    are accepted: a response still incomplete past that is Malformed;
//  * a status code is 3 digits (http-parser alone takes "HTTP/1.1 2");
//  * interim 1xx responses (100 Continue) are skipped: the status reported
//    is that of the final response;
//  * Malformed always carries a reason naming what was wrong.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace procd {

class HttpResponseParser {
 public:
  static constexpr std::size_t kDefaultLimit = 64 * 1024;

  enum class State { NeedMore, Complete, Malformed };
  struct Outcome {
    State state = State::NeedMore;
    unsigned status = 0;  // Complete: the final response's status code
    std::string reason;   // Malformed: why
  };

  explicit HttpResponseParser(std::size_t limit = kDefaultLimit);
  HttpResponseParser(const HttpResponseParser&) = delete;
  HttpResponseParser& operator=(const HttpResponseParser&) = delete;

  // The next bytes received.
  const Outcome& feed(std::string_view bytes);
  // The peer closed the connection: completes a body that runs until the
  // close, otherwise the response is cut short (Malformed).
  const Outcome& finish();

  const Outcome& outcome() const { return outcome_; }
  std::size_t consumed() const { return consumed_; }

 private:
  void fail(std::string reason);

  http_parser parser_{};
  http_parser_settings settings_{};
  std::size_t limit_;
  std::size_t consumed_ = 0;
  bool headers_done_ = false;
  bool message_done_ = false;
  bool bad_status_ = false;
  unsigned status_ = 0;
  Outcome outcome_;
};

}  // namespace procd
