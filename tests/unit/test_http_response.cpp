// HttpResponseParser: the http health check's response reader, fed as a
// socket would feed it (whole, byte by byte, cut short, oversized).
#include <doctest/doctest.h>

#include <string>

#include "procd/http_response.hpp"

using procd::HttpResponseParser;
using State = HttpResponseParser::State;

namespace {

// Feeds `text` one byte at a time; returns the outcome and checks that it
// was NeedMore before the last byte.
HttpResponseParser::Outcome feed_bytewise(HttpResponseParser& p, const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto& o = p.feed(std::string_view(text).substr(i, 1));
    if (o.state != State::NeedMore) {
      CHECK_MESSAGE(i + 1 == text.size(), "decided early, at byte ", i);
      return o;
    }
  }
  return p.outcome();
}

}  // namespace

TEST_CASE("http response: a whole response, the status line's code") {
  struct Case {
    std::string text;
    unsigned status;
  };
  for (const auto& c : {Case{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200},
                        Case{"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown", 503},
                        Case{"HTTP/1.1 204 No Content\r\n\r\n", 204},
                        Case{"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n", 304},
                        Case{"HTTP/1.1 404 \r\nContent-Length: 2\r\n\r\nno", 404},
                        Case{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201}}) {
    CAPTURE(c.text);
    HttpResponseParser p;
    const auto& o = p.feed(c.text);
    REQUIRE(o.state == State::Complete);
    CHECK(o.status == c.status);
    CHECK(o.reason.empty());
  }
}

TEST_CASE("http response: split byte by byte, the verdict comes with the last byte") {
  const std::string text =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nX-A: b\r\n\r\n{\"ok\":true}";
  HttpResponseParser p;
  auto o = feed_bytewise(p, text);
  REQUIRE(o.state == State::Complete);
  CHECK(o.status == 200);
  CHECK(p.consumed() == text.size());
}

TEST_CASE("http response: a chunked body ends at its last chunk") {
  const std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  {
    HttpResponseParser p;
    CHECK(p.feed(text).state == State::Complete);
    CHECK(p.outcome().status == 200);
  }
  {
    HttpResponseParser p;
    auto o = feed_bytewise(p, text);
    CHECK(o.state == State::Complete);
  }
  {
    HttpResponseParser p;  // cut after the first chunk
    CHECK(p.feed(text.substr(0, text.find("6;"))).state == State::NeedMore);
    auto o = p.finish();
    CHECK(o.state == State::Malformed);
    CHECK(o.reason == "closed the connection before the response body ended");
  }
  {
    HttpResponseParser p;  // a chunk size that is not hex
    auto o = p.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    CHECK(o.state == State::Malformed);
    CHECK(o.reason.find("invalid HTTP response") == 0);
  }
}

TEST_CASE("http response: a body framed by the close completes at the close") {
  HttpResponseParser p;
  CHECK(p.feed("HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\nmoved").state == State::NeedMore);
  CHECK(p.feed(" elsewhere").state == State::NeedMore);
  auto o = p.finish();
  REQUIRE(o.state == State::Complete);
  CHECK(o.status == 302);
}

TEST_CASE("http response: the connection closed before the headers ended") {
  {
    HttpResponseParser p;
    auto o = p.finish();
    CHECK(o.state == State::Malformed);
    CHECK(o.reason == "closed the connection before a response");
  }
  for (const char* partial : {"H", "HTTP/1.1 200", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"}) {
    CAPTURE(partial);
    HttpResponseParser p;
    CHECK(p.feed(partial).state == State::NeedMore);
    auto o = p.finish();
    CHECK(o.state == State::Malformed);
    CHECK(o.reason == "closed the connection before the response headers ended");
  }
  {
    HttpResponseParser p;  // Content-Length promised more than came
    CHECK(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").state == State::NeedMore);
    CHECK(p.finish().reason == "closed the connection before the response body ended");
  }
}

TEST_CASE("http response: garbage is malformed, with the parser's reason") {
  for (std::string junk : {"SSH-2.0-OpenSSH_9.2\r\n", "\x16\x03\x01\x02\x00\x01", "HTTP/1.1 abc OK\r\n\r\n",
                           "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "HTTP/9 200 OK\r\n\r\n", "<html>hi</html>",
                           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                           // found by fuzz_health_http: http-parser takes a 1- or 2-digit status
                           "HTTP/1.1 2\n\n", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n"}) {
    CAPTURE(junk);
    HttpResponseParser p;
    auto o = p.feed(junk);
    CHECK(o.state == State::Malformed);
    CHECK(o.reason.find("invalid HTTP response: ") == 0);
    CHECK(o.reason.size() > std::string("invalid HTTP response: ").size());
  }
}

TEST_CASE("http response: nothing past the limit is read, headers or body") {
  {
    HttpResponseParser p;  // endless headers
    const std::string line = "X-Filler: " + std::string(100, 'a') + "\r\n";
    HttpResponseParser::Outcome o = p.feed("HTTP/1.1 200 OK\r\n");
    while (o.state == State::NeedMore && p.consumed() < 2 * HttpResponseParser::kDefaultLimit) o = p.feed(line);
    CHECK(o.state == State::Malformed);
    CHECK(o.reason == "response exceeds 64 KiB");
    CHECK(p.consumed() <= HttpResponseParser::kDefaultLimit);
  }
  {
    HttpResponseParser p;  // a body bigger than the limit
    auto o = p.feed("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'x'));
    CHECK(o.state == State::Malformed);
    CHECK(o.reason == "response exceeds 64 KiB");
  }
  {
    const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    HttpResponseParser exact(text.size());  // exactly at the limit is fine
    CHECK(exact.feed(text).state == State::Complete);
    HttpResponseParser under(text.size() - 1);
    CHECK(under.feed(text).reason == "response exceeds " + std::to_string(text.size() - 1) + " bytes");
  }
}

TEST_CASE("http response: the outcome is final; bytes after the response are ignored") {
  HttpResponseParser p;
  CHECK(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 X\r\n\r\n").status == 200);
  CHECK(p.feed("more garbage").state == State::Complete);
  CHECK(p.finish().status == 200);
  HttpResponseParser bad;
  CHECK(bad.feed("garbage").state == State::Malformed);
  CHECK(bad.feed("HTTP/1.1 200 OK\r\n\r\n").state == State::Malformed);
  CHECK(bad.finish().reason.find("invalid HTTP response") == 0);
}
