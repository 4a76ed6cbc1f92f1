// The HTTP endpoint's pure parts: request reading (whole, byte by byte,
// pipelined, malformed, oversized), target and query decoding, routing,
// response text, the bearer comparison, and the dashboard's history ring
// and the duration histogram.
#include <doctest/doctest.h>

#include <string>

#include "procd/histogram.hpp"
#include "procd/http_request.hpp"
#include "procd/resource_history.hpp"
#include "procd/stream_connection.hpp"
#include "procd/supervision_rules.hpp"
#include "procd/token_file.hpp"

using namespace procd;
using State = HttpRequestParser::State;

TEST_CASE("http request: a GET read whole and byte by byte") {
  const std::string text = "GET /logs?service=web&n=5&follow=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n";
  HttpRequestParser whole;
  auto fed = whole.feed(text);
  REQUIRE(fed.state == State::Complete);
  CHECK(fed.consumed == text.size());
  HttpRequest r = whole.take();
  CHECK(r.method == "GET");
  CHECK(r.path == "/logs");
  CHECK(r.query.at("service") == "web");
  CHECK(r.query.at("n") == "5");
  CHECK(r.query.at("follow") == "1");
  CHECK(r.authorization == "Bearer abc");
  CHECK(r.keep_alive);

  HttpRequestParser bytewise;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto f = bytewise.feed(std::string_view(text).substr(i, 1));
    CHECK(f.state == (i + 1 == text.size() ? State::Complete : State::NeedMore));
  }
  CHECK(bytewise.take().path == "/logs");
}

TEST_CASE("http request: pipelined requests come out one per feed") {
  const std::string two = "GET /healthz HTTP/1.1\r\n\r\nHEAD /status HTTP/1.0\r\n\r\n";
  HttpRequestParser p;
  auto first = p.feed(two);
  REQUIRE(first.state == State::Complete);
  CHECK(p.take().path == "/healthz");
  auto second = p.feed(std::string_view(two).substr(first.consumed));
  REQUIRE(second.state == State::Complete);
  HttpRequest r = p.take();
  CHECK(r.head());
  CHECK_FALSE(r.keep_alive);  // HTTP/1.0 without Connection: keep-alive
  CHECK(first.consumed + second.consumed == two.size());
}

