// The two doors through which procd touches files by path.
//
// open_for_write: every file procd WRITES (its own log, `procd start`'s log,
// the PID file, service log files). O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, then
// fstat: only a regular file with a single link (st_nlink == 1) is accepted,
// so a symlink or hard link planted in a directory others can write never
// redirects root's writes, and a FIFO never blocks. O_TRUNC is applied only
// after those checks. The returned fd is blocking again (regular files never
// return EAGAIN).
//
// read_bounded: everything procd READS (config, includes, env_file, token,
// /proc, cgroupfs). Non-blocking open (a FIFO cannot hang the loop), the
// policy in arguments: a size bound, whether a symlink is followed, whether
// only a regular file is accepted.
//
// Errors carry the reason only ("is a symbolic link (not followed)", "not a
// regular file (a FIFO)", "has 2 hard links", "larger than 4096 bytes", or
// strerror); callers prefix the path and pick the code for their context.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "procd/error.hpp"

namespace procd {

// `flags` are the access flags (O_WRONLY/O_RDWR, O_APPEND, O_CREAT, O_TRUNC).
// Codes: IoOpen, ResourceFds (EMFILE/ENFILE), ResourceDiskFull (ENOSPC/EDQUOT).
// On success the fd is the caller's to close.
Result<int> open_for_write(const std::string& path, int flags, mode_t mode = 0644);

struct ReadPolicy {
  std::size_t max_bytes = 1 << 20;  // content above this is an error, never read to the end
  bool follow_symlinks = false;     // O_NOFOLLOW unless true
  bool regular_only = true;         // fstat S_ISREG, before any read
};

// The whole content. Codes: IoOpen (open or file type), IoRead (read failed
// or larger than max_bytes), ResourceFds. `st`, when given, receives the
// fstat of the file that was read (owner, mode).
Result<std::string> read_bounded(const std::string& path, const ReadPolicy& policy, struct stat* st = nullptr);

// "a FIFO", "a directory", "a character device", ... for a st_mode.
const char* file_type_name(mode_t mode);

}  // namespace procd
