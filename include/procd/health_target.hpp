// Where a tcp or http health check connects, parsed once when the config is
// loaded (so `procd check` rejects every target the checker could not use)
// and carried in HealthConfig's host / port / path. Pure: no I/O, no
// resolution; a host stays as written (a name, or an IP literal, IPv6
// without its brackets). Every error is ConfigInvalidValue.
#pragma once

#include <string>
#include <utility>

#include "procd/config.hpp"
#include "procd/error.hpp"

namespace procd {

struct HttpTarget {
  std::string host;  // as written (name or IPv4/IPv6 literal without brackets)
  int port = 80;
  std::string path = "/";
};
// "http://127.0.0.1:8080/healthz" -> {127.0.0.1, 8080, /healthz}; https is an error.
Result<HttpTarget> parse_http_url(const std::string& url);
// "127.0.0.1:5432" / "[::1]:5432" / "localhost:5432"; the port is 1..65535.
Result<std::pair<std::string, int>> parse_host_port(const std::string& text);

// Fills cfg.host / port / path from cfg.target for HealthKind::Tcp and Http
// (nothing to do for the other kinds).
Result<void> parse_health_target(HealthConfig& cfg);

}  // namespace procd
