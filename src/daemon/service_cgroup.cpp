// cgroup v2 per service at the Supervisor's edge. At start procd sets up
// its subtree (cgroup.hpp; PROCD_CGROUP_ROOT points discovery elsewhere,
// for tests) and logs once which mode is in use and why; each service gets
// its cgroup before its first run (processes an earlier, killed procd left
// there, or in the cgroup an older procd named differently, are killed:
// never two copies), limits are written, and its
// cgroup.events is watched with a uv_fs_event, so the end of a drain is an
// event, never a poll. Without a usable cgroup v2 everything here falls back
// to the process group (and the subreaper), and limits are one warning.
// Invariants: svc.cgroup is empty unless cgroups_ is set; a signal for a
// run in a cgroup goes to the cgroup's members (systemd's control-group
// semantics), SIGKILL through cgroup.kill.
#include <fmt/core.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "procd/logging.hpp"
#include "procd/supervisor.hpp"

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

void Supervisor::setup_cgroups() {
  CgroupTree::Options opt;
  opt.instance = cfg_.name;
  opt.pid_file = cfg_.pid_file;
  opt.self = ::getpid();
  if (const char* root = ::getenv("PROCD_CGROUP_ROOT")) opt.root_override = root;
  auto tree = sys_.setup_cgroups(opt);
  if (!tree.ok()) {
    Log::write(LogLevel::Info,
               fmt::format("cgroups: not used ({}); services are tracked by process group and the subreaper",
                           tree.error().message),
               code_fields(tree.error().code));
    std::string limited;
    for (auto& s : services_)
      if (limits_of(s->cfg).any()) limited += " " + s->cfg.name;
    if (!limited.empty())
      Log::write(LogLevel::Warn, fmt::format("cgroup limits not applied (no usable cgroup v2) for:{}", limited),
                 code_fields(Code::PlatformCgroupLimit));
    return;
  }
  cgroups_ = std::move(tree.value());
  const CgroupLayout& l = cgroups_->layout();
  Log::write(LogLevel::Info, fmt::format("cgroups: {} mode, services under {} ({})",
                                         l.mode == CgroupMode::Dedicated ? "dedicated" : "shared", l.base, l.why));
  for (auto& s : services_) ensure_cgroup(*s);
}

void Supervisor::ensure_cgroup(ServiceRunner& svc) {
  if (!cgroups_) return;
  if (svc.cgroup.empty()) {
    // The cgroup an older procd gave this service ('.' and '@' as '_'),
    // unless it is the cgroup of a service configured now.
    std::vector<std::string> names;
    for (auto& s : services_) names.push_back(s->cfg.name);
    if (auto old = legacy_leftover_cgroup(cgroups_->layout().base, svc.cfg.name, names)) {
      if (auto left = cgroups_->clean_leftover(*old); left.ok()) report_leftovers(svc.cfg, *old, *left);
      else Log::error(left.error(), svc_fields(svc.cfg.name));
    }
    auto left = cgroups_->prepare(svc.cfg.name);
    if (!left.ok()) return Log::error(left.error(), svc_fields(svc.cfg.name));  // this service: process group only
    svc.cgroup = cgroups_->dir_of(svc.cfg.name);
    report_leftovers(svc.cfg, svc.cgroup, *left);
    uv_fs_event_t* h = svc.cgroup_watch.reset(&svc);
    uv_fs_event_init(&loop_, h);
    int rc = uv_fs_event_start(
        h,
        [](uv_fs_event_t* e, const char*, int, int) {
          if (auto* s = static_cast<ServiceRunner*>(e->data)) s->sup->on_cgroup_event(*s);
        },
        (svc.cgroup + "/cgroup.events").c_str(), 0);
    if (rc != 0) {
      Log::write(LogLevel::Warn, fmt::format("cannot watch {}/cgroup.events: {}", svc.cgroup, uv_strerror(rc)),
                 svc_fields(svc.cfg.name, 0, Code::PlatformCgroupFailed));
      svc.cgroup_watch.close();
    }
  }
  // Limits once per change of them (a reload), not on every restart.
  if (std::string key = limits_key(svc.cfg); key != svc.cgroup_limits) {
    svc.cgroup_limits = key;
    for (const auto& w : cgroups_->apply_limits(svc.cgroup, limits_of(svc.cfg)))
      Log::write(LogLevel::Warn, w.message, svc_fields(svc.cfg.name, 0, w.code));
  }
}

