// The simulated world's hook processes and the main's exit codes (issue 28): see sim_world.hpp.
#include <fmt/format.h>

#include "sim_world.hpp"

namespace procd::sim {

// A hook (issue 28): exits 0 or 1 after a while, or hangs until procd
// kills it at its bound; a session of its own, like a health command.
Result<SpawnedProcess> SimWorld::spawn_hook(const std::string& name, const std::string& kind, const SpawnRequest& req) {
  const std::string& cgroup = req.cgroup;
  auto between = [this](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); };
  if (between(0, 99) < 2) {
    note(fmt::format("{} of {} fails to spawn", kind, name));
    if (kind == "pre_start") pre_start_[name] = 2, last_pre_start_[name] = 0;  // a failed start: the command never runs
    return make_error(Code::SpawnFailed, "simulated hook spawn failure");
  }
  if (kind == "pre_start") pre_start_[name] = 0, last_pre_start_[name] = next_pid_;
  // stop_command is the service's stop (SPEC Part 3: its stop signal or stop_command before any SIGKILL).
  // It stops the run PROCD_MAINPID names (its main process and workers). issue 28: that run may be a
  // start-first surge (NAME+ / NAME~) promoted to NAME within this step, not renamed yet (check_processes
  // renames it), while the next surge of NAME, started in the same step, is NOT stopped (seed 26618).
  pid_t mainpid = 0;
  for (const auto& kv : req.env)
    if (kv.rfind("PROCD_MAINPID=", 0) == 0) mainpid = static_cast<pid_t>(std::stol(kv.substr(14)));
  if (kind == "stop_command")
    for (auto& [pid, q] : procs_)
      if ((mainpid > 0 ? q.run == mainpid : q.service == name) && !q.health && !q.exited && q.first_stop_at < 0)
        q.first_stop_at = clock_.now();
  FakeProcess p;
  p.pid = p.pgid = p.run = next_pid_++;
  p.service = name;
  p.cgroup = cgroup;
  p.health = true;
  p.hook = kind;
  p.spawned_at = clock_.now();
  int r = static_cast<int>(between(0, 99));
  if (r < 90) p.ends_after = between(1, 500), p.natural = ExitStatus{r < 75 ? 0 : 1, 0};
  p.dies_of_stop_signal = true;
  if (p.ends_after) exit_by(p, clock_.now() + *p.ends_after, p.natural);
  note(fmt::format("{} {} pid {}: {}", kind, name, p.pid, p.describe()));
  pid_t pid = p.pid;
  procs_.emplace(pid, std::move(p));
  return SpawnedProcess{pid, -1, -1};
}

// issue 28: procd's code once the main service ended it (sim_world.hpp).
std::set<int> SimWorld::main_codes(const std::string& service) const {
  // 127 too when its newest start failed at its pre_start (the command never
  // ran; a run a reload or `procd restart` stopped before it ended nothing).
  auto it = last_end_.find(service);
  auto pre = pre_start_.find(service);
  if (it == last_end_.end() || it->second.second || (pre != pre_start_.end() && pre->second == 2))
    return {127, 4};  // 4: a dependency kept it from running
  return {it->second.first, 4};
}

// issue 28: the main command never runs while its pre_start runs, nor after it failed.
void SimWorld::check_pre_start(const std::string& name) {
  rename_promoted_hooks();
  for (const auto& [pid, q] : procs_)
    if (q.hook == "pre_start" && q.service == name && !q.exited)
      violate("main-during-pre-start", fmt::format("spawn of {} while its pre_start pid {} runs", name, pid));
  if (pre_start_[name] == 2) violate("main-after-pre-start-failed", fmt::format("spawn of {} after its pre_start failed", name));
  pre_start_[name] = 0;
}

void SimWorld::pre_start_ended(FakeProcess& hook, const Reaped& r) {
  rename_promoted_hooks();
  if (last_pre_start_[hook.service] == hook.pid) pre_start_[hook.service] = r.code == 0 && r.signal == 0 ? 1 : 2;
}

// A hook is named by the PROCD_SERVICE it was spawned with. A start-first
// surge NAME+ / NAME~ promoted while its hook ran (a restart's pre_start,
// say) is NAME now, and so is that hook: procd says which service holds it.
// Not renamed otherwise: a hook procd forgot keeps its name (and its rules).
void SimWorld::rename_promoted_hooks() {
  if (!pid_holder) return;
  for (auto& [pid, p] : procs_) {
    if (p.hook.empty() || p.exited || p.service.empty() || (p.service.back() != '+' && p.service.back() != '~')) continue;
    const std::string base = p.service.substr(0, p.service.size() - 1);
    if (pid_holder(pid) != base) continue;
    note(fmt::format("{} pid {} of {} is {}'s now (promoted)", p.hook, pid, p.service, base));
    if (p.hook == "pre_start" && last_pre_start_[p.service] == pid) last_pre_start_[base] = pid, pre_start_[base] = 0;
    p.service = base;
  }
}

}  // namespace procd::sim

namespace procd::sim {

// A run spawned as a surge NAME+ / NAME~ and promoted to NAME in the step it
// ends in (check_processes renames only after the step) ends as NAME, by
// procd's account: its end is NAME's, and a later surge reusing the + name
// ends as itself (seed 87651: the promoted run's SIGKILL at its retirement
// hid the next surge's failure, the code a critical NAME ends procd with).
std::string SimWorld::ended_as(const FakeProcess& run) const {
  const std::string& n = run.service;
  if (!pid_holder || n.empty() || (n.back() != '+' && n.back() != '~')) return n;
  const std::string base = n.substr(0, n.size() - 1);
  return pid_holder(run.pid) == base ? base : n;
}

}  // namespace procd::sim
