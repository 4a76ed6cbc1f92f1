// CPU and RSS accounting of a service's process group from Linux /proc.
// parse_proc_stat() is pure and total (any unexpected text yields nullopt,
// never a throw); sample_group() reads /proc once per call and tolerates
// processes vanishing between readdir and open, which is the normal case for
// short-lived children. Nothing here polls: the supervisor calls it from its
// sampling timer only.
#include "procd/resources.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace procd {
namespace {

// Field numbers of proc(5), 1-based; counting restarts after comm, whose
// closing ')' is field 2's end, so field N is token N-3 after it.
constexpr std::size_t kFieldState = 3;
constexpr std::size_t kFieldPpid = 4;
constexpr std::size_t kFieldPgrp = 5;
constexpr std::size_t kFieldUtime = 14;
constexpr std::size_t kFieldStime = 15;
constexpr std::size_t kFieldRss = 24;

template <typename T>
bool parse_int(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

// Whitespace-separated tokens of the part after comm, up to `max` of them.
std::vector<std::string_view> split_fields(std::string_view text, std::size_t max) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size() && out.size() < max) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

// /proc/PID/stat is well under a page; read it in one go. Returns false when
// the process is gone (ENOENT / ESRCH) or unreadable, which callers skip.
bool read_small_file(const char* path, std::string& out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > 64 * 1024) break;  // never true for a stat file; a bound all the same
  }
  ::close(fd);
  return !out.empty();
}

std::uint64_t page_size() {
  static const std::uint64_t size = [] {
    long v = ::sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<std::uint64_t>(v) : 4096u;
  }();
  return size;
}

std::uint64_t clock_ticks_per_second() {
  static const std::uint64_t hz = [] {
    long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<std::uint64_t>(v) : 100u;
  }();
  return hz;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  // comm is "(" + up to 15 bytes of the executable name + ")" and may itself
  // contain spaces and ')' (a process can name itself "a) b"); only the last
  // ')' of the line closes it, since no later field can hold one.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;

  ProcStat st;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && std::isspace(static_cast<unsigned char>(pid_text.back()))) pid_text.remove_suffix(1);
  while (!pid_text.empty() && std::isspace(static_cast<unsigned char>(pid_text.front()))) pid_text.remove_prefix(1);
  if (!parse_int(pid_text, st.pid) || st.pid <= 0) return std::nullopt;

  auto fields = split_fields(text.substr(close + 1), kFieldRss - kFieldState + 1);
  if (fields.size() < kFieldRss - kFieldState + 1) return std::nullopt;
  auto field = [&](std::size_t n) { return fields[n - kFieldState]; };

  if (field(kFieldState).size() != 1) return std::nullopt;
  st.state = field(kFieldState)[0];
  if (!parse_int(field(kFieldPpid), st.ppid)) return std::nullopt;
  if (!parse_int(field(kFieldPgrp), st.pgid)) return std::nullopt;
  if (!parse_int(field(kFieldUtime), st.utime_ticks)) return std::nullopt;
  if (!parse_int(field(kFieldStime), st.stime_ticks)) return std::nullopt;
  // rss is a signed long in the kernel; a negative value has been seen
  // transiently on some kernels, and means "nothing resident" for us.
  std::int64_t rss = 0;
  if (!parse_int(field(kFieldRss), rss)) return std::nullopt;
  st.rss_pages = rss > 0 ? static_cast<std::uint64_t>(rss) : 0;
  return st;
}

GroupUsage sample_group(pid_t pgid) {
  GroupUsage usage;
  if (pgid <= 0) return usage;
  DIR* dir = ::opendir("/proc");
  if (!dir) return usage;
  std::string text;
  char path[300];  // "/proc/" + d_name (up to 255) + "/stat"
  while (struct dirent* ent = ::readdir(dir)) {
    const char* name = ent->d_name;
    if (name[0] < '1' || name[0] > '9') continue;  // only /proc/[0-9]*
    bool numeric = true;
    for (const char* p = name; *p; ++p) numeric = numeric && std::isdigit(static_cast<unsigned char>(*p));
    if (!numeric) continue;
    std::snprintf(path, sizeof path, "/proc/%s/stat", name);
    if (!read_small_file(path, text)) continue;  // exited since readdir
    auto st = parse_proc_stat(text);
    if (!st || st->pgid != pgid) continue;
    // A zombie holds no memory and its CPU time moves to the parent on
    // reaping; counting it would double-count that time for one sample.
    if (st->state == 'Z' || st->state == 'X') continue;
    usage.cpu_ticks += st->utime_ticks + st->stime_ticks;
    usage.rss_bytes += st->rss_pages * page_size();
    ++usage.processes;
  }
  ::closedir(dir);
  return usage;
}

double cpu_percent(std::uint64_t ticks_before, std::uint64_t ticks_after, std::int64_t elapsed_ms) {
  // The group's tick sum can shrink when a member exits between samples;
  // report idle rather than a negative or wrapped-around figure.
  if (elapsed_ms <= 0 || ticks_after <= ticks_before) return 0.0;
  double seconds = ticks_to_seconds(ticks_after - ticks_before);
  return seconds * 100000.0 / static_cast<double>(elapsed_ms);
}

double ticks_to_seconds(std::uint64_t ticks) {
  return static_cast<double>(ticks) / static_cast<double>(clock_ticks_per_second());
}

}  // namespace procd
