// SimWorld: see sim_world.hpp. Every random choice is drawn here, at a
// spawn, from the world's own RNG, so the same sequence of calls from the
// Supervisor meets the same processes.
#include "sim_world.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <unordered_set>

namespace procd::sim {
namespace {

constexpr int kSpawnsPerInstant = 100;  // more at one simulated instant: a hang

std::string describe_status(const ExitStatus& s) {
  return s.signal > 0 ? fmt::format("signal {}", sig_name(s.signal)) : fmt::format("code {}", s.code);
}

}  // namespace

std::string sig_name(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGKILL: return "SIGKILL";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    default: return std::to_string(sig);
  }
}

std::string FakeProcess::describe() const {
  if (health) return ends_after ? fmt::format("exits {} after {} ms", describe_status(natural), *ends_after) : "hangs";
  std::string out = ends_after ? fmt::format("ends after {} ms ({})", *ends_after, describe_status(natural)) : "runs";
  const char* stop = on_stop == OnStop::Exit ? "stops" : on_stop == OnStop::Slow ? "stops slowly" : "ignores stop";
  if (on_stop != OnStop::Ignore) out += fmt::format(", {} in {} ms", stop, stop_delay);
  else out += fmt::format(", {}", stop);
  if (stuck_after_kill > 0) out += fmt::format(", survives SIGKILL for {} ms", stuck_after_kill);
  if (exec_until > spawned_at) out += fmt::format(", execs the program only after {} ms", exec_until - spawned_at);
  return out;
}

SimWorld::SimWorld(std::uint64_t seed) : rng_(seed ^ 0x5eedf00dcafe1234ULL) {}

// A line repeating the one just before (a retry loop) folds into it.
void SimWorld::note(const std::string& line) {
  if (!trace_.empty() && last_line_ == trace_.size() - 1 && line == last_text_) {
    trace_.back() = fmt::format("  @{}..{} {} (x{})", repeat_from_, clock_.now(), line, ++repeats_);
    return;
  }
  trace_.push_back(fmt::format("  @{} {}", clock_.now(), line));
  last_line_ = trace_.size() - 1;
  last_text_ = line;
  repeat_from_ = clock_.now();
  repeats_ = 1;
}

void SimWorld::violate(std::string kind, std::string detail) {
  for (const auto& v : violations_)
    if (v.kind == kind && v.detail == detail) return;  // seen at an earlier step
  note("VIOLATION " + kind + ": " + detail);
  violations_.push_back(Violation{std::move(kind), std::move(detail)});
}

void SimWorld::pick_behaviour(FakeProcess& p) {
  auto pct = [this] { return std::uniform_int_distribution<int>(0, 99)(rng_); };
  auto between = [this](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); };
  int r = pct();
  if (r < 15) p.ends_after = between(1, 50);          // dies at once (a crash loop)
  else if (r < 45) p.ends_after = between(50, 20000);  // a job, or a late crash
  int how = pct();
  if (how < 55) p.natural = ExitStatus{0, 0};
  else if (how < 80) p.natural = ExitStatus{1 + static_cast<int>(between(0, 2)), 0};
  else p.natural = ExitStatus{0, how < 90 ? SIGSEGV : SIGABRT};
  int stop = pct();
  if (stop < 75) p.on_stop = FakeProcess::OnStop::Exit, p.stop_delay = between(0, 100);
  else if (stop < 90) p.on_stop = FakeProcess::OnStop::Slow, p.stop_delay = between(200, 30000);
  else p.on_stop = FakeProcess::OnStop::Ignore;
  p.dies_of_stop_signal = pct() < 50;
  if (pct() < 3) p.stuck_after_kill = between(1000, 40000);
  // Exec slowly: a wrapper (a shell, a slow loader) runs first; until the
  // program is exec'd, signals have their default action and it cannot
  // notify, and its own life starts only then.
  if (pct() < 5) p.exec_until = p.spawned_at + between(100, 3000);
}

