// Fuzz target: the HTTP endpoint's request side, what any client on the
// network sends: HttpRequestParser fed in chunks (the first byte seeds the
// chunk sizes), then routing and query parsing of every complete request,
// its Host header checked against listeners of each kind
// (check_http_host), and parse_target() on the raw input as a URL.
// Invariants: feed() never consumes more than it was given; Bad and
// TooLarge are final; a complete request's path routes to some kind; a
// Host verdict is allowed, 400 or 421, and a refusal says why; `*` allows
// every well-formed single Host; a parsed target's path starts with '/'.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_target.hpp"
#include "procd/http_host.hpp"
#include "procd/http_request.hpp"

using procd::fuzz::fuzz_require;

namespace {

void check_host(const procd::HttpRequest& req) {
  static const std::vector<std::string> kNone, kSome{"example.com", "*.svc.cluster.local", "10.0.0.7"}, kAny{"*"};
  for (std::string_view listener : {"127.0.0.1:9100", "[::]:9100", "0.0.0.0:9100", "localhost:9100", "[::1]:9100"}) {
    for (const auto* allowed : {&kNone, &kSome}) {
      auto v = procd::check_http_host(req.host, req.host_headers, true, listener, *allowed);
      fuzz_require(v.status == 0 || v.status == 400 || v.status == 421, "a Host verdict is allowed, 400 or 421");
      fuzz_require(v.allowed() || !v.reason.empty(), "a refused Host says why");
      fuzz_require(v.status != 421 || procd::check_http_host(req.host, req.host_headers, true, listener, kAny).allowed(),
                   "'*' allows every Host that is only not on the list");
    }
    procd::check_http_host(req.host, req.host_headers, false, listener, kNone);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint32_t seed = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  procd::HttpRequestParser parser;
  std::string pending;
  for (std::size_t off = 0; off < input.size();) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t n = std::min<std::size_t>(input.size() - off, 1 + (seed >> 16) % 4096);
    pending.append(input.substr(off, n));
    off += n;
    bool stop = false;
    while (!pending.empty()) {
      auto fed = parser.feed(pending);
      fuzz_require(fed.consumed <= pending.size(), "feed() consumes at most what it was given");
      pending.erase(0, fed.consumed);
      if (fed.state == procd::HttpRequestParser::State::Complete) {
        procd::HttpRequest req = parser.take();
        auto route = procd::route_request(req.method, req.path);
        if (route.kind == procd::HttpRouteKind::MethodNotAllowed) fuzz_require(!route.allow.empty(), "405 names Allow");
        check_host(req);
        continue;
      }
      if (fed.state != procd::HttpRequestParser::State::NeedMore) stop = true;  // Bad / TooLarge: final
      break;
    }
    if (stop) break;
  }

  std::string path;
  std::map<std::string, std::string> query;
  if (procd::parse_target(input, path, query)) {
    fuzz_require(!path.empty() && path.front() == '/', "a parsed target's path starts with '/'");
    procd::route_request("GET", path);
    procd::route_request("POST", path);
  }
  return 0;
}
