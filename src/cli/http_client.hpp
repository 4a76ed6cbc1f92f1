// A small blocking HTTP/1.1 client for `procd top --http` (src/cli/http_client.cpp):
// one request a connection (Connection: close), replies read by
// HttpReplyReader. Every step is bounded: connecting by kHttpConnectMs,
// a whole reply by the caller's timeout, a stream's head by its timeout
// and its lines by HttpReplyLimits. Errors: HttpUnreachable (6016) when
// nothing answers or the connection drops, HttpStatus (6017) for a reply
// that is not 2xx (the body's procd error quoted), HttpReplyMalformed
// (6018) for a reply that is not HTTP, too large, or not the JSON expected.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "procd/error.hpp"
#include "procd/health_target.hpp"
#include "procd/http_reply_reader.hpp"

namespace procd::cli {

inline constexpr int kHttpConnectMs = 2000;
inline constexpr int kHttpReplyMs = 10000;

struct HttpEndpoint {
  std::string url;     // as given, for messages
  HttpTarget target;   // host, port, and the path prefix ("/" or "/procd/")
  std::string token;   // from --token-file; "" without
};

// "http://HOST:PORT[/PREFIX]" and the token file's content (trimmed; at
// most 4 KiB, a regular file, no symlink).
Result<HttpEndpoint> http_endpoint(const std::string& url, const std::string& token_file);

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

// One request (POST with the bearer token when the endpoint has one); the
// whole reply, whatever its status. Connecting is bounded by connect_ms
// too; `procd probe` (one deadline for everything) passes its timeout.
Result<HttpReply> http_call(const HttpEndpoint& ep, const std::string& method, const std::string& path, int timeout_ms,
                            int connect_ms = kHttpConnectMs);

// The error for a reply that is not 2xx: its status, what procd said (its
// JSON error's message and code), and for 401/403 what to check.
Error http_status_error(const HttpEndpoint& ep, const HttpReply& reply);

class HttpLineStream {
 public:
  HttpLineStream() = default;
  ~HttpLineStream();
  HttpLineStream(const HttpLineStream&) = delete;
  HttpLineStream& operator=(const HttpLineStream&) = delete;

  // GET path; waits up to timeout_ms for the head: a status other than 200 is an error.
  Result<void> open(const HttpEndpoint& ep, const std::string& path, int timeout_ms);
  int fd() const { return fd_; }
  // The next line of the body: nullopt when none is here yet (non-blocking);
  // the end of the stream or a bound is an error.
  Result<std::optional<std::string>> next_line();

 private:
  Result<void> read_some(bool& closed);
  int fd_ = -1;
  std::unique_ptr<HttpReplyReader> reader_;
  std::string url_;
};

}  // namespace procd::cli
