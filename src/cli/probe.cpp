// `procd probe URL [--timeout MS]`: one GET for container health checks
// (the image has no curl): exit 0 on a 2xx answer, 1 otherwise with the
// reason and code 6013 on stderr. The URL is parsed like an http health
// check's target; the request is `procd top --http`'s client (http_client.hpp),
// one deadline bounding resolving, connecting, sending and reading together.
#include <fmt/core.h>

#include "http_client.hpp"

namespace procd {
namespace {

int fail(const std::string& why) {
  fmt::print(stderr, "{}\n", make_error(Code::ProbeFailed, why).format());
  return 1;
}

}  // namespace

int cmd_probe(const std::string& url, int timeout_ms) {
  auto target = parse_http_url(url);
  if (!target.ok()) return fail(fmt::format("{}: {}", url, target.error().message));
  // The whole path is the request's: no prefix.
  const cli::HttpEndpoint ep{url, HttpTarget{target->host, target->port, {}}, {}};
  auto reply = cli::http_call(ep, "GET", target->path, timeout_ms, timeout_ms);
  if (!reply.ok()) return fail(reply.error().message);
  if (reply->status / 100 != 2) return fail(fmt::format("{}: HTTP status {}", url, reply->status));
  return 0;
}

}  // namespace procd
