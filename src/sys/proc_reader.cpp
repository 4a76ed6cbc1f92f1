// The one reader of Linux /proc (see proc_reader.hpp). Invariants:
// - parse_proc_stat() finds comm by the LAST ')' of the line: comm may hold
//   spaces and parentheses, no later field can hold a ')'.
// - A stat file is read with one open and a bounded read loop (it is well
//   under a page); a process gone since readdir is skipped, never an error.
// - Every fd opened here is O_CLOEXEC and closed before returning.
#include "procd/proc_reader.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "procd/file_io.hpp"

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

// Returns false when the file is gone (ENOENT / ESRCH), unreadable, or
// over 64 KiB (never true for a stat file; a bound all the same).
bool read_small_file(const char* path, std::string& out) {
  auto text = read_bounded(path, ReadPolicy{64 * 1024, false, true});
  if (!text.ok()) return false;
  out = std::move(*text);
  return !out.empty();
}

bool all_digits(const char* s) {
  if (*s < '1' || *s > '9') return false;
  for (; *s; ++s)
    if (!std::isdigit(static_cast<unsigned char>(*s))) return false;
  return true;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
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

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::string text;
  if (!read_small_file(path, text)) return std::nullopt;
  return parse_proc_stat(text);
}

void for_each_proc_stat(const std::function<void(const ProcStat&)>& visit) {
  DIR* dir = ::opendir("/proc");
  if (!dir) return;
  std::string text;
  char path[300];  // "/proc/" + d_name (up to 255) + "/stat"
  while (struct dirent* ent = ::readdir(dir)) {
    if (!all_digits(ent->d_name)) continue;  // only /proc/[1-9][0-9]*
    std::snprintf(path, sizeof path, "/proc/%s/stat", ent->d_name);
    if (!read_small_file(path, text)) continue;  // exited since readdir
    if (auto st = parse_proc_stat(text)) visit(*st);
  }
  ::closedir(dir);
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  // One "children" file per thread; for a single-threaded parent tid == pid.
  char path[96];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/children", static_cast<int>(parent), static_cast<int>(parent));
  if (std::string text; read_small_file(path, text) || ::access(path, R_OK) == 0) {
    long pid = 0;
    for (const char* p = text.c_str(); *p;) {
      char* end = nullptr;
      pid = std::strtol(p, &end, 10);
      if (end == p) break;
      out.push_back(static_cast<pid_t>(pid));
      p = end;
    }
    return out;
  }
  // Kernel without CONFIG_PROC_CHILDREN: one pass for ppid == parent.
  for_each_proc_stat([&](const ProcStat& st) {
    if (st.ppid == parent) out.push_back(st.pid);
  });
  return out;
}

}  // namespace procd
