// The one reader of Linux /proc: every place in procd that asks the kernel
// about processes (resource sampling, the pid -> service lookup of notify
// messages, `procd exec`'s orphans, `procd stop`'s zombie check) goes through
// here. parse_proc_stat() is pure and total (unexpected text gives nullopt,
// never a throw); the readers tolerate a process vanishing between readdir
// and open, the normal case for short-lived children, and never block on
// anything but procfs reads. Without /proc they return nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "procd/proc_stat.hpp"

namespace procd {

// Parse the text of /proc/PID/stat (the comm field may hold spaces and ')').
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// /proc/PID/stat of one process; nullopt when it is gone or unreadable.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// One pass over /proc/[0-9]*/stat, calling `visit` for each process read.
void for_each_proc_stat(const std::function<void(const ProcStat&)>& visit);

// Children of `parent` (its own /proc/P/task/P/children where the kernel
// has it, else a pass over every stat for ppid == parent).
std::vector<pid_t> children_of(pid_t parent);

}  // namespace procd
