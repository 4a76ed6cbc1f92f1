// ConfigWatcher: see config_watcher.hpp. One uv_fs_event per directory.
// Only events naming a watched file, a name matching an include glob, or a
// `..`-prefixed entry (the ConfigMap swap) count, so a log or PID file
// beside the config never triggers a re-read.
#include "procd/config_watcher.hpp"

#include <fmt/core.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace procd {
namespace {

std::pair<std::string, std::string> split_path(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace

ConfigWatcher::ConfigWatcher(uv_loop_t* loop, std::function<void(bool)> on_change, std::uint64_t debounce_ms)
    : loop_(loop), on_change_(std::move(on_change)), debounce_ms_(debounce_ms) {
  debounce_.init(loop_, [this] {
    bool before = before_watch_;
    before_watch_ = false;
    on_change_(before);
  });
}

std::vector<Error> ConfigWatcher::watch(const std::vector<std::string>& files, const std::vector<std::string>& globs,
                                        std::int64_t read_at_ns) {
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> wanted;
  for (const auto& f : files) {
    auto [dir, base] = split_path(f);
    wanted[dir].first.push_back(base);
  }
  for (const auto& g : globs) {
    auto [dir, pattern] = split_path(g);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 && dir != "/") {
      // conf.d does not exist yet: watch for its creation; the reload that
      // follows (or skips, content unchanged) calls watch() again.
      auto [parent, name] = split_path(dir);
      wanted[parent].first.push_back(name);
      continue;
    }
    wanted[dir].second.push_back(pattern);
  }
  // Keep the handles of directories still wanted (no event is lost while
  // reloading), close the others.
  std::erase_if(dirs_, [&](const std::unique_ptr<Dir>& d) { return wanted.count(d->path) == 0; });
  std::vector<Error> errors;
  for (auto& [path, what] : wanted) {
    // A copy, not the binding: clang 15 cannot capture a structured binding.
    auto it = std::find_if(dirs_.begin(), dirs_.end(), [&, dir_path = path](const auto& d) { return d->path == dir_path; });
    if (it == dirs_.end()) {
      auto dir = std::make_unique<Dir>();
      dir->owner = this;
      dir->path = path;
      dir->event.reset(dir.get());
      uv_fs_event_init(loop_, dir->event.get());
      int rc = uv_fs_event_start(
          dir->event.get(),
          [](uv_fs_event_t* h, const char* filename, int, int status) {
            if (status == 0 && h->data) {
              const Dir* d = owner_of<Dir>(h);
              d->owner->on_event(*d, filename);
            }
          },
          path.c_str(), 0);
      if (rc != 0) {
        errors.push_back(Error{Code::IoRead, fmt::format("cannot watch {} for config changes: {}", path, uv_strerror(rc)),
                               std::nullopt, {}});
        continue;  // the handle closes with `dir`
      }
      it = dirs_.insert(dirs_.end(), std::move(dir));
    }
    (*it)->names = std::move(what.first);
    (*it)->patterns = std::move(what.second);
  }
  if (read_at_ns > 0 && !debounce_.is_active() && changed_since(read_at_ns)) {
    before_watch_ = true;
    debounce_.schedule(static_cast<std::int64_t>(debounce_ms_));
  }
  return errors;
}

// A file's ctime comes from the kernel's coarse clock (up to a jiffy
// behind the one read_at_ns was taken from): anything within this margin
// before the read counts as after it.
constexpr std::int64_t kCoarseClockMarginNs = 50'000'000;

bool ConfigWatcher::changed_since(std::int64_t ns) const {
  auto newer = [&](const std::string& path) {
    struct stat st {};
    auto ctime = [&] { return std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec; };
    // lstat: a symlink swapped; stat: the file it points to written.
    return (::lstat(path.c_str(), &st) == 0 && ctime() >= ns - kCoarseClockMarginNs) ||
           (::stat(path.c_str(), &st) == 0 && ctime() >= ns - kCoarseClockMarginNs);
  };
  for (const auto& d : dirs_) {
    // A drop-in added, removed or renamed in a glob's directory. (Not every
    // watched directory: procd's own socket, pid and log files beside the
    // config are made after the read.)
    if (!d->patterns.empty() && newer(d->path)) return true;
    for (const auto& name : d->names)
      if (newer(d->path + "/" + name)) return true;
  }
  return false;
}

void ConfigWatcher::stop() {
  dirs_.clear();
  debounce_.close();
}

void ConfigWatcher::on_event(const Dir& dir, const char* filename) {
  if (filename != nullptr && std::strncmp(filename, "..", 2) != 0) {
    bool named = std::find(dir.names.begin(), dir.names.end(), filename) != dir.names.end();
    bool matched = std::any_of(dir.patterns.begin(), dir.patterns.end(),
                               [&](const std::string& p) { return ::fnmatch(p.c_str(), filename, FNM_PERIOD) == 0; });
    if (!named && !matched) return;
  }
  // (Re)start the quiet period: a burst of writes gives one callback.
  before_watch_ = false;
  debounce_.schedule(static_cast<std::int64_t>(debounce_ms_));
}

}  // namespace procd
