#include "start_watch.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "control_internal.hpp"

namespace procd::cli {

StartWatch::StartWatch() {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  // An abstract name: nothing on disk to clean up, unique per attempt.
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  std::string name = fmt::format("procd-start-{}-{}", ::getpid(), ts.tv_nsec);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    ::close(fd);
    return;
  }
  notify_fd_ = fd;
  notify_env_ = "NOTIFY_SOCKET=@" + name;
}

StartWatch::~StartWatch() {
  if (notify_fd_ >= 0) ::close(notify_fd_);
  if (pidfd_ >= 0) ::close(pidfd_);
}

void StartWatch::attach(pid_t child) {
  child_ = child;
#ifdef SYS_pidfd_open
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
#endif
}

bool StartWatch::child_exited(int& status) { return ::waitpid(child_, &status, WNOHANG) == child_; }

void StartWatch::subscribe(const std::string& socket) {
  if (subscribed_) return;
  if (!events_.connect(socket, 2000).ok()) return;
  subscribed_ = events_.open_stream(make_request("events"), 2000).ok();
}

StartWatch::Wake StartWatch::wait(Clock::time_point until, int& status) {
  for (;;) {
    if (child_exited(status)) return Wake::ChildExited;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return Wake::Timeout;
    // Without a pidfd or a notify socket the child's exit or first message
    // cannot wake us: look again at least every 100 ms.
    if (pidfd_ < 0 || (notify_fd_ < 0 && !subscribed_)) left = std::min<long long>(left, 100);
    pollfd fds[3];
    nfds_t n = 0;
    int ev = -1;
    if (notify_fd_ >= 0) fds[n++] = {notify_fd_, POLLIN, 0};
    if (pidfd_ >= 0) fds[n++] = {pidfd_, POLLIN, 0};
    if (subscribed_) {
      ev = static_cast<int>(n);
      fds[n++] = {events_.fd(), POLLIN, 0};
    }
    int r = ::poll(fds, n, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (pidfd_ < 0 || (notify_fd_ < 0 && !subscribed_)) return Wake::Changed;  // the 100 ms look
      continue;  // the deadline: checked at the top
    }
    bool changed = false;
    if (notify_fd_ >= 0 && (fds[0].revents & POLLIN)) {
      char buf[4096];
      while (::recv(notify_fd_, buf, sizeof buf, 0) > 0) changed = true;
    }
    if (ev >= 0 && fds[ev].revents) {
      // Every event (or the stream's end) is a change; read all there is.
      for (;;) {
        auto item = events_.next_item(0);
        if (!item.ok()) {
          subscribed_ = false;  // the supervisor went away: its exit wakes us next
          changed = true;
          break;
        }
        if (!*item) break;
        changed = true;
      }
    }
    if (changed) return Wake::Changed;
  }
}

}  // namespace procd::cli
