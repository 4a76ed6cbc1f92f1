// Blocking client of the control socket, for the CLI. Every operation is
// bounded by a timeout; errors carry ControlUnreachable (6010) when no
// procd answers, so commands can exit 3 as SPEC's `status` requires.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "procd/error.hpp"
#include "procd/protocol.hpp"

namespace procd {

class ControlClient {
 public:
  ControlClient() = default;
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Connect to the unix socket at `path` (sun_path length checked).
  Result<void> connect(const std::string& path, int timeout_ms = 2000);
  // Send one request and read one reply line.
  Result<Reply> call(const Request& req, int timeout_ms = 10000);
  // Send a streaming request; call on_item for each object after the
  // header until the server closes or on_item returns false. timeout_ms < 0
  // waits forever (follow mode).
  Result<void> stream(const Request& req, const std::function<bool(const nlohmann::json&)>& on_item,
                      int timeout_ms = -1);
  // The same stream in pieces, for a caller that waits on more than one
  // thing at once (poll() on fd() beside its own fds): open_stream sends the
  // request and reads the header; next_item returns the next object, or
  // nullopt when none arrived within timeout_ms (0: only what is already
  // here). The server ending the stream is an error (IoSocket, ended()).
  Result<void> open_stream(const Request& req, int timeout_ms = 10000);
  Result<std::optional<nlohmann::json>> next_item(int timeout_ms);
  int fd() const { return fd_; }
  bool ended() const { return eof_ && buf_.empty(); }

 private:
  Result<nlohmann::json> parse_item(const std::string& line);
  Result<std::string> read_line(int timeout_ms);
  Result<void> send_all(const std::string& data, int timeout_ms);
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;  // the server closed the connection (read_line saw EOF)
  bool timed_out_ = false;  // the last read_line failed on its timeout alone
};

}  // namespace procd
