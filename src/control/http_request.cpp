// Pure HTTP pieces of the endpoint (procd/http_request.hpp): the request
// reader over http-parser, target parsing, the route table and response
// text. The header budget is enforced before http-parser sees the bytes:
// while headers are incomplete it is never given more than what is left
// of kMaxHeaderBytes, so a header block of any length costs at most 8 KiB.
#include "procd/http_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace procd {

struct HttpParserCallbacks {
  static HttpRequestParser* self(http_parser* p) { return static_cast<HttpRequestParser*>(p->data); }

  static void end_header(HttpRequestParser* s) {
    if (s->in_value_) {
      std::string lower = s->field_;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (lower == "authorization") s->req_.authorization = s->value_;
      if (lower == "host") {
        s->req_.host = s->value_;
        ++s->req_.host_headers;
      }
    }
    s->field_.clear();
    s->value_.clear();
    s->in_value_ = false;
  }

  static void install(http_parser_settings& st) {
    st.on_message_begin = [](http_parser* p) {
      self(p)->started_ = true;
      return 0;
    };
    st.on_url = [](http_parser* p, const char* at, size_t n) {
      self(p)->url_.append(at, n);
      return 0;
    };
    st.on_header_field = [](http_parser* p, const char* at, size_t n) {
      auto* s = self(p);
      if (s->in_value_) end_header(s);
      s->field_.append(at, n);
      return 0;
    };
    st.on_header_value = [](http_parser* p, const char* at, size_t n) {
      auto* s = self(p);
      s->in_value_ = true;
      s->value_.append(at, n);
      return 0;
    };
    st.on_headers_complete = [](http_parser* p) {
      auto* s = self(p);
      end_header(s);
      s->headers_done_ = true;
      s->req_.method = http_method_str(static_cast<http_method>(p->method));
      s->req_.keep_alive = http_should_keep_alive(p) != 0;
      s->req_.http11 = p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
      if (!parse_target(s->url_, s->req_.path, s->req_.query)) {
        s->bad_ = "malformed request target";
        return -1;
      }
      return 0;
    };
    st.on_body = [](http_parser* p, const char*, size_t n) {
      auto* s = self(p);
      s->body_bytes_ += n;
      return s->body_bytes_ > HttpRequestParser::kMaxBodyBytes ? -1 : 0;
    };
    st.on_message_complete = [](http_parser* p) {
      self(p)->complete_ = true;
      http_parser_pause(p, 1);  // one request per feed(): the rest waits for the caller
      return 0;
    };
  }
};

HttpRequestParser::HttpRequestParser() {
  HttpParserCallbacks::install(settings_);
  restart();
}

void HttpRequestParser::restart() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  req_ = HttpRequest{};
  url_.clear();
  field_.clear();
  value_.clear();
  bad_.clear();
  in_value_ = started_ = headers_done_ = complete_ = false;
  header_bytes_ = body_bytes_ = 0;
}

HttpRequestParser::Fed HttpRequestParser::feed(std::string_view bytes) {
  Fed out;
  while (out.consumed < bytes.size() && !complete_) {
    std::size_t n = bytes.size() - out.consumed;
    if (!headers_done_) n = std::min(n, kMaxHeaderBytes - header_bytes_);
    bool was_headers = !headers_done_;
    std::size_t used = http_parser_execute(&parser_, &settings_, bytes.data() + out.consumed, n);
    out.consumed += used;
    auto err = HTTP_PARSER_ERRNO(&parser_);
    if (err != HPE_OK && !(err == HPE_PAUSED && complete_)) {
      if (body_bytes_ > kMaxBodyBytes)
        return {State::TooLarge, out.consumed, fmt::format("request body larger than {} bytes", kMaxBodyBytes)};
      return {State::Bad, out.consumed, bad_.empty() ? std::string(http_errno_description(err)) : bad_};
    }
    if (was_headers && !headers_done_) {
      header_bytes_ += used;
      if (header_bytes_ >= kMaxHeaderBytes)
        return {State::TooLarge, out.consumed, fmt::format("request headers larger than {} bytes", kMaxHeaderBytes)};
    }
  }
  out.state = complete_ ? State::Complete : State::NeedMore;
  return out;
}

HttpRequest HttpRequestParser::take() {
  HttpRequest r = std::move(req_);
  restart();
  return r;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += plus_is_space && c == '+' ? ' ' : c;
    }
  }
  return true;
}

}  // namespace

