// LogOutput: see log_output.hpp. The queue is a deque of chunks of whole
// lines (a chunk is closed only between appends), written with writev from
// head_ in the first chunk.
#include "procd/log_output.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "procd/self_stats.hpp"

namespace procd {
namespace {

constexpr int kMaxIov = 16;
constexpr int kPipeSize = 1024 * 1024;

// A private open file description of a pipe or terminal at `fd`, non-blocking;
// -1 when the system does not give one (then the caller shares fd's).
int reopen_private(int fd, const struct stat& st) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int nfd = ::open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (nfd < 0) return -1;
  struct stat again {};
  if (::fstat(nfd, &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
    ::close(nfd);
    return -1;
  }
  return nfd;
}

}  // namespace

std::unique_ptr<LogOutput> LogOutput::to_stderr(int fd) {
  std::unique_ptr<LogOutput> out(new LogOutput());
  out->fd_ = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    out->gone_ = true;  // no stderr at all: discard
    return out;
  }
  if (S_ISSOCK(st.st_mode)) {
    out->kind_ = Kind::Socket;
  } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
    if (int nfd = reopen_private(fd, st); nfd >= 0) {
      out->fd_ = nfd;
      out->own_fd_ = true;
#ifdef F_SETPIPE_SZ
      // A bigger pipe to the reader: fewer EAGAIN round trips at full speed (best effort).
      if (S_ISFIFO(st.st_mode) && ::fcntl(nfd, F_GETPIPE_SZ) < kPipeSize) ::fcntl(nfd, F_SETPIPE_SZ, kPipeSize);
#endif
    } else {
      // No private description (no /proc, a FIFO opened elsewhere without
      // permission for us): non-blocking on the shared one is still better
      // than a loop that can freeze.
      int fl = ::fcntl(fd, F_GETFL);
      if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
  }
  return out;
}

std::unique_ptr<LogOutput> LogOutput::to_file(std::unique_ptr<RotatingFile> file) {
  std::unique_ptr<LogOutput> out(new LogOutput());
  out->kind_ = Kind::File;
  out->file_ = std::move(file);
  return out;
}

LogOutput::~LogOutput() {
  stop_writer();
  if (own_fd_) ::close(fd_);
}

std::string& LogOutput::next_chunk() {
  std::string chunk;
  chunk.swap(spare_);
  chunk.clear();  // no reserve: before the loop (procd's first lines) a chunk grows with its lines
  return chunks_.emplace_back(std::move(chunk));
}

std::string& LogOutput::tail() {
  if (threaded_) {
    tail_mark_ = local_.size();
    return local_;
  }
  std::string& t = chunks_.empty() || chunks_.back().size() >= kChunk ? next_chunk() : chunks_.back();
  tail_mark_ = t.size();
  return t;
}

void LogOutput::committed() {
  if (threaded_) {
    std::size_t added = local_.size() - tail_mark_;
    tail_mark_ = local_.size();
    if (gone_) {
      local_.clear();
      tail_mark_ = 0;
      return;
    }
    pending_ += added;
    if (local_.size() >= kChunk) hand_over();
    return;
  }
  pending_ += chunks_.back().size() - tail_mark_;
  tail_mark_ = chunks_.back().size();
  if (gone_) {  // nobody to write to: keep nothing
    chunks_.clear();
    head_ = pending_ = tail_mark_ = 0;
  }
}

void LogOutput::consumed(std::size_t n) {
  pending_ -= n;
  while (n > 0) {
    std::size_t left = chunks_.front().size() - head_;
    if (n < left) {
      head_ += n;
      return;
    }
    n -= left;
    head_ = 0;
    if (!threaded_ && chunks_.size() == 1) tail_mark_ = 0;
    if (chunks_.front().capacity() <= 2 * kChunk) spare_.swap(chunks_.front());
    chunks_.pop_front();
  }
}

ssize_t LogOutput::write_iov(struct iovec* iov, int cnt) {
  if (kind_ != Kind::Socket) return ::writev(fd_, iov, cnt);
  struct msghdr msg {};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<std::size_t>(cnt);
  return ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

LogOutput::Progress LogOutput::write_some() {
  if (threaded_) {
    hand_over();
    return pending_ == 0 ? Progress::Drained : Progress::Again;
  }
  while (pending_ > 0) {
    if (gone_) {
      consumed(pending_);
      return Progress::Gone;
    }
    if (kind_ == Kind::File) {
      std::string_view data = std::string_view(chunks_.front()).substr(head_);
      auto w = file_->write(data);
      consumed(w.written);
      if (w.error && w.error->code != Code::IoRotate) {
        error_ = w.error;
        return Progress::Failed;
      }
      error_.reset();
      continue;
    }
    struct iovec iov[kMaxIov];
    int cnt = 0;
    for (std::size_t i = 0; i < chunks_.size() && cnt < kMaxIov; ++i) {
      std::size_t from = i == 0 ? head_ : 0;
      if (chunks_[i].size() > from) iov[cnt++] = {chunks_[i].data() + from, chunks_[i].size() - from};
    }
    ssize_t n = write_iov(iov, cnt);
    if (n > 0) {
      consumed(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Progress::Again;
    if (n < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EIO)) {  // a full disk behind stderr: retry later
      error_ = make_error(Code::ResourceDiskFull, fmt::format("cannot write procd's log: {}", std::strerror(errno)));
      return Progress::Failed;
    }
    gone_ = true;  // EPIPE, EBADF, …: the reader is gone for good
  }
  return Progress::Drained;
}

void LogOutput::flush_blocking(int stall_ms) {
  using clock = std::chrono::steady_clock;
  auto last_progress = clock::now();
  while (pending_ > 0) {
    std::size_t before = pending_;
    Progress p = write_some();
    if (p == Progress::Drained || p == Progress::Gone) return;
    if (pending_ < before) last_progress = clock::now();
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - last_progress).count();
    if (waited >= stall_ms) return;  // the reader stopped: do not hang procd's exit on it
    if (p == Progress::Again && fd_ >= 0) {
      struct pollfd pfd {fd_, POLLOUT, 0};
      ::poll(&pfd, 1, static_cast<int>(std::min<long>(stall_ms - waited, 100)));
    } else {
      ::usleep(10 * 1000);  // a full disk: try again shortly
    }
  }
}

}  // namespace procd