// A worker in the leader's group: ends on its own or runs on, obeys the
// stop signal within 50 ms or ignores it; SIGKILL ends it.
// An escaping worker calls setsid: its own session and group, out of the
// leader's; only the leader's cgroup still holds it.
void SimWorld::pick_child(const FakeProcess& leader, bool escapes) {
  auto pct = [this] { return std::uniform_int_distribution<int>(0, 99)(rng_); };
  auto between = [this](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); };
  FakeProcess c;
  c.pid = next_pid_++;
  c.pgid = escapes ? c.pid : leader.pid;
  c.worker = true;
  c.escaped = escapes;
  c.run = leader.pid;
  c.cgroup = leader.cgroup;
  c.service = leader.service;
  c.spawned_at = clock_.now();
  if (pct() < 50) c.ends_after = between(1, 5000);
  c.on_stop = pct() < 70 ? FakeProcess::OnStop::Exit : FakeProcess::OnStop::Ignore;
  c.stop_delay = between(0, 50);
  c.dies_of_stop_signal = true;
  if (c.ends_after) exit_by(c, clock_.now() + *c.ends_after, c.natural);
  note(fmt::format("  with a worker pid {} {}: {}", c.pid, escapes ? "that setsids away" : "in its group", c.describe()));
  groups_with_workers_.insert(c.run);
  procs_.emplace(c.pid, std::move(c));
}

Result<SpawnedProcess> SimWorld::spawn(const SpawnRequest& req) {
  std::string name = "?";
  for (const auto& kv : req.env)
    if (kv.rfind("PROCD_SERVICE=", 0) == 0) name = kv.substr(14);
  // A health command: /dev/null for stdio (a run always has pipes), argv sim-health-NAME.
  if (req.stdio == SpawnStdio::Null || (!req.argv.empty() && req.argv[0].rfind("sim-health-", 0) == 0)) return spawn_health(name, req.cgroup);
  for (const char* kind : {"pre_start", "stop_command", "post_stop"})
    if (!req.argv.empty() && req.argv[0].rfind(fmt::format("sim-hook-{}-", kind), 0) == 0) return spawn_hook(name, kind, req);
  check_pre_start(name);  // issue 28: never while its pre_start runs, nor after it failed (sim_hooks.cpp)
  if (instant_ != clock_.now()) instant_ = clock_.now(), spawns_now_ = 0;
  bool hung = ++spawns_now_ > kSpawnsPerInstant;
  if (spawns_now_ == kSpawnsPerInstant + 1)
    violate("spawn-burst", fmt::format("{} spawns of {} at one simulated instant: dispatch does not return", spawns_now_, name));
  if (!hung && !req.cgroup.empty())
    for (pid_t m : members(req.cgroup, true))
      violate("spawn-into-populated", fmt::format("spawn of {} into {}, which still holds pid {} of {}", name, req.cgroup, m,
                                                  procs_.at(m).service));
  if (shutting_down && shutting_down() && !hung)  // (a health command of a service not stopped yet may run)
    violate("spawn-after-shutdown", fmt::format("spawn of {} after shutdown began", name));
  // A command is broken for a while (a binary not deployed yet) with a
  // small chance the first time it is seen; any spawn fails now and then.
  // Once a hang is found the spawn succeeds, so the loop can end and the
  // sequence report.
  std::string command;
  for (const auto& a : req.argv) command += a + " ";
  auto known = broken_.find(command);
  if (known == broken_.end()) {
    bool breaks = std::uniform_int_distribution<int>(0, 99)(rng_) < 3;
    known = broken_.emplace(command, breaks ? clock_.now() + std::uniform_int_distribution<std::int64_t>(1000, 30000)(rng_) : 0).first;
  }
  // --avoid broken-command-zero-delay: a known defect's trigger left out (known_failures.txt).
  bool broken = clock_.now() < known->second && !(avoid_broken_zero_delay && zero_delay(name));
  if (!hung && (broken || std::uniform_int_distribution<int>(0, 99)(rng_) < 3)) {
    last_end_[name].second = true;
    note(fmt::format("spawn {} fails{}", name, broken ? " (its command is broken)" : ""));
    return make_error(Code::SpawnFailed, "simulated spawn failure");
  }
  // The exec-status pipe reports late (a slow loader): the spawn call blocks.
  if (!hung && std::uniform_int_distribution<int>(0, 99)(rng_) < 3) {
    std::int64_t took = std::uniform_int_distribution<std::int64_t>(1, 300)(rng_);
    note(fmt::format("spawn {} blocks {} ms until exec", name, took));
    clock_.set_now(clock_.now() + took);
  }
  FakeProcess p;
  const pid_t pid = next_pid_++;
  p.pid = pid;
  p.pgid = pid;
  p.run = pid;
  p.cgroup = req.cgroup;
  p.service = name;
  p.spawned_at = clock_.now();
  p.told_notify = std::any_of(req.env.begin(), req.env.end(), [](const std::string& kv) { return kv.rfind("NOTIFY_SOCKET=", 0) == 0; });
  if (!hung) pick_behaviour(p);
  if (p.ends_after) exit_by(p, std::max(clock_.now(), p.exec_until) + *p.ends_after, p.natural);
  ++spawned_;
  if (!hung) note(fmt::format("spawn {} pid {}: {}", name, p.pid, p.describe()));
  procs_.emplace(pid, std::move(p));
  if (!hung) {
    int fork = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (fork < 14) pick_child(procs_.at(pid), fork >= 8);
  }
  return SpawnedProcess{pid, -1, -1};
}

