// How `procd top` reaches procd (src/cli/top_link.cpp): the control socket
// or the HTTP endpoint (`--http URL`), behind one interface so that
// TopSession never asks which. Both send the requests the other commands
// (or the dashboard) send; the items of both streams are the same JSON
// objects (an event, a log item). Invariants: a stream that ends or breaks
// answers an error and is never read again; lost() tells the errors that
// mean procd went away (the session then reconnects) from a refusal.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

#include "http_client.hpp"
#include "procd/error.hpp"
#include "procd/protocol.hpp"

namespace procd::cli {

class TopStream {
 public:
  virtual ~TopStream() = default;
  virtual int fd() const = 0;
  // The next item waiting (non-blocking); nullopt when none is; an error when the stream ended.
  virtual Result<std::optional<nlohmann::json>> next() = 0;
};

class TopLink {
 public:
  virtual ~TopLink() = default;
  // "on /run/procd/procd.sock", "at http://127.0.0.1:9100"
  virtual std::string where() const = 0;
  virtual Result<std::unique_ptr<TopStream>> events() = 0;
  // The service's last `lines` lines, then new ones.
  virtual Result<std::unique_ptr<TopStream>> logs(const std::string& service, int lines) = 0;
  virtual Result<nlohmann::json> status() = 0;
  // start, stop, restart (service), signal (service, sig), reload: procd's
  // reply, a refusal included (a refused reload's errors are in its body).
  virtual Result<Reply> verb(const std::string& verb, const std::string& service, const std::string& sig) = 0;
  virtual bool lost(const Error& e) const = 0;
};

std::unique_ptr<TopLink> socket_link(std::string socket);
std::unique_ptr<TopLink> http_link(HttpEndpoint endpoint);

}  // namespace procd::cli
