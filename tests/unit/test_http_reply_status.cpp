// HttpReplyReader in Status mode: the http health check's reply reader (the
// whole reply read, body discarded, only the status kept; 64 KiB in all),
// fed as a socket would feed it (whole, byte by byte, cut short, oversized).
#include <doctest/doctest.h>

#include <string>

#include "procd/http_reply_reader.hpp"

using procd::HttpReplyLimits;
using procd::HttpReplyReader;
using State = HttpReplyReader::State;
using Mode = HttpReplyReader::Mode;

namespace {

// Feeds `text` one byte at a time; returns the state and checks that it was
// NeedMore before the last byte.
State feed_bytewise(HttpReplyReader& r, const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const State s = r.feed(std::string_view(text).substr(i, 1));
    if (s != State::NeedMore) {
      CHECK_MESSAGE(i + 1 == text.size(), "decided early, at byte ", i);
      return s;
    }
  }
  return r.state();
}

}  // namespace

TEST_CASE("http reply status: a whole reply, the status line's code, no body kept") {
  struct Case {
    std::string text;
    unsigned status;
  };
  for (const auto& c : {Case{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200},
                        Case{"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown", 503},
                        Case{"HTTP/1.1 204 No Content\r\n\r\n", 204},
                        Case{"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n", 304},
                        Case{"HTTP/1.1 404 \r\nContent-Length: 2\r\n\r\nno", 404},
                        Case{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201},
                        Case{"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
                             "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 1\r\n\r\nx",
                             502},
                        // 101 ends HTTP on the connection: it is the final reply, not an interim one
                        Case{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi", 101},
                        Case{"HTTP/1.1 101 Switching Protocols\r\n\r\n", 101}}) {
    CAPTURE(c.text);
    HttpReplyReader r(Mode::Status);
    REQUIRE(r.feed(c.text) == State::Complete);
    CHECK(r.status() == c.status);
    CHECK(r.reason().empty());
    CHECK(r.body().empty());
    CHECK(r.lines().empty());
  }
}

TEST_CASE("http reply status: split byte by byte, the verdict comes with the last byte") {
  const std::string text =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nX-A: b\r\n\r\n{\"ok\":true}";
  HttpReplyReader r(Mode::Status);
  REQUIRE(feed_bytewise(r, text) == State::Complete);
  CHECK(r.status() == 200);
  CHECK(r.consumed() == text.size());
  CHECK(r.body().empty());
}

TEST_CASE("http reply status: a chunked body ends at its last chunk") {
  const std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  {
    HttpReplyReader r(Mode::Status);
    CHECK(r.feed(text) == State::Complete);
    CHECK(r.status() == 200);
  }
  {
    HttpReplyReader r(Mode::Status);
    CHECK(feed_bytewise(r, text) == State::Complete);
  }
  {
    HttpReplyReader r(Mode::Status);  // cut after the first chunk
    CHECK(r.feed(text.substr(0, text.find("6;"))) == State::NeedMore);
    CHECK(r.finish() == State::Malformed);
    CHECK(r.reason() == "closed the connection before the response body ended");
  }
  {
    HttpReplyReader r(Mode::Status);  // a chunk size that is not hex
    CHECK(r.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == State::Malformed);
    CHECK(r.reason().find("invalid HTTP response") == 0);
  }
}

TEST_CASE("http reply status: a body framed by the close completes at the close") {
  HttpReplyReader r(Mode::Status);
  CHECK(r.feed("HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nmoved") == State::NeedMore);
  CHECK(r.feed(" elsewhere") == State::NeedMore);
  REQUIRE(r.finish() == State::Complete);
  CHECK(r.status() == 302);
  CHECK(r.body().empty());
}

TEST_CASE("http reply status: the connection closed before the head ended") {
  {
    HttpReplyReader r(Mode::Status);
    CHECK(r.finish() == State::Malformed);
    CHECK(r.reason() == "closed the connection before a response");
  }
  for (const char* partial : {"H", "HTTP/1.1 200", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
                              "HTTP/1.1 100 Continue\r\n\r\n"}) {
    CAPTURE(partial);
    HttpReplyReader r(Mode::Status);
    CHECK(r.feed(partial) == State::NeedMore);
    CHECK(r.finish() == State::Malformed);
    CHECK(r.reason() == "closed the connection before the response headers ended");
  }
  {
    HttpReplyReader r(Mode::Status);  // Content-Length promised more than came
    CHECK(r.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") == State::NeedMore);
    CHECK(r.finish() == State::Malformed);
    CHECK(r.reason() == "closed the connection before the response body ended");
  }
}

TEST_CASE("http reply status: garbage is malformed, with the parser's reason") {
  for (std::string junk : {"SSH-2.0-OpenSSH_9.2\r\n", "\x16\x03\x01\x02\x00\x01", "HTTP/1.1 abc OK\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "HTTP/9 200 OK\r\n\r\n", "<html>hi</html>",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                           // found by fuzz_health_http: http-parser takes a 1- or 2-digit status
                           "HTTP/1.1 2\n\n", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n"}) {
    CAPTURE(junk);
    HttpReplyReader r(Mode::Status);
    CHECK(r.feed(junk) == State::Malformed);
    CHECK(r.reason().find("invalid HTTP response: ") == 0);
    CHECK(r.reason().size() > std::string("invalid HTTP response: ").size());
  }
  HttpReplyReader r(Mode::Status);
  CHECK(r.feed("HTTP/1.1 20 OK\r\n\r\n") == State::Malformed);
  CHECK(r.reason() == "invalid HTTP response: status code 20 is not 3 digits");
}

TEST_CASE("http reply status: 64 KiB in all, head and body; at the limit and one past it") {
  const HttpReplyLimits d = HttpReplyReader::default_limits(Mode::Status);
  CHECK(d.head == 64 * 1024);
  CHECK(d.total == 64 * 1024);
  const std::string status = "HTTP/1.1 200 OK\r\n";
  {
    // a head of exactly 64 KiB is read; one byte more is refused
    const std::string start = status + "Content-Length: 0\r\nX: ";
    std::string head = start + std::string(d.head - start.size() - 4, 'h') + "\r\n\r\n";
    REQUIRE(head.size() == d.head);
    HttpReplyReader at(Mode::Status);
    CHECK(feed_bytewise(at, head) == State::Complete);
    CHECK(at.status() == 200);
    HttpReplyReader past(Mode::Status);
    CHECK(past.feed(start + "h" + head.substr(start.size())) == State::Malformed);
    CHECK(past.reason() == "response headers exceed 64 KiB");
    CHECK(past.consumed() <= d.head);
  }
  {
    HttpReplyReader r(Mode::Status);  // endless headers
    const std::string line = "X-Filler: " + std::string(100, 'a') + "\r\n";
    State s = r.feed(status);
    while (s == State::NeedMore && r.consumed() < 2 * d.head) s = r.feed(line);
    CHECK(s == State::Malformed);
    CHECK(r.reason() == "response headers exceed 64 KiB");
    CHECK(r.consumed() <= d.head);
  }
  {
    // the body counts too: head + body of exactly 64 KiB is read, one byte more is not
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 65494\r\n\r\n";
    const std::string body(d.total - head.size(), 'x');
    REQUIRE(body.size() == 65494);
    HttpReplyReader at(Mode::Status);
    CHECK(at.feed(head + body) == State::Complete);
    CHECK(at.consumed() == d.total);
    CHECK(at.body().empty());
    HttpReplyReader past(Mode::Status);
    CHECK(past.feed("HTTP/1.1 200 OK\r\nContent-Length: 65495\r\n\r\n" + body + "x") == State::Malformed);
    CHECK(past.reason() == "response exceeds 64 KiB");
    CHECK(past.consumed() <= d.total);
    HttpReplyReader close_framed(Mode::Status);  // a body until the close, past the limit
    CHECK(close_framed.feed("HTTP/1.0 200 OK\r\n\r\n" + std::string(100000, 'x')) == State::Malformed);
    CHECK(close_framed.reason() == "response exceeds 64 KiB");
  }
  {
    const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    HttpReplyLimits exact = d;
    exact.total = text.size();
    HttpReplyReader at(Mode::Status, exact);  // exactly at a smaller limit is fine
    CHECK(at.feed(text) == State::Complete);
    HttpReplyLimits under = d;
    under.total = text.size() - 1;
    HttpReplyReader past(Mode::Status, under);
    CHECK(past.feed(text) == State::Malformed);
    CHECK(past.reason() == "response exceeds " + std::to_string(text.size() - 1) + " bytes");
  }
}

TEST_CASE("http reply status: the state is final; bytes after the reply are ignored") {
  HttpReplyReader r(Mode::Status);
  CHECK(r.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 X\r\n\r\n") == State::Complete);
  CHECK(r.status() == 200);
  CHECK(r.feed("more garbage") == State::Complete);
  CHECK(r.finish() == State::Complete);
  CHECK(r.status() == 200);
  HttpReplyReader bad(Mode::Status);
  CHECK(bad.feed("garbage") == State::Malformed);
  CHECK(bad.feed("HTTP/1.1 200 OK\r\n\r\n") == State::Malformed);
  CHECK(bad.finish() == State::Malformed);
  CHECK(bad.reason().find("invalid HTTP response") == 0);
}
