// Invariants: see sim_invariants.hpp and README.md.
#include "sim_invariants.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "procd/cgroup_layout.hpp"
#include "sim_cgroup.hpp"

namespace procd::sim {

void check_processes(SimWorld& world, const std::vector<ServiceSnapshot>& services) {
  std::map<pid_t, std::string> promoted;  // issue 28: a surge's run now held by its instance (rolling_surge.cpp)
  for (const auto& [pid, p] : world.processes()) {
    if (p.service.empty() || (p.service.back() != '+' && p.service.back() != '~')) continue;
    const std::string base = p.service.substr(0, p.service.size() - 1);
    if (std::any_of(services.begin(), services.end(), [&](const ServiceSnapshot& s) { return s.name == base && s.pgid == p.run; }))
      promoted[p.run] = base;
  }
  for (const auto& [run, name] : promoted) world.rename_run(run, name);
  std::map<std::string, int> live;
  for (const auto& [pid, p] : world.processes()) {
    if (p.exited || p.health) continue;  // a zombie, reaped at the next SIGCHLD; health: check_health
    if (p.foreign || world.invisible(p)) continue;  // an earlier procd's: check_cgroups; setsid away without cgroups: unseen
    if (!p.is_child() && ++live[p.service] == 2)
      world.violate("two-processes", fmt::format("two live processes for {} (the newer is pid {})", p.service, pid));
    bool owned = std::any_of(services.begin(), services.end(), [&](const ServiceSnapshot& s) {
      return s.name == p.service && s.pgid == p.run && s.has_process;
    });
    if (!owned)
      world.violate("stray-process", fmt::format("{} {} of {} is alive but no run of the service holds it", p.is_child() ? "worker" : "pid",
                                                 pid, p.service));
  }
  for (const auto& s : services) {
    // A run whose main process was reaped may still drain what its workers
    // left (procd learns they are gone at the drain deadline).
    // A run that is over while its post_stop runs (issue 28) tells the machine afterwards.
    if (s.pid <= 0 || world.had_workers(s.pgid) || !s.has_process) continue;
    auto it = world.processes().find(s.pid);
    if (it == world.processes().end())
      world.violate("phantom-run", fmt::format("{} believes pid {} runs, but it was reaped", s.name, s.pid));
  }
}

void check_spawn_count(SimWorld& world, const SupervisorCounters& counters) {
  if (counters.spawns_total != world.spawned())
    world.violate("spawn-count", fmt::format("the world saw {} spawns, procd_spawns_total says {}", world.spawned(),
                                             counters.spawns_total));
}

namespace {
// issue 28: a start-first surge NAME+ / NAME~ stands for NAME (rolling_surge.cpp); "" otherwise.
std::string surge_base(const std::string& n) {
  return !n.empty() && (n.back() == '+' || n.back() == '~') ? n.substr(0, n.size() - 1) : std::string();
}
}  // namespace

void check_config(SimWorld& world, const std::vector<ServiceSnapshot>& services, const SimConfig& cfg) {
  for (const auto& name : cfg.names()) {
    auto it = std::find_if(services.begin(), services.end(), [&](const ServiceSnapshot& s) { return s.name == name; });
    bool surged = std::any_of(services.begin(), services.end(), [&](const ServiceSnapshot& s) { return surge_base(s.name) == name; });
    if (it == services.end() && !surged)
      world.violate("config-mismatch", fmt::format("{} is in the config but procd has no such service", name));
    else if (it != services.end() && it->removing && !surged)  // an old run replaced by its surge is forgotten
      world.violate("config-mismatch", fmt::format("{} is in the config but procd is removing it", name));
  }
  for (const auto& s : services)
    if (!cfg.has(s.name) && !(cfg.has(surge_base(s.name)) || (!surge_base(s.name).empty() && s.removing)))
      world.violate("config-mismatch", fmt::format("{} is not in the config but procd still has it ({})", s.name,
                                                   phase_name(s.phase)));
  for (const auto& [pid, p] : world.processes())
    if (!p.exited && !p.health && !p.foreign && !world.invisible(p) && !cfg.has(p.service) && !cfg.has(surge_base(p.service)))
      world.violate("config-mismatch", fmt::format("pid {} of {} runs, but {} is not in the config", pid, p.service, p.service));
}

void check_exit(SimWorld& world, int code, const std::set<int>& expected, bool gave_up) {
  for (const auto& [pid, p] : world.processes())
    // A hook SIGKILLed at the ladder's ceiling is only unreaped (init reaps it), like the runs killed there.
    if (p.health && !(!p.hook.empty() && code == 3 && (p.killed || p.exited)))
      world.violate(p.hook.empty() ? "health-left" : "hook-left", fmt::format("{} pid {} of {} is {} after procd exited", p.hook.empty() ? "health command" : p.hook, pid, p.service,
                                               p.exited ? "unreaped" : "still running"));
  bool stuck = world.stuck_alive();
  // Gave up at the ceiling: the ladder SIGKILLs every group first, so what
  // is left outlived a SIGKILL; one procd never SIGKILLed is orphaned.
  if (code == 3)
    for (const auto& [pid, p] : world.processes())
      if (!p.exited && !p.health && !p.killed && !world.invisible(p))
        return world.violate("ceiling-without-kill", fmt::format("procd gave up at its [shutdown].kill ceiling and exited 3, "
                                                                 "leaving {} {} of {} running without ever SIGKILLing it",
                                                                 p.is_child() ? "worker" : "pid", pid, p.service));
  if (code == 3 && (stuck || gave_up)) return;
  if (expected.count(code) && !world.anything_running()) return;
  world.violate("exit-code", fmt::format("procd exited {} (the ladder's: {}) with {}process(es) left{}", code,
                                         fmt::join(expected, " or "), world.anything_running() ? "" : "no ",
                                         stuck ? " (one survived SIGKILL)" : ""));
}

void check_health(SimWorld& world) {
  for (const auto& [pid, p] : world.processes())
    if (p.health && p.hook.empty() && !p.exited && !world.run_alive(world.alias(p.service)))
      world.violate("health-after-run", fmt::format("health command pid {} of {} still runs after its run ended", pid, p.service));
}

void check_critical(SimWorld& world, const std::vector<Service*>& services, bool shutting_down) {
  for (const Service* s : services)
    if (s->config().critical && s->state().phase == Phase::Failed && !shutting_down)
      world.violate("critical-failed", fmt::format("critical service {} failed for good, but procd is not shutting down", s->name()));
}

// Judged by the readiness the run was STARTED with: a run whose spawn carried
// no NOTIFY_SOCKET (started under a config without notify readiness, e.g. a
// start-first new run promoted after its roll stopped, serving on under the
// reload's notify config as the old runs a stopped roll leaves do) was never
// told to send READY=1, nor can it ping a watchdog: none may stop it.
void check_notify(SimWorld& world, const std::vector<Service*>& services, const std::set<pid_t>& ready_sent) {
  for (const Service* s : services) {
    const pid_t pid = s->state().pid;
    auto p = world.processes().find(pid);
    const bool told = pid > 0 && (p == world.processes().end() || p->second.told_notify);
    if (s->config().ready.kind == ReadyKind::Notify && s->state().phase == Phase::Running && pid > 0 && told &&
        !ready_sent.count(pid))
      world.violate("notify-ready", fmt::format("notify service {} is running, but pid {} never sent READY=1", s->name(), pid));
    if (!told && pid > 0 && s->state().phase == Phase::Stopping && s->state().stop_reason() == StopReason::Watchdog)
      world.violate("notify-ready", fmt::format("{} stops pid {} for its watchdog, but that run was never given NOTIFY_SOCKET",
                                                s->name(), pid));
  }
}

// Two services procd has at once (a removed copy still stopping included)
// never share a cgroup, a log file or a process.
void check_sharing(SimWorld& world, const std::vector<Service*>& services) {
  for (std::size_t i = 0; i < services.size(); ++i)
    for (std::size_t j = i + 1; j < services.size(); ++j) {
      const Service& a = *services[i];
      const Service& b = *services[j];
      if (!a.cgroup().empty() && a.cgroup() == b.cgroup())
        world.violate("shared", fmt::format("{} and {} share the cgroup {}", a.name(), b.name(), a.cgroup()));
      if (a.to_file() && b.to_file() && a.config().log.file == b.config().log.file)
        world.violate("shared", fmt::format("{} and {} share the log file {}", a.name(), b.name(), a.config().log.file));
      if ((a.has_process() && b.has_process() && a.pgid() == b.pgid()) || (a.state().pid > 0 && a.state().pid == b.state().pid))
        world.violate("shared", fmt::format("{} and {} share the process {}", a.name(), b.name(), a.pgid()));
    }
}

// Cgroup mode: a service that is idle (its stop or run complete) has an
// empty cgroup (what outlived a SIGKILL aside: procd stops waiting for it);
// what an earlier procd left in a service's cgroup (or in the one an older
// procd named differently) is killed once procd took the cgroup.
void check_cgroups(SimWorld& world, const std::vector<Service*>& services) {
  if (!world.cgroup_mode()) return;
  std::vector<std::string> names;
  for (const Service* s : services) names.push_back(s->name());
  for (const Service* s : services) {
    if (s->cgroup().empty()) continue;
    if (s->idle())
      for (pid_t m : world.members(s->cgroup(), true))
        world.violate("stopped-cgroup-populated", fmt::format("{} is {} with no run, but its cgroup still holds pid {}{}", s->name(),
                                                              phase_name(s->state().phase), m,
                                                              world.processes().at(m).escaped ? " (setsid away)" : ""));
    auto legacy = legacy_leftover_cgroup(kSimCgroupBase, s->name(), names);
    for (const auto& [pid, p] : world.processes())
      if (p.foreign && !p.killed && !p.exited && (p.cgroup == s->cgroup() || (legacy && p.cgroup == *legacy)))
        world.violate("leftover-kept", fmt::format("pid {} an earlier procd left in {} still runs after procd took {}'s cgroup",
                                                   pid, p.cgroup, s->name()));
  }
}

void check_start_limit(SimWorld& world, const std::vector<Service*>& services,
                       std::map<std::string, std::uint64_t>& given_up) {
  for (const Service* s : services) {
    // Waiting for its dependencies: a start was asked for and is pending.
    if (s->intent().waiting) {
      given_up.erase(s->name());
      continue;
    }
    auto it = given_up.find(s->name());
    if (it != given_up.end() && s->stats().spawns > it->second)
      world.violate("start-limit-respawn", fmt::format("{} failed by its start limit, then started again without a request",
                                                       s->name()));
    if (s->state().phase == Phase::Failed && s->state().gave_up == GiveUp::StartLimit)
      given_up.emplace(s->name(), s->stats().spawns);
  }
}

void check_reasons(SimWorld& world, const std::vector<Service*>& services, Millis now) {
  for (const Service* s : services) {
    Reason why = s->reason(now);
    bool bare = why.text.empty() || why.code == "failed" || why.code == "restarting" ||
                (why.condition == "waiting" && why.text.rfind("waiting for ", 0) != 0) ||
                (why.condition == "blocked" && why.text.rfind("blocked: ", 0) != 0);
    if (bare)
      world.violate("reason-missing", fmt::format("{} is {} with reason \"{}\" ({})", s->name(), why.condition, why.text,
                                                  why.code));
  }
}

bool stop_in_progress(const SimWorld& world, const std::vector<ServiceSnapshot>& services) {
  if (std::any_of(services.begin(), services.end(),
                  [](const ServiceSnapshot& s) { return s.phase == Phase::Stopping || s.removing; }))
    return true;
  return std::any_of(world.processes().begin(), world.processes().end(), [](const auto& e) { return e.second.killed; });
}

}  // namespace procd::sim
