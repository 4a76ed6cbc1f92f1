// The control socket's listening end: creates the socket file safely and
// accepts clients itself (not through uv_listen), so that running out of
// file descriptors is seen, logged and answered instead of hidden.
//
// Socket file: never replaces a symlink or a non-socket, refuses a live
// socket, replaces a stale one; bound under a umask that yields the mode;
// the mode and group are then changed only through an O_PATH|O_NOFOLLOW
// descriptor checked to be a socket we own (no path is followed).
//
// Accepting: at most kMaxAcceptsPerTurn clients per loop iteration. When
// accept fails for lack of fds (EMFILE/ENFILE), the error is logged once per
// episode with its code, and each waiting client is taken on a reserved fd,
// told so (a ResourceFds error reply) and closed: the listener never spins on
// a backlog it cannot accept. Without a reserved fd, watching pauses for
// kRetryMs. The episode ends with the next accepted client.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "procd/config.hpp"
#include "procd/error.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class ControlListener {
 public:
  using OnClient = std::function<void(int fd)>;  // a connected, non-blocking, close-on-exec fd
  static constexpr int kMaxAcceptsPerTurn = 32;
  static constexpr std::int64_t kRetryMs = 200;

  explicit ControlListener(uv_loop_t* loop) : loop_(loop) {}
  ~ControlListener() { close(); }
  ControlListener(const ControlListener&) = delete;
  ControlListener& operator=(const ControlListener&) = delete;

  // Create, bind and listen on cfg.socket; group_gid (or -1) owns the file.
  Result<void> open(const ControlConfig& cfg, gid_t group_gid);
  void start(OnClient on_client);
  // Stop accepting, close the socket, remove the file. Idempotent.
  void close();
  bool is_open() const { return fd_ >= 0; }

 private:
  void watch();
  void on_readable();
  void refuse_waiting_clients(int err);

  uv_loop_t* loop_;
  std::string path_;
  int fd_ = -1;
  int reserve_fd_ = -1;  // kept free for refusing clients when fds run out
  UvHandle<uv_poll_t> poll_;
  Timer retry_;
  OnClient on_client_;
  bool refusing_ = false;  // an accept error was logged; the next accepted client clears it
};

}  // namespace procd
