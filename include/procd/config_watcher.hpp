// Watches the config file for changes with uv_fs_event on its DIRECTORY, so
// that in-place writes, editors' write-temp-then-rename, and symlink swaps
// (Kubernetes ConfigMaps rename `..data`) are all seen. Bursts are
// debounced into one callback; the caller skips content it has already
// applied (by hash). No polling: the kernel wakes us.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "procd/error.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class ConfigWatcher {
 public:
  ConfigWatcher(uv_loop_t* loop, std::string config_path, std::function<void()> on_change,
                std::uint64_t debounce_ms = 150);
  ~ConfigWatcher() = default;
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  Result<void> start();
  void stop();

 private:
  void on_event(const char* filename);
  uv_loop_t* loop_;
  std::string path_, dir_, base_;
  std::function<void()> on_change_;
  std::uint64_t debounce_ms_;
  UvHandle<uv_fs_event_t> event_;
  Timer debounce_;
};

}  // namespace procd
