// sd_notify in both directions.
//  * NotifyServer: the datagram socket procd gives `ready = "notify"`
//    services as NOTIFY_SOCKET. Each datagram's sender PID comes from
//    SCM_CREDENTIALS (SO_PASSCRED), never from the payload; the supervisor
//    maps it to a service (main PID, else the sender's process group).
//  * notify_manager(): procd's own messages to the service manager that
//    started it ($NOTIFY_SOCKET: a path or "@abstract"), e.g. READY=1.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "procd/error.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

// "READY=1\nSTATUS=Serving\n" -> {READY:1, STATUS:Serving}; lines without
// '=' are ignored; the last assignment of a key wins. Pure.
std::map<std::string, std::string> parse_notify_message(std::string_view datagram);

class NotifyServer {
 public:
  using OnMessage = std::function<void(pid_t sender, const std::map<std::string, std::string>& fields)>;

  // Datagrams handled per readable event; the rest wait for the next loop
  // iteration, so a flood cannot starve reaping, timers or the control socket.
  static constexpr std::size_t kNotifyBatch = 64;

  NotifyServer(uv_loop_t* loop, OnMessage on_message) : loop_(loop), on_message_(std::move(on_message)) {}
  ~NotifyServer();
  NotifyServer(const NotifyServer&) = delete;
  NotifyServer& operator=(const NotifyServer&) = delete;

  // Bind a SOCK_DGRAM unix socket at `path` (replacing a stale socket file,
  // refusing anything else), mode 0666 so services running as other users
  // can write to it; SO_PASSCRED on. Watched with a uv_poll_t.
  Result<void> listen(const std::string& path);
  void close();  // also unlinks the path
  const std::string& path() const { return path_; }

 private:
  void on_readable();
  uv_loop_t* loop_;
  OnMessage on_message_;
  int fd_ = -1;
  std::string path_;
  UvHandle<uv_poll_t> poll_;
};

// Send one message to $NOTIFY_SOCKET if set (no-op returning ok otherwise).
// Supports filesystem paths and abstract sockets ("@name").
Result<void> notify_manager(std::string_view message);
bool manager_notify_enabled();

}  // namespace procd
