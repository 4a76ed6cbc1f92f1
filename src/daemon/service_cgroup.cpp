// cgroup v2 per service at the Supervisor's edge. At start procd sets up
// its subtree (cgroup.hpp; PROCD_CGROUP_ROOT points discovery elsewhere,
// for tests) and logs once which mode is in use and why; each service gets
// its cgroup before its first run (processes an earlier, killed procd left
// there, or in the cgroup an older procd named differently, are killed:
// never two copies), limits are written, and its
// cgroup.events is watched with a uv_fs_event, so the end of a drain is an
// event, never a poll. Without a usable cgroup v2 everything here falls back
// to the process group (and the subreaper), and limits are one warning.
// Invariants: a Service's cgroup is empty unless procd's tree is set up; a signal for a
// run in a cgroup goes to the cgroup's members (systemd's control-group
// semantics), SIGKILL through cgroup.kill.
#include <fmt/core.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "procd/logging.hpp"
#include "procd/service.hpp"
#include "service_host.hpp"

namespace procd {
namespace {

CgroupLimits limits_of(const ServiceConfig& c) { return {c.memory_max, c.cpu_max, c.pids_max, c.cpu_weight}; }

std::string limits_key(const ServiceConfig& c) {
  return fmt::format("{} {} {} {}", c.memory_max, c.cpu_max, c.pids_max, c.cpu_weight);
}

// Once per change (the spawn path is per process, Unknown -> Clone3 ->
// CgroupProcs at most): how children reach their cgroup.
void log_cgroup_spawn_path() {
  static CgroupSpawnPath::Kind told = CgroupSpawnPath::Unknown;
  CgroupSpawnPath path = cgroup_spawn_path();
  if (path.kind == told) return;
  told = path.kind;
  if (path.kind == CgroupSpawnPath::Clone3)
    return Log::write(LogLevel::Info, "cgroups: each child is created in its cgroup (clone3 CLONE_INTO_CGROUP)");
  Log::write(LogLevel::Info,
             fmt::format("cgroups: each child moves itself into its cgroup (cgroup.procs) before exec: clone3 into a "
                         "cgroup {}",
                         path.killed_at_birth ? std::string("had its child killed by the kernel before it ran")
                         : path.err           ? fmt::format("failed ({})", std::strerror(path.err))
                                              : std::string("is off (PROCD_NO_CLONE3)")));
}

void report_leftovers(const ServiceConfig& svc, const std::string& dir, const std::vector<int>& left) {
  if (left.empty()) return;
  std::string pids;
  for (int p : left) pids += fmt::format(" {}", p);
  Log::write(LogLevel::Warn, fmt::format("killed {} process(es) an earlier procd left in {}:{}", left.size(), dir, pids),
             svc_fields(svc.name, 0, Code::ServiceCgroupLeftover));
}

}  // namespace

void Supervisor::Host::setup_cgroups() {
  CgroupTree::Options opt;
  opt.instance = s_.cfg_.name;
  opt.pid_file = s_.cfg_.pid_file;
  opt.self = ::getpid();
  if (const char* root = ::getenv("PROCD_CGROUP_ROOT")) opt.root_override = root;
  auto tree = s_.sys_.setup_cgroups(opt);
  if (!tree.ok()) {
    Log::write(LogLevel::Info,
               fmt::format("cgroups: not used ({}); services are tracked by process group and the subreaper",
                           tree.error().message),
               code_fields(tree.error().code));
    std::string limited;
    for (auto& s : s_.services_)
      if (limits_of(s->config()).any()) limited += " " + s->name();
    if (!limited.empty())
      Log::write(LogLevel::Warn, fmt::format("cgroup limits not applied (no usable cgroup v2) for:{}", limited),
                 code_fields(Code::PlatformCgroupLimit));
    return;
  }
  cgroups_ = std::move(tree.value());
  const CgroupLayout& l = cgroups_->layout();
  Log::write(LogLevel::Info, fmt::format("cgroups: {} mode, services under {} ({})",
                                         l.mode == CgroupMode::Dedicated ? "dedicated" : "shared", l.base, l.why));
  for (auto& s : s_.services_) s->ensure_cgroup();
}

void Service::ensure_cgroup() {
  CgroupTree* tree = host_.cgroups();
  if (!tree) return;
  if (cgroup_.empty()) {
    // The cgroup an older procd gave this service ('.' and '@' as '_'),
    // unless it is the cgroup of a service configured now.
    std::vector<std::string> names = host_.service_names();
    if (auto old = legacy_leftover_cgroup(tree->layout().base, cfg_->name, names)) {
      if (auto left = tree->clean_leftover(*old); left.ok()) report_leftovers(*cfg_, *old, *left);
      else Log::error(left.error(), svc_fields(cfg_->name));
    }
    auto left = tree->prepare(cfg_->name);
    if (!left.ok()) return Log::error(left.error(), svc_fields(cfg_->name));  // this service: process group only
    cgroup_ = tree->dir_of(cfg_->name);
    report_leftovers(*cfg_, cgroup_, *left);
  }
  // Limits once per change of them (a reload), not on every restart.
  if (std::string key = limits_key(*cfg_); key != cgroup_limits_) {
    cgroup_limits_ = key;
    for (const auto& w : tree->apply_limits(cgroup_, limits_of(*cfg_)))
      Log::write(LogLevel::Warn, w.message, svc_fields(cfg_->name, 0, w.code));
  }
}

// Armed only while a drain waits for the cgroup to empty (an inotify watch,
// its uv handle and path cost ~350 B a service): the caller reads
// cgroup.events after this, so a `populated 0` before the arming is seen.
void Service::watch_cgroup() {
  CgroupTree* tree = host_.cgroups();
  if (!tree || cgroup_.empty() || cgroup_watch_) return;
  uv_fs_event_t* h = cgroup_watch_.reset(this);
  uv_fs_event_init(host_.loop(), h);
  int rc = tree->watch_events(h, cgroup_, [](uv_fs_event_t* e, const char*, int, int) {
    if (auto* s = static_cast<Service*>(e->data)) s->recheck_drain();
  });
  if (rc != 0) {
    Log::write(LogLevel::Warn, fmt::format("cannot watch {}/cgroup.events: {}", cgroup_, uv_strerror(rc)),
               svc_fields(cfg_->name, 0, Code::PlatformCgroupFailed));
    close_cgroup_watch();
  }
}

void Service::close_cgroup_watch() {
  if (!cgroup_watch_) return;
  if (CgroupTree* tree = host_.cgroups()) tree->unwatch_events(cgroup_);
  cgroup_watch_.close();
}

void Service::release_cgroup() {
  close_cgroup_watch();
  if (host_.cgroups() && !cgroup_.empty()) host_.cgroups()->remove(cgroup_);
  cgroup_.clear();
}

bool Service::run_alive() {
  CgroupTree* tree = host_.cgroups();
  if (tree && !cgroup_.empty() && tree->populated(cgroup_).value_or(false)) return true;
  return host_.group_alive(pgid_);
}

void Service::signal(int sig) {
  if (sig == SIGKILL) kill_hooks();  // a stop timeout or the shutdown ladder: its hooks go too
  // Only hooks run (pre_start before the spawn, post_stop after the run): the group id is not ours.
  if (!has_process() && hooks_running() && (state_.pid <= 0 || hook_pid(HookKind::PostStop) > 0)) return;
  CgroupTree* tree = host_.cgroups();
  if (!tree || cgroup_.empty()) {
    if (pgid_ <= 0) return;
    // The leader was reaped (the drain window): the id is ours only while a
    // live member descending from procd is known; else it may be reused.
    if (drain_.exit_pending() && !host_.group_alive(pgid_)) {
      Log::write(LogLevel::Debug, fmt::format("signal {} not sent: group {} has no member left", sig, pgid_),
                 svc_fields(cfg_->name));
      return;
    }
    if (auto r = host_.sys().signal_group(pgid_, sig); !r.ok()) Log::error(r.error(), svc_fields(cfg_->name));
    return;
  }
  if (sig != SIGKILL) return tree->signal_members(cgroup_, sig);
  if (auto r = tree->kill(cgroup_); !r.ok()) {
    Log::error(r.error(), svc_fields(cfg_->name));
    if (pgid_ > 0) host_.sys().signal_group(pgid_, SIGKILL);
  }
}

void Service::check_oom(const ExitStatus& status) {
  CgroupTree* tree = host_.cgroups();
  if (!tree || cgroup_.empty()) return;
  std::uint64_t now_kills = tree->oom_kills(cgroup_);
  if (now_kills <= oom_kills_) return;
  Log::write(LogLevel::Error,
             fmt::format("killed by its cgroup memory limit (memory_max {} bytes): {} OOM kill(s) (exit code {}, signal {})",
                         cfg_->memory_max, now_kills - oom_kills_, status.code, status.signal),
             svc_fields(cfg_->name, 0, Code::ResourceOomKilled));
  oom_kills_ = now_kills;
  oom_killed_ = true;
}

std::optional<CgroupUsage> Service::cgroup_usage() {
  CgroupTree* tree = host_.cgroups();
  if (!tree || cgroup_.empty()) return std::nullopt;
  CgroupUsage u = tree->usage(cgroup_);
  // cpu.stat counts every run of the cgroup: this run's share only.
  if (u.cpu_usec) u.cpu_usec = *u.cpu_usec >= cpu_usec_at_start_ ? *u.cpu_usec - cpu_usec_at_start_ : 0;
  return u;
}

void Service::cgroup_run_started() {
  CgroupTree* tree = host_.cgroups();
  if (!tree || cgroup_.empty()) return;
  log_cgroup_spawn_path();
  oom_kills_ = tree->oom_kills(cgroup_);
  cpu_usec_at_start_ = tree->usage(cgroup_).cpu_usec.value_or(0);
}

void Supervisor::Host::teardown_cgroups() {
  if (!cgroups_) return;
  for (auto& s : s_.services_) s->close_cgroup_watch();
  cgroups_->teardown();
}

}  // namespace procd
