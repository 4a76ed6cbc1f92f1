// The pure half of procd's HTTP endpoint ([control].http): reading requests
// (http-parser 2.9 underneath; no I/O, no libuv), routing them, and
// building responses. The uv edge is http_server.cpp; what each route
// answers is the Supervisor's (supervisor_http.cpp).
//
// Invariants of HttpRequestParser:
//  * one request at a time: feed() stops right after a complete request
//    (http-parser is paused there), so pipelined requests are answered in
//    order, one per call, and the caller decides how many per loop turn;
//  * at most kMaxHeaderBytes of request line + headers, and kMaxBodyBytes
//    of body, are ever parsed: past that the outcome is TooLarge;
//  * Bad and TooLarge are final: the connection is answered and closed.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace procd {

struct HttpRequest {
  std::string method;        // "GET", "HEAD", "POST", ...
  std::string path;          // percent-decoded path, without the query
  std::map<std::string, std::string> query;  // decoded; the last of repeated keys wins
  std::string authorization; // the Authorization header, as sent
  std::string host;          // the Host header, as sent (the last one when repeated)
  int host_headers = 0;      // how many Host headers came (more than one: a bad request)
  bool http11 = true;        // HTTP/1.1 or later (1.0: Host is optional)
  bool keep_alive = false;   // HTTP/1.1 default, or "Connection: keep-alive" on 1.0
  bool head() const { return method == "HEAD"; }
};

class HttpRequestParser {
 public:
  static constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
  static constexpr std::size_t kMaxBodyBytes = 64 * 1024;

  enum class State { NeedMore, Complete, Bad, TooLarge };
  struct Fed {
    State state = State::NeedMore;
    std::size_t consumed = 0;  // bytes of the input used; the rest belongs to the next request
    std::string reason;        // Bad / TooLarge: why
  };

  HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // The next bytes received. After Complete, take() the request; the next
  // feed() starts a new one.
  Fed feed(std::string_view bytes);
  HttpRequest take();
  // True while a request has begun but its headers are not complete.
  bool in_headers() const { return started_ && !headers_done_; }
  // True while a request has begun and is not complete.
  bool busy() const { return started_ && !complete_; }

 private:
  void restart();
  friend struct HttpParserCallbacks;

  http_parser parser_{};
  http_parser_settings settings_{};
  HttpRequest req_;
  std::string url_;
  std::string field_, value_;
  bool in_value_ = false;
  bool started_ = false;
  bool headers_done_ = false;
  bool complete_ = false;
  std::size_t header_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  std::string bad_;
};

// Split a request target into decoded path and query; false when the URL
// is malformed (bad percent-encoding, not origin-form).
bool parse_target(std::string_view url, std::string& path, std::map<std::string, std::string>& query);

enum class HttpRouteKind {
  Dashboard, Healthz, Readyz, Metrics, Status, StatusOne, History, Events, Logs,
  ServiceStart, ServiceStop, ServiceRestart, Reload, ServiceReload,
  NotFound, MethodNotAllowed
};
struct HttpRoute {
  HttpRouteKind kind = HttpRouteKind::NotFound;
  std::string name;   // StatusOne and Service*: the service
  std::string allow;  // MethodNotAllowed: the Allow header's value
};
// GET routes take HEAD too; POST routes only POST.
HttpRoute route_request(std::string_view method, std::string_view path);

std::string_view http_reason(int status);

// A whole response with Content-Length. HEAD: the same headers, no body.
// The status line and headers of a Content-Length framed response.
std::string http_response_head(int status, std::string_view content_type, std::size_t content_length, bool keep_alive,
                               std::string_view extra_headers = {});
std::string http_response(int status, std::string_view content_type, std::string_view body, bool keep_alive,
                          bool head = false, std::string_view extra_headers = {});
// The head of a stream response: no Content-Length, the body runs until
// procd closes the connection (Connection: close).
std::string http_stream_head(std::string_view content_type);

// `Authorization: Bearer <token>` against the token, in time independent of
// where they differ (the length of the header aside). An empty token never matches.
bool bearer_matches(std::string_view authorization, std::string_view token);

}  // namespace procd
