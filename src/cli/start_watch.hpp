// What `procd start` waits on while the supervisor it forked comes up,
// without polling: one poll() over (1) a private sd_notify datagram socket
// given to the child as NOTIFY_SOCKET (procd run sends STATUS=/READY=1 there
// once its services were asked to start: the first message says the control
// socket is up), (2) a pidfd of the child (its exit), and (3) the child's
// `events` stream once subscribed (every state change). Each wake-up is one
// status snapshot for the caller to judge. Invariants: every wait is bounded
// by the caller's deadline; a kernel without pidfd_open falls back to a
// waitpid check at most every 100 ms (the only timed wake-up).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "procd/control_client.hpp"

namespace procd::cli {

class StartWatch {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Wake { Changed, ChildExited, Timeout };

  StartWatch();
  ~StartWatch();
  StartWatch(const StartWatch&) = delete;
  StartWatch& operator=(const StartWatch&) = delete;

  // "NOTIFY_SOCKET=@procd-start-…" for the child's environment; empty when
  // the socket could not be made (then the first wake-up is the 100 ms one).
  const std::string& notify_env() const { return notify_env_; }
  void attach(pid_t child);  // after fork: watch its exit
  // Blocks until something may have changed, the child exited (reaped:
  // `status` set), or `until`.
  Wake wait(Clock::time_point until, int& status);
  // Subscribe to the child's events on `socket` (once it answers).
  void subscribe(const std::string& socket);
  bool subscribed() const { return subscribed_; }

 private:
  bool child_exited(int& status);
  int notify_fd_ = -1;
  int pidfd_ = -1;
  pid_t child_ = 0;
  std::string notify_env_;
  ControlClient events_;
  bool subscribed_ = false;
};

}  // namespace procd::cli
