// Pure cgroup v2 decisions and parsers (no file access): where the unified
// hierarchy is mounted (from /proc/self/mountinfo text), procd's own cgroup
// (the `0::` line of /proc/self/cgroup), which layout procd uses, and the
// small key/value files the kernel keeps per cgroup (cgroup.events,
// cpu.stat, memory.events) and the limit values procd writes (cpu.max).
//
// Layout (see README "cgroups"): the base is procd's own cgroup when procd is
// its only process (systemd Delegate=yes, a container with its own cgroup
// namespace), counting the processes its PID namespace does not show (so
// never in a bare PID namespace inside a shared cgroup): mode Dedicated. Otherwise (the root of the hierarchy, a shared
// login scope) a child `procd-<name>-<hash of the PID file path>` of it:
// mode Shared, unique per procd instance and the same after a restart of
// that instance (crash recovery finds its service cgroups again). Under the
// base: `supervisor` (procd itself: the no-internal-process rule) and one
// `svc-<service>` per service: the name as it is (a service name is at
// most 64 of [A-Za-z0-9_.@-]), so `web.api`, `web_api` and `web@api` never
// share a cgroup; any other byte, and '%', is written %XX. The mapping is
// injective, never yields '.', '..', a '/' or a kernel file name (cpu.max),
// and is at most 68 bytes for a valid name. An older procd wrote
// '.' and '@' as '_'; such a directory is still cleaned as a leftover.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace procd {

enum class CgroupMode { Dedicated, Shared };

struct CgroupLayout {
  CgroupMode mode = CgroupMode::Shared;
  std::string base;  // absolute filesystem path of procd's subtree
  std::string why;   // one line for the info log
};

// Mount point of the cgroup2 filesystem; nullopt when none is mounted.
std::optional<std::string> cgroup2_mount(std::string_view mountinfo);
// Path of the `0::` entry of /proc/self/cgroup ("/" = the root); nullopt on cgroup v1 only.
std::optional<std::string> own_cgroup(std::string_view proc_self_cgroup);
// 8 hex digits (FNV-1a) of text: stable across runs and builds.
std::string short_hash(std::string_view text);
// A cgroup directory name part: [A-Za-z0-9_-], others become '_' (not
// injective: the instance name, made unique by the PID file's hash).
std::string cgroup_safe_name(std::string_view name);
// `own_is_alone`: procd is the only process in its own cgroup.
CgroupLayout choose_layout(const std::string& mount, const std::string& own, bool own_is_alone,
                           const std::string& instance_name, const std::string& pid_file);
// The directory name of a service's cgroup ("svc-web.api"; see above).
std::string service_cgroup_name(std::string_view service);
// The service whose cgroup directory is `dir_name`; nullopt for any name
// service_cgroup_name() does not make.
std::optional<std::string> service_of_cgroup_name(std::string_view dir_name);
// The name an older procd gave the service's cgroup ('.' and '@' as '_'); nullopt when it is today's.
std::optional<std::string> legacy_service_cgroup_name(std::string_view service);
// The service's old-name cgroup under base to clean as a leftover before it
// starts; nullopt when there is none or it is the cgroup of a `configured` service.
std::optional<std::string> legacy_leftover_cgroup(const std::string& base, const std::string& service,
                                                  const std::vector<std::string>& configured);
// The service's cgroup under the base.
std::string service_cgroup(const std::string& base, const std::string& service);

// `populated` of cgroup.events; nullopt when absent.
std::optional<bool> parse_populated(std::string_view cgroup_events);
// The value of `key` in a flat keyed file ("key value" lines: cpu.stat, memory.events).
std::optional<std::uint64_t> parse_keyed(std::string_view text, std::string_view key);
// cpu_max as configured ("50%", "150%", "max") to cpu.max's "QUOTA PERIOD"
// (period 100000 us); nullopt when invalid (0% or above 100000%, not a percentage).
std::optional<std::string> cpu_max_value(std::string_view configured);
// cgroup.controllers / subtree_control text: does it name `controller`?
bool has_controller(std::string_view list, std::string_view controller);
// Is `self` the only process of a cgroup.procs text? Read from inside a
// PID namespace the kernel lists every process outside it as 0: those count
// (a bare `unshare --pid` procd is not alone in the host's cgroup).
bool only_process(std::string_view cgroup_procs, int self);
// PIDs listed in a cgroup.procs text (one per line).
std::vector<int> parse_pids(std::string_view text);

}  // namespace procd
