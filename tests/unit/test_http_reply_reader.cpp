// HttpReplyReader (`procd top --http`): Content-Length, chunked and
// close-framed bodies in any pieces, lines of a stream (SSE, JSON lines),
// and every bound at its limit and one past it.
#include <doctest/doctest.h>

#include <string>

#include "procd/http_reply_reader.hpp"

using namespace procd;
using R = HttpReplyReader;

namespace {

R::State feed_bytewise(R& r, const std::string& s) {
  for (char c : s) r.feed(std::string_view(&c, 1));
  return r.state();
}

}  // namespace

TEST_CASE("http reply: a Content-Length body, whole, fed a byte at a time") {
  R r(R::Mode::Whole);
  CHECK(feed_bytewise(r, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}") == R::State::Complete);
  CHECK(r.status() == 200);
  CHECK(r.body() == "{\"a\":1}");
}

TEST_CASE("http reply: chunked encoding is decoded; a 100 Continue is skipped") {
  R r(R::Mode::Whole);
  r.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"v\"\r\n");
  CHECK(r.state() == R::State::NeedMore);
  CHECK(r.status() == 403);
  CHECK(r.feed("3\r\n:1}\r\n0\r\n\r\n") == R::State::Complete);
  CHECK(r.body() == "{\"v\":1}");
}

TEST_CASE("http reply: a stream's lines (SSE over chunks, a body until the close)") {
  R r(R::Mode::Lines);
  r.feed("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(r.head_done());
  r.feed("b\r\n: procd eve\r\n");
  CHECK(r.lines().empty());
  r.feed("8\r\nnts\n\ndat\r\n");
  REQUIRE(r.lines().size() == 2);
  CHECK(r.lines()[0] == ": procd events");
  CHECK(r.lines()[1] == "");
  R c(R::Mode::Lines);
  c.feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"a\":1}\n{\"b\"");
  CHECK(c.lines().size() == 1);
  CHECK(c.state() == R::State::NeedMore);
  CHECK(c.finish() == R::State::Complete);
  CHECK(c.lines().back() == "{\"b\"");
}

TEST_CASE("http reply: the head, the body and a line at their bound and one past it") {
  HttpReplyLimits lim{64, 10, 8};
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX: ";
  head += std::string(64 - head.size() - 4, 'x') + "\r\n\r\n";
  REQUIRE(head.size() == 64);
  R at(R::Mode::Whole, lim);
  CHECK(at.feed(head + "0123456789") == R::State::Complete);
  CHECK(at.body() == "0123456789");
  R past(R::Mode::Whole, lim);
  CHECK(past.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX: x" + head.substr(40)) == R::State::Malformed);
  CHECK(past.reason() == "response headers exceed 64 bytes");
  R body(R::Mode::Whole, lim);
  CHECK(body.feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789") == R::State::NeedMore);
  CHECK(body.feed("A") == R::State::Malformed);
  CHECK(body.reason() == "response body exceeds 10 bytes");
  R line(R::Mode::Lines, lim);
  CHECK(line.feed("HTTP/1.1 200 OK\r\n\r\n01234567\n0123") == R::State::NeedMore);
  CHECK(line.lines().front() == "01234567");
  CHECK(line.feed("4567") == R::State::NeedMore);
  CHECK(line.feed("8") == R::State::Malformed);
  CHECK(line.reason() == "response line exceeds 8 bytes");
  CHECK(line.feed("\n") == R::State::Malformed);  // for good
}

TEST_CASE("http reply: garbage, a status not of 3 digits, a reply cut short") {
  R g(R::Mode::Whole);
  CHECK(g.feed("SSH-2.0-OpenSSH\r\n") == R::State::Malformed);
  CHECK(g.reason().rfind("invalid HTTP response: ", 0) == 0);
  R s(R::Mode::Whole);
  CHECK(s.feed("HTTP/1.1 2 OK\r\n\r\n") == R::State::Malformed);
  R cut(R::Mode::Whole);
  cut.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01");
  CHECK(cut.finish() == R::State::Malformed);
  CHECK(cut.reason() == "closed the connection before the response body ended");
  R none(R::Mode::Whole);
  CHECK(none.finish() == R::State::Malformed);
  CHECK(none.reason() == "closed the connection before a response");
}

TEST_CASE("http reply: the default bounds (head 16 KiB, reply 16 MiB, line 1 MiB) at their limit and one past") {
  const HttpReplyLimits d;
  CHECK(d.head == 16 * 1024);
  CHECK(d.body == 16u * 1024 * 1024);
  CHECK(d.line == 1024u * 1024);
  std::string line(d.line, 'x');
  R at(R::Mode::Lines);
  CHECK(at.feed("HTTP/1.1 200 OK\r\n\r\n" + line + "\n") == R::State::NeedMore);
  CHECK(at.lines().front().size() == d.line);
  R past(R::Mode::Lines);
  CHECK(past.feed("HTTP/1.1 200 OK\r\n\r\n" + line + "x") == R::State::Malformed);
  CHECK(past.reason() == "response line exceeds 1 MiB");
  std::string body(d.body, 'b');
  R whole(R::Mode::Whole);
  CHECK(whole.feed("HTTP/1.1 200 OK\r\nContent-Length: 16777216\r\n\r\n" + body) == R::State::Complete);
  R big(R::Mode::Whole);
  CHECK(big.feed("HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n" + body + "b") == R::State::Malformed);
  CHECK(big.reason() == "response body exceeds 16 MiB");
  std::string head = "HTTP/1.1 200 OK\r\nX: " + std::string(d.head, 'h');
  R h(R::Mode::Whole);
  CHECK(h.feed(head) == R::State::Malformed);
  CHECK(h.reason() == "response headers exceed 16 KiB");
}