void Supervisor::release_cgroup(ServiceRunner& svc) {
  svc.cgroup_watch.close();
  if (cgroups_ && !svc.cgroup.empty()) cgroups_->remove(svc.cgroup);
  svc.cgroup.clear();
}

void Supervisor::on_cgroup_event(ServiceRunner& svc) {
  if (svc.drain.exit_pending()) judge_drain(svc);
}

bool Supervisor::run_alive(ServiceRunner& svc) {
  if (cgroups_ && !svc.cgroup.empty() && cgroups_->populated(svc.cgroup).value_or(false)) return true;
  return group_alive(svc.pgid);
}

bool Supervisor::group_alive(pid_t pgid) {
  if (!sys_.group_exists(pgid)) return false;  // no member at all: no /proc pass
  if (!census_) census_ = sys_.group_census();
  return census_->alive(pgid);
}

void Supervisor::signal_run(ServiceRunner& svc, int sig) {
  if (!cgroups_ || svc.cgroup.empty()) {
    if (svc.pgid <= 0) return;
    // The leader was reaped (the drain window): the id is ours only while a
    // live member descending from procd is known; else it may be reused.
    if (svc.drain.exit_pending() && !group_alive(svc.pgid)) {
      Log::write(LogLevel::Debug, fmt::format("signal {} not sent: group {} has no member left", sig, svc.pgid),
                 svc_fields(svc.cfg.name));
      return;
    }
    if (auto r = sys_.signal_group(svc.pgid, sig); !r.ok()) Log::error(r.error(), svc_fields(svc.cfg.name));
    return;
  }
  if (sig != SIGKILL) return cgroups_->signal_members(svc.cgroup, sig);
  if (auto r = cgroups_->kill(svc.cgroup); !r.ok()) {
    Log::error(r.error(), svc_fields(svc.cfg.name));
    if (svc.pgid > 0) sys_.signal_group(svc.pgid, SIGKILL);
  }
}

void Supervisor::check_oom(ServiceRunner& svc, const ExitStatus& status) {
  if (!cgroups_ || svc.cgroup.empty()) return;
  std::uint64_t now_kills = cgroups_->oom_kills(svc.cgroup);
  if (now_kills <= svc.oom_kills) return;
  Log::write(LogLevel::Error,
             fmt::format("killed by its cgroup memory limit (memory_max {} bytes): {} OOM kill(s) (exit code {}, signal {})",
                         svc.cfg.memory_max, now_kills - svc.oom_kills, status.code, status.signal),
             svc_fields(svc.cfg.name, 0, Code::ResourceOomKilled));
  svc.oom_kills = now_kills;
}

std::optional<CgroupUsage> Supervisor::cgroup_usage(ServiceRunner& svc) {
  if (!cgroups_ || svc.cgroup.empty()) return std::nullopt;
  CgroupUsage u = cgroups_->usage(svc.cgroup);
  // cpu.stat counts every run of the cgroup: this run's share only.
  if (u.cpu_usec) u.cpu_usec = *u.cpu_usec >= svc.cpu_usec_at_start ? *u.cpu_usec - svc.cpu_usec_at_start : 0;
  return u;
}

void Supervisor::cgroup_run_started(ServiceRunner& svc) {
  if (!cgroups_ || svc.cgroup.empty()) return;
  log_cgroup_spawn_path();
  svc.oom_kills = cgroups_->oom_kills(svc.cgroup);
  svc.cpu_usec_at_start = cgroups_->usage(svc.cgroup).cpu_usec.value_or(0);
}

void Supervisor::teardown_cgroups() {
  if (!cgroups_) return;
  for (auto& s : services_) s->cgroup_watch.close();
  cgroups_->teardown();
}

}  // namespace procd
