// The instance lock: the PID file, flock'ed for procd's lifetime and holding
// its PID. A second procd on the same file gets StateAlreadyRunning naming
// the holder; a stale file (nobody holds the lock) is taken over.
#pragma once

#include <string>
#include <sys/types.h>

#include "procd/error.hpp"

namespace procd {

class PidLock {
 public:
  PidLock() = default;
  PidLock(const PidLock&) = delete;
  PidLock& operator=(const PidLock&) = delete;
  PidLock(PidLock&& other) noexcept;
  PidLock& operator=(PidLock&& other) noexcept;
  ~PidLock();  // unlinks the file and closes the fd if held

  static Result<PidLock> acquire(const std::string& path);
  // PID written in a locked file, or 0 when no live procd holds it.
  static pid_t holder(const std::string& path);

  bool held() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  // Remove the file and drop the lock now (clean shutdown).
  void release();

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace procd