TEST_CASE("http request: a POST body is read and bounded") {
  HttpRequestParser p;
  auto ok = p.feed("POST /reload HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(ok.state == State::Complete);
  p.take();
  std::string big = "POST /reload HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(70000, 'x');
  CHECK(p.feed(big).state == State::TooLarge);
}

TEST_CASE("http request: malformed and oversized requests") {
  CHECK(HttpRequestParser().feed("NOT HTTP AT ALL\r\n\r\n").state == State::Bad);
  CHECK(HttpRequestParser().feed("GET /x HTTP/1.1\r\nBad Header\r\n\r\n").state == State::Bad);
  CHECK(HttpRequestParser().feed("GET http://h/x HTTP/1.1\r\n\r\n").state == State::Bad);  // not origin-form
  CHECK(HttpRequestParser().feed("GET /%zz HTTP/1.1\r\n\r\n").state == State::Bad);
  // Headers of exactly 8 KiB pass; one byte more does not, however it arrives.
  std::string head = "GET / HTTP/1.1\r\nX: ";
  std::string exact = head + std::string(HttpRequestParser::kMaxHeaderBytes - head.size() - 4, 'a') + "\r\n\r\n";
  REQUIRE(exact.size() == HttpRequestParser::kMaxHeaderBytes);
  CHECK(HttpRequestParser().feed(exact).state == State::Complete);
  std::string over = head + std::string(HttpRequestParser::kMaxHeaderBytes - head.size() - 3, 'a') + "\r\n\r\n";
  CHECK(HttpRequestParser().feed(over).state == State::TooLarge);
  HttpRequestParser drip;  // a header line that never ends, sent a byte at a time
  State last = drip.feed("GET / HTTP/1.1\r\nX: ").state;
  for (std::size_t i = 0; i < 20000 && last == State::NeedMore; ++i) last = drip.feed("a").state;
  CHECK(last == State::TooLarge);
  std::string endless = "GET / HTTP/1.1\r\nX: " + std::string(20000, 'a');
  HttpRequestParser p;
  auto f = p.feed(endless);
  CHECK(f.state == State::TooLarge);
  CHECK(f.consumed <= HttpRequestParser::kMaxHeaderBytes);
}

TEST_CASE("http target: path and query decoding") {
  std::string path;
  std::map<std::string, std::string> q;
  REQUIRE(parse_target("/status/my%20svc?a=1&b=x+y&c&a=2", path, q));
  CHECK(path == "/status/my svc");
  CHECK(q.at("a") == "2");
  CHECK(q.at("b") == "x y");
  CHECK(q.at("c").empty());
  CHECK_FALSE(parse_target("status", path, q));
  CHECK_FALSE(parse_target("/a%4", path, q));
  CHECK_FALSE(parse_target("/a%00b", path, q));
}

TEST_CASE("http routes") {
  CHECK(route_request("GET", "/").kind == HttpRouteKind::Dashboard);
  CHECK(route_request("HEAD", "/healthz").kind == HttpRouteKind::Healthz);
  CHECK(route_request("GET", "/readyz").kind == HttpRouteKind::Readyz);
  CHECK(route_request("GET", "/metrics").kind == HttpRouteKind::Metrics);
  auto one = route_request("GET", "/status/web");
  CHECK(one.kind == HttpRouteKind::StatusOne);
  CHECK(one.name == "web");
  CHECK(route_request("GET", "/status/").kind == HttpRouteKind::NotFound);
  CHECK(route_request("GET", "/status/a/b").kind == HttpRouteKind::NotFound);
  auto restart = route_request("POST", "/services/web/restart");
  CHECK(restart.kind == HttpRouteKind::ServiceRestart);
  CHECK(restart.name == "web");
  CHECK(route_request("POST", "/services/web/explode").kind == HttpRouteKind::NotFound);
  CHECK(route_request("POST", "/reload").kind == HttpRouteKind::Reload);
  auto wrong = route_request("GET", "/reload");
  CHECK(wrong.kind == HttpRouteKind::MethodNotAllowed);
  CHECK(wrong.allow == "POST");
  CHECK(route_request("POST", "/metrics").kind == HttpRouteKind::MethodNotAllowed);
  CHECK(route_request("DELETE", "/status").allow == "GET, HEAD");
  CHECK(route_request("GET", "/nope").kind == HttpRouteKind::NotFound);
}

TEST_CASE("http response text: Content-Length, HEAD, connection") {
  std::string r = http_response(200, "text/plain", "ok\n", true);
  CHECK(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(r.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(r.find("Connection: keep-alive\r\n") != std::string::npos);
  CHECK(r.substr(r.size() - 7) == "\r\n\r\nok\n");
  std::string head = http_response(503, "application/json", "{}", false, true);
  CHECK(head.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(head.find("Connection: close\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  CHECK(http_stream_head("text/event-stream").find("Content-Length") == std::string::npos);
}

TEST_CASE("bearer token comparison") {
  CHECK(bearer_matches("Bearer s3cret", "s3cret"));
  CHECK(bearer_matches("bearer s3cret", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer s3cre", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer s3crett", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer S3cret", "s3cret"));
  CHECK_FALSE(bearer_matches("Basic s3cret", "s3cret"));
  CHECK_FALSE(bearer_matches("", "s3cret"));
  CHECK_FALSE(bearer_matches("Bearer ", ""));
  CHECK(trim_token("  tok en\n") == "tok en");
}

TEST_CASE("duration histogram: buckets, count, sum") {
  DurationHistogram h;
  h.observe(0.001);
  h.observe(0.3);
  h.observe(500);  // above every bound: only +Inf (count) has it
  CHECK(h.count == 3);
  CHECK(h.sum == doctest::Approx(500.301));
  CHECK(h.cumulative(0) == 1);                                  // le=0.005
  CHECK(h.cumulative(6) == 2);                                  // le=0.5
  CHECK(h.cumulative(DurationHistogram::kBounds.size() - 1) == 2);  // le=120
}

TEST_CASE("resource history: spacing and a bounded ring") {
  ResourceHistory h(5000);
  CHECK(h.add({0, 1.0, 10}));
  CHECK_FALSE(h.add({4999, 2.0, 20}));  // too soon after the last kept sample
  CHECK(h.add({5000, 3.0, 30}));
  for (int i = 2; i < 500; ++i) h.add({i * 5000, double(i), std::uint64_t(i)});
  REQUIRE(h.size() == ResourceHistory::kCapacity);
  auto s = h.samples();
  CHECK(s.front().t_ms == (500 - std::int64_t(ResourceHistory::kCapacity)) * 5000);
  CHECK(s.back().t_ms == 499 * 5000);
}

TEST_CASE("readiness of the whole for /readyz") {
  std::vector<SettleView> v = {
      {true, false, false, Phase::Running, Want::Up, false},
      {true, false, false, Phase::Starting, Want::Up, false},
      {true, false, false, Phase::Stopped, Want::Down, true},  // completed
      {true, false, false, Phase::Failed, Want::Down, true},
      {false, false, false, Phase::Stopped, Want::Down, false},
      {true, false, true, Phase::Stopped, Want::Up, false},  // waiting on dependencies
  };
  CHECK(not_ready(v) == std::vector<std::size_t>{1, 3, 5});
  CHECK_FALSE(autostart_settled(v));
  v.erase(v.begin() + 5);
  v.erase(v.begin() + 1);
  CHECK(autostart_settled(v));  // READY=1 does not wait for the failed one...
  CHECK(not_ready(v) == std::vector<std::size_t>{2});  // ...but /readyz names it
}

TEST_CASE("pieces_of: the parts' bytes in order, at most kPieceBytes a piece, any part size") {
  constexpr std::size_t kPiece = StreamConnection::kPieceBytes;
  std::vector<std::string> parts = {std::string(10, 'a'), std::string(kPiece + 5, 'b'), "", std::string(kPiece - 10, 'c'),
                                    std::string(3 * kPiece, 'd')};
  std::string expected;
  for (const auto& p : parts) expected += p;
  auto next = pieces_of(parts);
  std::string joined;
  bool more = true;
  int pieces = 0;
  while (more) {
    std::string piece;
    more = next(piece);
    CHECK(piece.size() <= kPiece);
    CHECK((more ? piece.size() == kPiece : !piece.empty()));
    joined += piece;
    REQUIRE(++pieces < 100);
  }
  CHECK(joined == expected);
  std::string none;
  CHECK_FALSE(pieces_of({})(none));
  CHECK(none.empty());
}
