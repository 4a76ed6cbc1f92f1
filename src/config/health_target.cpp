// The pure parsers of health check targets: "HOST:PORT" for tcp and
// "http://HOST[:PORT][/PATH]" for http. Invariants: a host that holds a ':'
// is an IPv6 literal and was written in brackets; a port is 1..65535; an
// http path starts with '/', has no fragment and no space or control byte.
// Messages quote the target as written, so they read well after the key
// path in a located config error.
#include "procd/health_target.hpp"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <string_view>

namespace procd {
namespace {

Error bad(std::string msg) { return make_error(Code::ConfigInvalidValue, std::move(msg)); }

std::optional<int> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return std::nullopt;
  return v;
}

bool clean(std::string_view s) {
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f || c == '/' || c == '@' || c == '[' || c == ']') return false;
  return true;
}

// "host:port", "[v6]:port", or (with a default port) "host" / "[v6]".
Result<std::pair<std::string, int>> split_authority(std::string_view text, std::optional<int> default_port) {
  std::string_view host, port;
  bool has_port = false;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad(fmt::format("'{}': missing ']' after the IPv6 address", text));
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad(fmt::format("'{}': expected ':PORT' after ']'", text));
      port = rest.substr(1);
      has_port = true;
    }
    if (host.find(':') == std::string_view::npos) return bad(fmt::format("'{}': brackets are for IPv6 addresses", text));
  } else {
    auto colon = text.rfind(':');
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (host.find(':') != std::string_view::npos)
      return bad(fmt::format("'{}': write IPv6 addresses in brackets, e.g. [::1]:8080", text));
  }
  if (host.empty()) return bad(fmt::format("'{}': missing host", text));
  if (!clean(host) && host.find(':') == std::string_view::npos) return bad(fmt::format("'{}': invalid host", text));
  int p = 0;
  if (has_port) {
    auto v = parse_port(port);
    if (!v) return bad(fmt::format("'{}': port must be a number from 1 to 65535", text));
    p = *v;
  } else if (default_port) {
    p = *default_port;
  } else {
    return bad(fmt::format("'{}': expected HOST:PORT", text));
  }
  return std::pair<std::string, int>{std::string(host), p};
}

}  // namespace

Result<std::pair<std::string, int>> parse_host_port(const std::string& text) { return split_authority(text, std::nullopt); }

Result<HttpTarget> parse_http_url(const std::string& url) {
  auto starts = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i]) return false;
    return true;
  };
  if (starts("https://")) return bad(fmt::format("'{}': https is not supported; use http:// or a tcp check", url));
  if (!starts("http://")) return bad(fmt::format("'{}': expected http://HOST[:PORT][/PATH]", url));
  std::string_view rest = std::string_view(url).substr(7);
  auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return bad(fmt::format("'{}': credentials in the URL are not supported", url));
  auto hp = split_authority(authority, 80);
  if (!hp.ok()) return bad(fmt::format("'{}': {}", url, hp.error().message));
  HttpTarget t;
  t.host = hp->first;
  t.port = hp->second;
  std::string path(end == std::string_view::npos ? std::string_view{} : rest.substr(end));
  if (auto hash = path.find('#'); hash != std::string::npos) path.erase(hash);
  if (path.empty() || path[0] != '/') path = "/" + path;  // insert(0, "/") trips GCC 12 -Wrestrict
  for (unsigned char c : path)
    if (c <= ' ' || c == 0x7f) return bad(fmt::format("'{}': the path must not contain spaces or control characters", url));
  t.path = std::move(path);
  return t;
}

Result<void> parse_health_target(HealthConfig& cfg) {
  if (cfg.kind == HealthKind::Tcp) {
    auto hp = parse_host_port(cfg.target);
    if (!hp) return hp.error();
    cfg.host = hp->first;
    cfg.port = hp->second;
    cfg.path.clear();
  } else if (cfg.kind == HealthKind::Http) {
    auto url = parse_http_url(cfg.target);
    if (!url) return url.error();
    cfg.host = url->host;
    cfg.port = url->port;
    cfg.path = url->path;
  }
  return {};
}

}  // namespace procd
