// check_http_host / allowed_host_error (procd/http_host.hpp): the Host
// allow-list of the HTTP endpoint, pure.
#include "procd/http_host.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace procd {
namespace {

enum class Kind { Name, V4, V6 };

struct Host {
  Kind kind = Kind::Name;
  std::string name;               // Name: lower case, without a trailing dot
  unsigned char addr[16] = {};    // V4: 4 bytes, V6: 16
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

// A host without its port: "[v6]", an IPv4 address or a DNS name (a bare
// IPv6 address too when bare_v6).
std::optional<Host> parse_host(std::string_view text, bool bare_v6) {
  Host h;
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
    h.kind = Kind::V6;
    if (inet_pton(AF_INET6, s.substr(1, s.size() - 2).c_str(), h.addr) != 1) return std::nullopt;
    return h;
  }
  if (bare_v6 && s.find(':') != std::string::npos) {
    h.kind = Kind::V6;
    if (inet_pton(AF_INET6, s.c_str(), h.addr) != 1) return std::nullopt;
    return h;
  }
  if (inet_pton(AF_INET, s.c_str(), h.addr) == 1) {
    h.kind = Kind::V4;
    return h;
  }
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.find("..") != std::string::npos ||
      !std::all_of(s.begin(), s.end(), name_char))
    return std::nullopt;
  h.name = std::move(s);
  return h;
}

// "host[:port]" of a Host header; the port, when given, is digits up to 65535.
std::optional<Host> parse_host_header(std::string_view value) {
  std::string_view host = value, port;
  if (!value.empty() && value.front() == '[') {
    auto close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = value.substr(0, close + 1);
    std::string_view rest = value.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else if (auto colon = value.find(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (!port.empty() && std::stoi(std::string(port)) > 65535))
    return std::nullopt;
  return parse_host(host, false);
}

bool same_address(const Host& a, const Host& b) {
  if (a.kind != b.kind || a.kind == Kind::Name) return false;
  return std::memcmp(a.addr, b.addr, a.kind == Kind::V4 ? 4 : 16) == 0;
}

bool is_loopback(const Host& h) {
  static const unsigned char v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (h.kind == Kind::Name) return h.name == "localhost" || (h.name.size() > 10 && h.name.ends_with(".localhost"));
  if (h.kind == Kind::V4) return h.addr[0] == 127;
  return std::memcmp(h.addr, v6_loopback, 16) == 0 || (std::memcmp(h.addr, v4_mapped, 12) == 0 && h.addr[12] == 127);
}

bool is_wildcard(const Host& h) {
  if (h.kind == Kind::Name) return false;
  const std::size_t n = h.kind == Kind::V4 ? 4 : 16;
  return std::all_of(h.addr, h.addr + n, [](unsigned char b) { return b == 0; });
}

bool entry_matches(std::string_view entry, const Host& h) {
  if (entry == "*") return true;
  if (entry.starts_with("*.")) {
    auto suffix = parse_host(entry.substr(2), false);
    return h.kind == Kind::Name && suffix && suffix->kind == Kind::Name && h.name.size() > suffix->name.size() + 1 &&
           h.name.ends_with("." + suffix->name);
  }
  auto e = parse_host(entry, true);
  if (!e) return false;
  return e->kind == Kind::Name ? h.kind == Kind::Name && e->name == h.name : same_address(*e, h);
}

}  // namespace

HostVerdict check_http_host(std::string_view host_value, int host_headers, bool http11, std::string_view listener,
                            const std::vector<std::string>& allowed) {
  if (host_headers > 1) return {400, "bad request: more than one Host header\n"};
  std::string_view value = trim(host_value);
  if (host_headers == 0 || value.empty()) {
    if (http11) return {400, "bad request: an HTTP/1.1 request needs a Host header\n"};
    return {};
  }
  auto host = parse_host_header(value);
  if (!host) return {400, "bad request: malformed Host header\n"};
  if (is_loopback(*host)) return {};
  auto colon = listener.rfind(':');
  auto bound = parse_host(listener.substr(0, colon == std::string_view::npos ? listener.size() : colon), false);
  if (bound && host->kind != Kind::Name && (same_address(*bound, *host) || is_wildcard(*bound))) return {};
  if (bound && bound->kind == Kind::Name && host->kind == Kind::Name && bound->name == host->name) return {};
  for (const auto& e : allowed)
    if (entry_matches(e, *host)) return {};
  // The name is echoed: parse_host let only [a-z0-9._-] and IP literals through.
  std::string shown = host->kind == Kind::Name ? host->name : std::string(value.substr(0, value.rfind(']') + 1));
  if (host->kind == Kind::V4) shown = std::string(value.substr(0, value.find(':')));
  return {421, fmt::format("misdirected request: Host \"{}\" is not allowed here (allowed: loopback names and "
                           "addresses, the listener's address, [control] http_allowed_hosts)\n",
                           shown)};
}

std::optional<std::string> allowed_host_error(std::string_view entry) {
  if (entry.empty()) return "an empty host name";
  if (entry == "*") return std::nullopt;
  std::string_view body = entry.starts_with("*.") ? entry.substr(2) : entry;
  if (parse_host(body, !entry.starts_with("*.")).has_value()) {
    if (entry.starts_with("*.") && parse_host(body, false)->kind != Kind::Name)
      return fmt::format("\"{}\": \"*.\" must be followed by a domain name", entry);
    return std::nullopt;
  }
  auto colon = body.rfind(':');
  if (colon != std::string_view::npos && parse_host(body.substr(0, colon), false))
    return fmt::format("\"{}\" has a port: give the host alone (any port is accepted)", entry);
  return fmt::format("\"{}\" is not a host name or IP address (like \"procd.example.com\", \"*.example.com\", "
                     "\"10.0.0.5\", \"[fd00::5]\" or \"*\")",
                     entry);
}

}  // namespace procd
