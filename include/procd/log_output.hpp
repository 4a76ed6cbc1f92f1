// Where procd's own log goes — stderr (pipe, terminal, socket or file) or a
// RotatingFile — behind a byte queue that is written without blocking.
//
// Lines are appended to the queue (never blocking, never dropped: callers
// stop producing service lines while backlogged(), which is the
// back-pressure) and written by write_some(), which takes what the
// destination accepts now. When stderr is a pipe or terminal, procd writes
// through a private non-blocking open of it (/proc/self/fd/2), so its own
// O_NONBLOCK never leaks into the shell or the processes sharing that
// description; a socket is written with MSG_DONTWAIT; a regular file is
// written as is.
//
// With start_writer() (the supervisor's loop runs), the writes move to one
// writer thread: the loop only formats into its own tail chunk and hands
// whole chunks over under a mutex, so formatting and the kernel's copy run
// on two cores. The thread owns the destination until stop_writer(); it
// waits for a slow reader in poll() and retries a full disk, never touching
// anything else of procd's. Without the thread, write_some() writes on the
// caller's thread, never blocking.
//
// Invariants: bytes leave in the order they were appended; a write that
// takes part of the queue leaves exactly the rest queued (nothing written
// twice); once the destination is gone (EPIPE, EBADF) the queue is dropped
// and later output is discarded, since there is nobody to tell.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <sys/types.h>
#include <sys/uio.h>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "procd/error.hpp"
#include "procd/output.hpp"

namespace procd {

class LogOutput {
 public:
  enum class Progress { Drained, Again, Gone, Failed };

  static constexpr std::size_t kChunk = 256 * 1024;
  static constexpr std::size_t kSmallSpare = 4096;  // a spare up to this size is kept while idle
  static constexpr std::size_t kHighWater = 4 * 1024 * 1024;  // pause service output above this
  static constexpr std::size_t kLowWater = 1024 * 1024;       // resume below this

  // stderr (fd 2 unless given): see the header paragraph.
  static std::unique_ptr<LogOutput> to_stderr(int fd = 2);
  static std::unique_ptr<LogOutput> to_file(std::unique_ptr<RotatingFile> file);
  ~LogOutput();
  LogOutput(const LogOutput&) = delete;
  LogOutput& operator=(const LogOutput&) = delete;

  // Where to append the next line(s); call committed() after appending.
  std::string& tail();
  void committed();
  void append(std::string_view bytes) {
    tail().append(bytes);
    committed();
  }

  // Write what the destination takes now, without blocking.
  Progress write_some();
  // At exit: write everything, waiting for a slow reader as long as it keeps
  // taking bytes; give up after `stall_ms` without progress.
  void flush_blocking(int stall_ms);

  // The oldest queued bytes (part of the queue), and dropping them unwritten
  // (handing a backlog to a new destination).
  std::string_view front() const {
    return chunks_.empty() ? std::string_view{} : std::string_view(chunks_.front()).substr(head_);
  }
  void discard(std::size_t n) { consumed(n); }

  // The writer thread; `wake` is called from it when a backlog fell below
  // kLowWater after backlogged() said yes (the caller wakes its loop).
  void start_writer(std::function<void()> wake);
  // Joins it promptly (after its current write call); what it did not write stays queued.
  void stop_writer();
  bool threaded() const { return threaded_; }

  std::size_t pending() const { return pending_; }
  bool backlogged() {
    if (pending_ < kHighWater) return false;
    want_wake_ = true;
    return true;
  }
  RotatingFile* file() const { return file_.get(); }
  int fd() const { return fd_; }  // -1 for a file

 private:
  enum class Kind { Stream, Socket, File };
  LogOutput() = default;
  std::string& next_chunk();
  void consumed(std::size_t n);
  ssize_t write_iov(struct iovec* iov, int cnt);  // writev, or sendmsg without blocking for a socket
  void hand_over();    // threaded: the loop's tail chunk joins the queue
  void writer_main();  // the thread
  // One write attempt of the queue's front; updates the queue (locked).
  Progress write_front();

  Kind kind_ = Kind::Stream;
  int fd_ = -1;
  bool own_fd_ = false;
  std::atomic<bool> gone_{false};
  bool threaded_ = false;
  std::unique_ptr<RotatingFile> file_;
  std::deque<std::string> chunks_;  // queued bytes; the first from head_ on
  std::size_t head_ = 0;
  std::atomic<std::size_t> pending_{0};
  // Threaded mode: `local_` is the loop's tail; chunks_/head_/spare_ are
  // shared with the writer under mu_.
  std::string local_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread writer_;
  bool stop_ = false;
  std::atomic<bool> want_wake_{false};
  std::function<void()> wake_;
  std::size_t tail_mark_ = 0;  // size of the tail chunk when tail() handed it out
  std::string spare_;  // a drained chunk kept for reuse; let go after 200 ms without lines (writer_main)
  std::optional<Error> error_;
};

}  // namespace procd
