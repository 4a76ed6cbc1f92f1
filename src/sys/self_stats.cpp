// read_self_metrics (procd/self_stats.hpp).
#include "procd/self_stats.hpp"

#include <dirent.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <fstream>
#include <sstream>
#include <string>

#include "procd/file_io.hpp"
#include "procd/proc_reader.hpp"
#include "procd/resources.hpp"

namespace procd {
namespace {

// "" when unreadable; /proc/stat grows with the CPUs and IRQs: 1 MiB.
std::string slurp(const char* path) {
  auto text = read_bounded(path, ReadPolicy{std::size_t{1} << 20, false, true});
  return text.ok() ? std::move(*text) : std::string();
}

// Field 22 of /proc/self/stat (starttime, in clock ticks after boot) plus
// the boot time: seconds since the epoch. Fixed for the process's life.
double start_time_seconds() {
  std::string stat = slurp("/proc/self/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
  }
  std::istringstream boot(slurp("/proc/stat"));
  std::string key;
  long long btime = 0;
  while (boot >> key)
    if (key == "btime" && boot >> btime) break;
  return static_cast<double>(btime) + ticks_to_seconds(std::stoull(field.empty() ? "0" : field));
}

std::uint64_t open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return 0;
  std::uint64_t n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // the descriptor opendir itself holds
}

}  // namespace

std::optional<ProcessMetrics> read_self_metrics() {
  auto st = read_proc_stat(::getpid());
  if (!st) return std::nullopt;
  static const double started = start_time_seconds();
  ProcessMetrics m;
  m.cpu_seconds = ticks_to_seconds(st->utime_ticks + st->stime_ticks);
  m.resident_bytes = st->rss_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  m.open_fds = open_fds();
  m.start_time_seconds = started;
  return m;
}

void release_free_heap() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

}  // namespace procd
