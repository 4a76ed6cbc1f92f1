// Blocking client of the control socket, for the CLI. Every operation is
// bounded by a timeout; errors carry ControlUnreachable (6010) when no
// procd answers, so commands can exit 3 as SPEC's `status` requires.
#pragma once

#include <functional>
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

 private:
  Result<std::string> read_line(int timeout_ms);
  Result<void> send_all(const std::string& data, int timeout_ms);
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;  // the server closed the connection (read_line saw EOF)
};

}  // namespace procd