bool parse_target(std::string_view url, std::string& path, std::map<std::string, std::string>& query) {
  if (url.empty() || url[0] != '/') return false;
  std::string_view raw_path = url, raw_query;
  if (auto q = url.find('?'); q != std::string_view::npos) {
    raw_path = url.substr(0, q);
    raw_query = url.substr(q + 1);
  }
  if (auto h = raw_query.find('#'); h != std::string_view::npos) raw_query = raw_query.substr(0, h);
  if (!percent_decode(raw_path, false, path)) return false;
  query.clear();
  while (!raw_query.empty()) {
    auto amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{} : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key, value;
    if (!percent_decode(pair.substr(0, eq), true, key)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, value)) return false;
    query[key] = value;
  }
  return true;
}

HttpRoute route_request(std::string_view method, std::string_view path) {
  bool get = method == "GET" || method == "HEAD";
  auto answer = [&](HttpRouteKind kind, bool want_post, std::string name = {}) {
    if (want_post ? method == "POST" : get) return HttpRoute{kind, std::move(name), {}};
    return HttpRoute{HttpRouteKind::MethodNotAllowed, {}, want_post ? "POST" : "GET, HEAD"};
  };
  static constexpr std::array<std::pair<std::string_view, HttpRouteKind>, 8> kGet = {{
      {"/", HttpRouteKind::Dashboard},
      {"/healthz", HttpRouteKind::Healthz},
      {"/readyz", HttpRouteKind::Readyz},
      {"/metrics", HttpRouteKind::Metrics},
      {"/status", HttpRouteKind::Status},
      {"/history", HttpRouteKind::History},
      {"/events", HttpRouteKind::Events},
      {"/logs", HttpRouteKind::Logs},
  }};
  for (auto& [p, kind] : kGet)
    if (path == p) return answer(kind, false);
  if (path == "/reload") return answer(HttpRouteKind::Reload, true);
  constexpr std::string_view kStatus = "/status/";
  if (path.substr(0, kStatus.size()) == kStatus) {
    std::string_view name = path.substr(kStatus.size());
    if (!name.empty() && name.find('/') == std::string_view::npos) return answer(HttpRouteKind::StatusOne, false, std::string(name));
  }
  constexpr std::string_view kServices = "/services/";
  if (path.substr(0, kServices.size()) == kServices) {
    std::string_view rest = path.substr(kServices.size());
    auto slash = rest.find('/');
    if (slash != std::string_view::npos && slash > 0) {
      std::string_view name = rest.substr(0, slash), verb = rest.substr(slash + 1);
      std::string n(name);
      if (verb == "start") return answer(HttpRouteKind::ServiceStart, true, n);
      if (verb == "stop") return answer(HttpRouteKind::ServiceStop, true, n);
      if (verb == "restart") return answer(HttpRouteKind::ServiceRestart, true, n);
      if (verb == "reload") return answer(HttpRouteKind::ServiceReload, true, n);
    }
  }
  return {};
}

std::string_view http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string http_response_head(int status, std::string_view content_type, std::size_t content_length, bool keep_alive,
                               std::string_view extra_headers) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: {}\r\n{}\r\n",
      status, http_reason(status), content_type, content_length, keep_alive ? "keep-alive" : "close", extra_headers);
}

std::string http_response(int status, std::string_view content_type, std::string_view body, bool keep_alive, bool head,
                          std::string_view extra_headers) {
  std::string out = http_response_head(status, content_type, body.size(), keep_alive, extra_headers);
  if (!head) out += body;
  return out;
}

std::string http_stream_head(std::string_view content_type) {
  return fmt::format("HTTP/1.1 200 OK\r\nContent-Type: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                     content_type);
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (token.empty() || authorization.size() < kScheme.size()) return false;
  bool scheme_ok = true;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    scheme_ok &= std::tolower(static_cast<unsigned char>(authorization[i])) == kScheme[i];
  std::string_view given = authorization.substr(kScheme.size());
  // Every byte of the token is compared whatever the input: no early exit.
  unsigned diff = given.size() == token.size() ? 0u : 1u;
  for (std::size_t i = 0; i < token.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned>(g ^ static_cast<unsigned char>(token[i]));
  }
  return scheme_ok && diff == 0;
}

}  // namespace procd