// A health command: answers 0 or 1 after a while, or hangs until killed
// (procd kills its session at the check's timeout). It may only run while
// its service's run does: procd stops the checker when the run ends.
Result<SpawnedProcess> SimWorld::spawn_health(const std::string& name, const std::string& cgroup) {
  auto between = [this](std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); };
  if (!run_alive(alias(name)))
    violate("health-after-run", fmt::format("health command of {} spawned while no process of its run is alive", name));
  if (between(0, 99) < 2) {
    note(fmt::format("health {} fails to spawn", name));
    return make_error(Code::SpawnFailed, "simulated health spawn failure");
  }
  FakeProcess p;
  p.pid = p.pgid = p.run = next_pid_++;
  p.service = name;
  p.cgroup = cgroup;
  p.health = true;
  p.spawned_at = clock_.now();
  int r = static_cast<int>(between(0, 99));
  if (r < 85) p.ends_after = between(1, 300), p.natural = ExitStatus{r < 65 ? 0 : 1, 0};
  p.stop_delay = 0;
  p.dies_of_stop_signal = true;
  if (p.ends_after) exit_by(p, clock_.now() + *p.ends_after, p.natural);
  ++health_spawned_;
  note(fmt::format("health {} pid {}: {}", name, p.pid, p.describe()));
  pid_t pid = p.pid;
  procs_.emplace(pid, std::move(p));
  return SpawnedProcess{pid, -1, -1};
}

std::set<int> SimWorld::critical_codes(const std::string& service) const {
  auto own = last_end_.find(service);  // 1: never ran, or a spawn failure; issue 28: a promoted surge's run ended as NAME+ / NAME~
  std::set<int> out = own == last_end_.end() || own->second.second ? std::set<int>{1} : std::set<int>{};
  for (const auto& n : {service, service + "+", service + "~"})
    if (auto it = last_end_.find(n); it != last_end_.end()) out.insert(it->second.first == 0 ? 1 : it->second.first);
  return out;
}

void SimWorld::extend_timeout(pid_t pid, std::int64_t usec) {
  auto it = procs_.find(pid);
  if (it == procs_.end() || it->second.first_stop_at < 0 || it->second.killed) return;  // nothing to extend
  it->second.extended_until = std::max(it->second.extended_until, clock_.now() + usec / 1000);
}

