// ConfigWatcher: see config_watcher.hpp. Only events naming the config
// file itself or a `..`-prefixed entry (the ConfigMap swap) count, so a log
// or PID file beside the config never triggers a re-read.
#include "procd/config_watcher.hpp"

#include <fmt/core.h>

#include <cstring>

namespace procd {

ConfigWatcher::ConfigWatcher(uv_loop_t* loop, std::string config_path, std::function<void()> on_change,
                             std::uint64_t debounce_ms)
    : loop_(loop), path_(std::move(config_path)), on_change_(std::move(on_change)), debounce_ms_(debounce_ms) {
  auto slash = path_.rfind('/');
  dir_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
  base_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
}

Result<void> ConfigWatcher::start() {
  debounce_.init(loop_, [this] { on_change_(); });
  event_.reset(this);
  uv_fs_event_init(loop_, event_.get());
  int rc = uv_fs_event_start(
      event_.get(),
      [](uv_fs_event_t* h, const char* filename, int, int status) {
        if (status == 0 && h->data) owner_of<ConfigWatcher>(h)->on_event(filename);
      },
      dir_.c_str(), 0);
  if (rc != 0) {
    event_.close();
    return make_error(Code::IoRead, fmt::format("cannot watch {} for config changes: {}", dir_, uv_strerror(rc)));
  }
  return {};
}

void ConfigWatcher::stop() {
  event_.close();
  debounce_.close();
}

void ConfigWatcher::on_event(const char* filename) {
  if (filename && base_ != filename && std::strncmp(filename, "..", 2) != 0) return;
  // (Re)start the quiet period: a burst of writes gives one callback.
  debounce_.schedule(static_cast<std::int64_t>(debounce_ms_));
}

}  // namespace procd