// ---- the writer thread ---------------------------------------------------------

namespace procd {

void LogOutput::start_writer(std::function<void()> wake) {
  if (threaded_) return;
  wake_ = std::move(wake);
  stop_ = false;
  local_.clear();
  tail_mark_ = 0;
  threaded_ = true;
  // The thread starts with every signal blocked: they stay the loop thread's
  // (libuv's handlers, SIGCHLD), and its poll/write never see EINTR.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  writer_ = std::thread([this] { writer_main(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void LogOutput::stop_writer() {
  if (!threaded_) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
  threaded_ = false;
  if (!local_.empty()) chunks_.push_back(std::move(local_));  // the queue is whole again
  local_.clear();
  tail_mark_ = chunks_.empty() ? 0 : chunks_.back().size();
}

void LogOutput::hand_over() {
  if (local_.empty()) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    chunks_.push_back(std::move(local_));
    local_.swap(spare_);
  }
  local_.clear();
  local_.reserve(kChunk + kChunk / 4);
  tail_mark_ = 0;
  cv_.notify_one();
}

// The loop only appends chunks (a deque keeps its elements in place), so the
// bytes can be written without holding the lock.
LogOutput::Progress LogOutput::write_front() {
  struct iovec iov[kMaxIov];
  int cnt = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (std::size_t i = 0; i < chunks_.size() && cnt < kMaxIov; ++i) {
      std::size_t from = i == 0 ? head_ : 0;
      if (chunks_[i].size() > from) iov[cnt++] = {chunks_[i].data() + from, chunks_[i].size() - from};
    }
  }
  if (cnt == 0) return Progress::Drained;
  std::size_t done = 0;
  Progress result = Progress::Drained;
  if (kind_ == Kind::File) {
    auto w = file_->write(std::string_view(static_cast<const char*>(iov[0].iov_base), iov[0].iov_len));
    done = w.written;
    if (w.error && w.error->code != Code::IoRotate) {
      error_ = w.error;
      result = Progress::Failed;
    }
  } else {
    ssize_t n = write_iov(iov, cnt);
    if (n > 0) done = static_cast<std::size_t>(n);
    else if (n < 0 && errno == EINTR) result = Progress::Drained;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) result = Progress::Again;
    else if (n < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EIO)) {
      error_ = make_error(Code::ResourceDiskFull, fmt::format("cannot write procd's log: {}", std::strerror(errno)));
      result = Progress::Failed;
    } else {
      result = Progress::Gone;
    }
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (result == Progress::Gone) {
    gone_ = true;  // nobody reads any more: drop what is queued, and (committed) what comes
    done = 0;
    for (std::size_t i = 0; i < chunks_.size(); ++i) done += chunks_[i].size() - (i == 0 ? head_ : 0);
  }
  consumed(done);
  return result;
}

void LogOutput::writer_main() {
  bool told = false;  // a write error was reported; once per outage
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    auto work = [&] { return stop_ || !chunks_.empty(); };
    if (spare_.capacity() <= kSmallSpare) {
      cv_.wait(lk, work);
    } else if (!cv_.wait_for(lk, std::chrono::milliseconds(200), work)) {
      // 200 ms without lines: the spare chunk goes (it holds the pages the
      // last burst touched: procd's start, ~0.4 MiB at N=1000) and the heap
      // is trimmed, since glibc gives pages inside the heap back only then.
      // A busy log never waits this long, so it keeps its chunk reuse.
      spare_ = std::string();
      lk.unlock();
      release_free_heap();
      lk.lock();
      continue;
    }
    if (stop_) return;
    lk.unlock();
    Progress p = write_front();
    if (p == Progress::Again && fd_ >= 0) {
      struct pollfd pfd {fd_, POLLOUT, 0};
      ::poll(&pfd, 1, 100);  // bounded: stop_ is looked at again
    } else if (p == Progress::Failed) {
      if (!told && error_) {
        told = true;
        // Straight to stderr: procd's log itself is what cannot be written.
        std::string msg = fmt::format("procd: error[{}]: {} (retrying; service output held back)\n",
                                      static_cast<int>(error_->code), error_->message);
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg.data(), msg.size());
      }
      lk.lock();
      cv_.wait_for(lk, std::chrono::seconds(1), [&] { return stop_; });
      lk.unlock();
    } else {
      told = false;
    }
    if (want_wake_ && pending_ < kLowWater) {
      want_wake_ = false;
      if (wake_) wake_();
    }
    lk.lock();
  }
}

}  // namespace procd