bool SimWorld::run_alive(const std::string& service) const {
  return std::any_of(procs_.begin(), procs_.end(),
                     [&](const auto& e) {
    return e.second.service == service && !e.second.health && !e.second.exited && !e.second.foreign && !invisible(e.second);
  });
}

void SimWorld::shutdown_escalated() {
  if (shutdown_at_ >= 0 && clock_.now() < shutdown_at_ + graceful_ms_) graceful_ms_ = clock_.now() - shutdown_at_;
}

void SimWorld::exit_by(FakeProcess& p, std::int64_t at, ExitStatus status) {
  if (p.exited || (p.exit_at && *p.exit_at <= at)) return;  // an earlier end stands
  p.exit_at = at;
  p.status = status;
}

void SimWorld::shutdown_began(std::int64_t graceful_ms) {
  if (shutdown_at_ >= 0) return;
  shutdown_at_ = clock_.now();
  graceful_ms_ = graceful_ms;
}

// A SIGKILL from procd is fair once the stop signal went out and either
// the service's stop timeout or the shutdown's graceful period passed.
void SimWorld::check_kill(const FakeProcess& p) {
  if (user_signal_ || p.killed) return;
  const std::int64_t t = clock_.now();
  bool ladder = shutdown_at_ >= 0 && t >= shutdown_at_ + graceful_ms_;
  if (p.first_stop_at < 0) {
    // At the shutdown ladder's deadline a name of its own: a known defect (known_failures.txt).
    violate(ladder ? "ladder-kill-without-stop" : "kill-before-stop",
            fmt::format("SIGKILL to {} {} {} without its stop signal first{}", p.service, p.is_child() ? "worker" : "pid",
                        p.pid, ladder ? " (shutdown ladder)" : ""));
    return;
  }
  if (p.is_child()) return;  // what is left of a group: the drain's own (shorter) deadline
  auto it = find_traits(p.service);
  std::int64_t timeout = it == traits_.end() ? 0 : it->second.stop_timeout_ms;
  bool timed_out = t >= p.first_stop_at + timeout;
  if (!ladder && t < p.extended_until)
    violate("kill-before-extension", fmt::format("SIGKILL to {} pid {} {} ms before the deadline its EXTEND_TIMEOUT_USEC set",
                                                 p.service, p.pid, p.extended_until - t));
  if (!timed_out && !ladder)
    violate("kill-too-early", fmt::format("SIGKILL to {} pid {} {} ms after its stop signal (stop timeout {} ms)",
                                          p.service, p.pid, t - p.first_stop_at, timeout));
}

// The signal reaches every process of the group still running (the main
// process first: procd's SIGKILL is judged on it while it lives, else on
// the workers left).
Result<void> SimWorld::signal_group(pid_t pgid, int sig) {
  std::vector<FakeProcess*> group;
  for (auto& [pid, p] : procs_)
    if (p.pgid == pgid && !p.exited) group.push_back(&p);
  if (group.empty()) {
    // The leader is reaped and no member is left: the id may be another's now.
    if (reaped_.count(pgid))
      violate("signal-reaped-group", fmt::format("{} sent to group {}, whose leader was reaped and which has no live member",
                                                 sig_name(sig), pgid));
    return {};  // ESRCH is not an error
  }
  note(fmt::format("signal {} {} {} {}{}", group.front()->service, group.front()->health ? "health" : group.front()->is_child() ? "group" : "pid", pgid,
                   sig_name(sig), user_signal_ ? " (user)" : ""));
  if (sig == SIGKILL && !group.front()->health) check_kill(*group.front());
  for (FakeProcess* p : group) react(*p, sig);
  return {};
}

