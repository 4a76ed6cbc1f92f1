// Watches the files a config is made of (the main file and every included
// one) and the directories of its include globs, with uv_fs_event on each
// DIRECTORY, so that in-place writes, editors' write-temp-then-rename,
// symlink swaps (Kubernetes ConfigMaps rename `..data`) and a drop-in
// appearing in or vanishing from conf.d are all seen. Bursts are debounced
// into one callback; the caller skips content it has already applied (by
// the hash of all the files). No polling: the kernel wakes us.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "procd/error.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class ConfigWatcher {
 public:
  // on_change(before_watch): before_watch when only the check of watch()
  // (a change between the read and the watch) asked for it.
  ConfigWatcher(uv_loop_t* loop, std::function<void(bool)> on_change, std::uint64_t debounce_ms = 150);
  ~ConfigWatcher() = default;
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Watch exactly these files and globs (absolute paths, as in
  // Config::sources / include_globs); called again after each reload, it
  // keeps the directories still needed and drops the others. A glob's
  // directory that does not exist yet is watched for in its parent. A
  // directory that cannot be watched is returned as an error; everything
  // else is still watched.
  //
  // `read_at_ns` (CLOCK_REALTIME, 0: unknown) is when the config these
  // files make was read: a watched file or directory changed since then
  // (its ctime, with a margin for the file system's coarse clock) changed
  // before its watch was armed, which no event reports, so one debounced
  // callback is made for it. The caller's "unchanged" check makes a false
  // alarm cheap.
  std::vector<Error> watch(const std::vector<std::string>& files, const std::vector<std::string>& globs,
                           std::int64_t read_at_ns);
  void stop();

 private:
  struct Dir {
    ConfigWatcher* owner = nullptr;
    std::string path;
    std::vector<std::string> names;     // files watched in it
    std::vector<std::string> patterns;  // fnmatch patterns of include globs in it
    UvHandle<uv_fs_event_t> event;
  };
  void on_event(const Dir& dir, const char* filename);
  bool changed_since(std::int64_t ns) const;

  uv_loop_t* loop_;
  std::function<void(bool)> on_change_;
  bool before_watch_ = false;
  std::uint64_t debounce_ms_;
  std::vector<std::unique_ptr<Dir>> dirs_;
  Timer debounce_;
};

}  // namespace procd
