// HttpReplyReader: see http_reply_reader.hpp. The callbacks append the body
// (Whole), cut it into lines (Lines) or drop it (Status) and refuse past a
// bound by returning non-zero, which stops http-parser; feed() and finish()
// turn the parser's state into the one State. The head's budget and the
// whole reply's are counted before the parser sees the bytes, so an endless
// header or body is never parsed past its bound.
#include "procd/http_reply_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace procd {
namespace {

HttpReplyReader* owner(http_parser* p) { return static_cast<HttpReplyReader*>(p->data); }

std::string size_text(std::size_t n) {
  return n % (1024 * 1024) == 0 ? fmt::format("{} MiB", n >> 20) : n % 1024 == 0 ? fmt::format("{} KiB", n >> 10) : fmt::format("{} bytes", n);
}

// 1xx but 101 (Switching Protocols ends HTTP on the connection) announce
// that the final reply follows.
bool is_interim(unsigned status) { return status / 100 == 1 && status != 101; }

std::size_t left(std::size_t limit, std::size_t used) { return limit - std::min(used, limit); }

}  // namespace

HttpReplyLimits HttpReplyReader::default_limits(Mode mode) {
  HttpReplyLimits l;
  if (mode == Mode::Status) l.head = l.total = 64 * 1024;
  return l;
}

HttpReplyReader::HttpReplyReader(Mode mode, HttpReplyLimits limits) : mode_(mode), limits_(limits) {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  settings_.on_headers_complete = [](http_parser* p) {
    HttpReplyReader* self = owner(p);
    if (p->status_code < 100 || p->status_code > 999) {  // "HTTP/1.1 2": not 3 digits
      self->bad_status_ = true;
      return -1;
    }
    if (is_interim(p->status_code)) return 0;  // the final reply follows
    self->head_done_ = true;
    self->status_ = p->status_code;
    return 0;
  };
  settings_.on_body = [](http_parser* p, const char* at, std::size_t n) {
    HttpReplyReader* self = owner(p);
    self->add_body(at, n);
    return self->too_long_ ? -1 : 0;
  };
  settings_.on_message_complete = [](http_parser* p) {
    HttpReplyReader* self = owner(p);
    if (!self->head_done_) return 0;  // the end of an interim reply
    self->done_ = true;
    return 1;  // anything after the reply is not ours
  };
}

void HttpReplyReader::add_body(const char* at, std::size_t n) {
  if (mode_ == Mode::Status) return;
  if (mode_ == Mode::Whole) {
    if (body_.size() + n > limits_.body) {
      too_long_ = true;
      return fail(fmt::format("response body exceeds {}", size_text(limits_.body)));
    }
    body_.append(at, n);
    return;
  }
  std::string_view rest(at, n);
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view piece = rest.substr(0, nl);
    if (partial_.size() + piece.size() > limits_.line) {
      too_long_ = true;
      return fail(fmt::format("response line exceeds {}", size_text(limits_.line)));
    }
    partial_.append(piece);
    if (nl == std::string_view::npos) break;
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    lines_.push_back(std::move(partial_));
    partial_.clear();
    rest.remove_prefix(nl + 1);
  }
}

void HttpReplyReader::complete() {
  if (mode_ == Mode::Lines && !partial_.empty()) lines_.push_back(std::exchange(partial_, {}));
  state_ = State::Complete;
}

HttpReplyReader::State HttpReplyReader::feed(std::string_view bytes) {
  if (state_ != State::NeedMore || bytes.empty()) return state_;
  std::size_t offered = bytes.size();
  if (limits_.total) offered = std::min(offered, left(limits_.total, consumed_));
  if (!head_done_) offered = std::min(offered, left(limits_.head, head_bytes_));
  std::size_t parsed = offered ? http_parser_execute(&parser_, &settings_, bytes.data(), offered) : 0;
  consumed_ += parsed;
  if (!head_done_) head_bytes_ += parsed;
  if (state_ != State::NeedMore) return state_;  // a bound, from a callback
  if (done_) {
    complete();
  } else if (bad_status_) {
    fail(fmt::format("invalid HTTP response: status code {} is not 3 digits", static_cast<unsigned>(parser_.status_code)));
  } else if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
    fail(fmt::format("invalid HTTP response: {}", http_errno_description(HTTP_PARSER_ERRNO(&parser_))));
  } else if (!head_done_ && head_bytes_ >= limits_.head) {
    fail(fmt::format("response headers exceed {}", size_text(limits_.head)));
  } else if (limits_.total && consumed_ >= limits_.total && offered < bytes.size()) {
    fail(fmt::format("response exceeds {}", size_text(limits_.total)));
  } else if (offered < bytes.size()) {
    return feed(bytes.substr(offered));  // the head ended within its budget: the rest is body
  }
  return state_;
}

HttpReplyReader::State HttpReplyReader::finish() {
  if (state_ != State::NeedMore) return state_;
  http_parser_execute(&parser_, &settings_, nullptr, 0);  // EOF: ends a body framed by the close
  if (state_ != State::NeedMore) return state_;
  if (done_) {
    complete();
  } else if (head_done_) {
    fail("closed the connection before the response body ended");
  } else {
    fail(consumed_ == 0 ? "closed the connection before a response" : "closed the connection before the response headers ended");
  }
  return state_;
}

void HttpReplyReader::fail(std::string reason) {
  state_ = State::Malformed;
  body_.clear();  // not a reply to use (how much of it came depends on the pieces)
  reason_ = std::move(reason);
}

}  // namespace procd
