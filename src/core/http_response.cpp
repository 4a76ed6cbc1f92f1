// HttpResponseParser (procd/http_response.hpp): the http-parser callbacks
// only record what happened (headers ended with a status, the message
// ended); feed() and finish() turn that and the parser's errno into the one
// Outcome. The byte budget is enforced before http-parser sees the bytes,
// so nothing past `limit` is ever parsed.
#include "procd/http_response.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace procd {
namespace {

HttpResponseParser* owner(http_parser* p) { return static_cast<HttpResponseParser*>(p->data); }

std::string size_text(std::size_t n) { return n % 1024 == 0 ? fmt::format("{} KiB", n / 1024) : fmt::format("{} bytes", n); }

// 1xx other than 101 (Switching Protocols, which ends HTTP on the connection)
// announce that the final response follows.
bool is_interim(unsigned status) { return status / 100 == 1 && status != 101; }

}  // namespace

HttpResponseParser::HttpResponseParser(std::size_t limit) : limit_(limit) {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  settings_.on_headers_complete = [](http_parser* p) {
    HttpResponseParser* self = owner(p);
    if (p->status_code < 100) {  // http-parser takes "HTTP/1.1 2"; a status code has 3 digits
      self->bad_status_ = true;
      return -1;
    }
    self->headers_done_ = true;
    self->status_ = p->status_code;
    return 0;
  };
  settings_.on_message_complete = [](http_parser* p) {
    HttpResponseParser* self = owner(p);
    if (is_interim(self->status_)) {  // wait for the final response
      self->headers_done_ = false;
      self->status_ = 0;
      return 0;
    }
    self->message_done_ = true;
    return 1;  // stop: anything after the response is not ours to read
  };
}

const HttpResponseParser::Outcome& HttpResponseParser::feed(std::string_view bytes) {
  if (outcome_.state != State::NeedMore || bytes.empty()) return outcome_;
  const std::size_t offered = std::min(bytes.size(), limit_ - consumed_);
  std::size_t parsed = offered == 0 ? 0 : http_parser_execute(&parser_, &settings_, bytes.data(), offered);
  consumed_ += parsed;
  if (message_done_ || (parser_.upgrade && headers_done_)) {
    outcome_.state = State::Complete;
    outcome_.status = status_;
  } else if (bad_status_) {
    fail(fmt::format("invalid HTTP response: status code {} is not 3 digits", static_cast<unsigned>(parser_.status_code)));
  } else if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
    fail(fmt::format("invalid HTTP response: {}", http_errno_description(HTTP_PARSER_ERRNO(&parser_))));
  } else if (offered < bytes.size()) {
    fail(fmt::format("response exceeds {}", size_text(limit_)));
  }
  return outcome_;
}

const HttpResponseParser::Outcome& HttpResponseParser::finish() {
  if (outcome_.state != State::NeedMore) return outcome_;
  http_parser_execute(&parser_, &settings_, nullptr, 0);  // EOF: ends a body framed by the close
  if (message_done_) {
    outcome_.state = State::Complete;
    outcome_.status = status_;
  } else if (consumed_ == 0) {
    fail("closed the connection before a response");
  } else if (!headers_done_) {
    fail("closed the connection before the response headers ended");
  } else {
    fail("closed the connection before the response body ended");
  }
  return outcome_;
}

void HttpResponseParser::fail(std::string reason) {
  outcome_.state = State::Malformed;
  outcome_.status = 0;
  outcome_.reason = std::move(reason);
}

}  // namespace procd