void SimWorld::react(FakeProcess& p, int sig) {
  const std::int64_t t = clock_.now();
  if (sig == SIGKILL) {
    if (!user_signal_) p.killed = true;
    exit_by(p, t + p.stuck_after_kill, ExitStatus{0, SIGKILL});
    return;
  }
  if (t < p.exec_until && sig != SIGCHLD && sig != SIGCONT && sig != SIGWINCH) {  // not the program yet: default action
    if (sig == stop_signal_of(p.service) && !user_signal_ && p.first_stop_at < 0) p.first_stop_at = t;
    exit_by(p, t, ExitStatus{0, sig});
    return;
  }
  auto tr = find_traits(p.service);
  int stop_signal = tr == traits_.end() ? SIGTERM : tr->second.stop_signal;
  if (sig == stop_signal && !user_signal_ && p.first_stop_at < 0) p.first_stop_at = t;
  bool terminating = sig == SIGTERM || sig == SIGINT || sig == SIGQUIT || sig == stop_signal;
  if (!terminating || p.on_stop == FakeProcess::OnStop::Ignore) return;
  exit_by(p, t + p.stop_delay, p.dies_of_stop_signal ? ExitStatus{0, sig} : ExitStatus{0, 0});
}

int SimWorld::stop_signal_of(const std::string& service) const {
  auto it = find_traits(service);
  return it == traits_.end() ? SIGTERM : it->second.stop_signal;
}

bool SimWorld::zero_delay(const std::string& service) const {
  auto it = find_traits(service);
  return it != traits_.end() && it->second.zero_restart_delay;
}

bool SimWorld::group_exists(pid_t pgid) {
  return std::any_of(procs_.begin(), procs_.end(),
                     [pgid](const auto& e) { return e.second.pgid == pgid && !e.second.exited && !e.second.foreign; });
}

// Every fake process descends from procd: a group with a live member is ours.
GroupCensus SimWorld::group_census() {
  std::unordered_set<pid_t> groups;
  for (const auto& [pid, p] : procs_)
    if (!p.exited && !p.foreign) groups.insert(p.pgid);
  return GroupCensus::of_groups(std::move(groups));
}

std::optional<Reaped> SimWorld::reap_one() {
  if (zombies_.empty()) return std::nullopt;
  pid_t pid = zombies_.front();
  zombies_.pop_front();
  auto it = procs_.find(pid);
  Reaped r{pid, it->second.status.code, it->second.status.signal};
  reaped_.insert(pid);
  if (it->second.hook == "pre_start") pre_start_ended(it->second, r);
  if (!it->second.health && !it->second.is_child())
    last_end_[ended_as(it->second)] = {r.signal > 0 ? 128 + r.signal : r.code, false};
  procs_.erase(it);
  return r;
}

std::optional<std::int64_t> SimWorld::next_exit() const {
  std::optional<std::int64_t> due;
  for (const auto& [pid, p] : procs_)
    if (!p.exited && p.exit_at && (!due || *p.exit_at < *due)) due = p.exit_at;
  return due;
}

bool SimWorld::deliver_exits() {
  bool any = false;
  std::vector<pid_t> gone;  // an earlier procd's: reaped by init
  for (auto& [pid, p] : procs_) {
    if (p.exited || !p.exit_at || *p.exit_at > clock_.now()) continue;
    p.exited = true;
    note(fmt::format("exit {} {} {} ({})", p.service, p.health ? "health" : p.foreign ? "leftover" : "pid", pid,
                     describe_status(p.status)));
    if (p.foreign) {
      gone.push_back(pid);
      continue;
    }
    zombies_.push_back(pid);
    any = true;
  }
  for (pid_t pid : gone) procs_.erase(pid);
  return any;
}

void SimWorld::end_now(pid_t pid, ExitStatus status) {
  auto it = procs_.find(pid);
  if (it == procs_.end() || it->second.exited) return;
  it->second.exit_at.reset();  // this end replaces any later one
  exit_by(it->second, clock_.now(), status);
}

bool SimWorld::anything_running() const {
  return std::any_of(procs_.begin(), procs_.end(), [this](const auto& e) { return !e.second.exited && !invisible(e.second); });
}

bool SimWorld::stuck_alive() const {
  return std::any_of(procs_.begin(), procs_.end(), [](const auto& e) { return e.second.killed && !e.second.exited; });
}

}  // namespace procd::sim
