// Where `procd run -- CMD` keeps its socket and PID file when there is no
// config file (config_load.hpp): a run directory a container user expects,
// found again by `procd status` in another shell, never the working
// directory (which may be read-only, shared, or the application's own).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "procd/config_load.hpp"

namespace procd {

std::string bare_run_dir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/procd";
  if (::geteuid() == 0) return "/run/procd";
  return fmt::format("/tmp/procd-{}", ::geteuid());
}

std::string bare_config_path() { return bare_run_dir() + "/procd.toml"; }

bool no_config_anywhere(const std::string& explicit_path) {
  if (!explicit_path.empty()) return false;
  if (const char* env = std::getenv("PROCD_CONFIG"); env != nullptr && *env != '\0') return false;
  std::error_code ec;
  return !std::filesystem::exists(find_config_path(""), ec);
}

Result<void> make_bare_run_dir() {
  const std::string dir = bare_run_dir();
  auto unsafe = [&](const std::string& why) {
    return make_error(Code::ConfigRunDirUnsafe,
                      fmt::format("run directory {}: {} (procd run -- CMD without a config keeps its socket and PID "
                                  "file there; set XDG_RUNTIME_DIR or pass -c FILE)", dir, why));
  };
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return unsafe(std::strerror(errno));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return unsafe(std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return unsafe("not a directory (a symlink or file is refused)");
  if (st.st_uid != ::geteuid()) return unsafe(fmt::format("owned by uid {}, not {}", st.st_uid, ::geteuid()));
  if ((st.st_mode & 077) != 0) return unsafe(fmt::format("mode {:o}: others have access", st.st_mode & 0777));
  return {};
}

}  // namespace procd
