// SimWorld: the operating system as the simulated Supervisor sees it — a
// SystemCalls (system_calls.hpp) with fake pids, the simulated clock
// (SimClock, also the loop's TimerHost) and fake processes whose behaviour
// the seeded RNG picks at each spawn: run until signalled or end on their
// own (an exit code or a crash signal), obey the stop signal quickly or
// slowly or ignore it, and rarely survive SIGKILL for a while (D state);
// some fork a worker into their process group that outlives them (the
// run's drain: procd signals what is left of the group); a
// spawn can also fail synchronously, now and then or for a while (a
// command that is broken: a binary not deployed yet); some workers setsid
// away (out of the group: only a cgroup holds them); some runs exec slowly
// (the spawn call blocks a while, or a wrapper runs before the program).
// In half the sequences the world has a cgroupfs (sim_cgroup.hpp): the
// Supervisor then runs in cgroup mode. No pipes.
//
// The world checks what only it can see, as it happens: a spawn after
// shutdown began, a SIGKILL before the stop signal (or before the stop
// timeout), too many spawns at one simulated instant (a hang). Everything
// it records goes into the trace, one line per event.
#pragma once

#include <signal.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "procd/group_census.hpp"
#include "procd/system_calls.hpp"
#include "sim_clock.hpp"

namespace procd::sim {

struct Violation {
  std::string kind;    // the invariant's name (README.md), e.g. "kill-before-stop"
  std::string detail;
};

// What the world must know of a service to judge its signals; fixed for a
// service name for the whole sequence (the config generator keeps them).
struct ServiceTraits {
  int stop_signal = SIGTERM;
  std::int64_t stop_timeout_ms = 10000;
  bool zero_restart_delay = false;  // in the current config (changes with reloads)
  bool critical = false;            // fixed too: a critical service that fails for good ends procd
  bool main = false;                // fixed too (issue 28): the end of its run ends procd with its code
};

struct FakeProcess {
  pid_t pid = 0;
  pid_t pgid = 0;                          // == pid for a run's main process
  bool worker = false;                     // a worker the main process forked: outlives it, reaped as an orphan
  bool is_child() const { return worker; }
  bool escaped = false;                    // a worker that called setsid: pgid == its pid, only its cgroup holds it
  bool foreign = false;                    // left in its cgroup by an earlier procd: not procd's child
  pid_t run = 0;                           // the main pid of the run it belongs to (its own for a main process)
  bool health = false;                     // a health command of the service (a session of its own)
  std::string hook;                        // also a hook of the service ("pre_start", ...): health is set too
  std::string service;
  std::string cgroup;                      // the cgroup it runs in (cgroup mode); empty: none
  std::int64_t exec_until = 0;             // exec slowly: a wrapper until then (default dispositions, no notify)
  bool told_notify = false;                // its spawn carried NOTIFY_SOCKET: procd may wait for its READY=1
  std::int64_t spawned_at = 0;
  // Behaviour, picked at spawn.
  std::optional<std::int64_t> ends_after;  // ends on its own this long after spawn
  ExitStatus natural;                      // ... this way
  enum class OnStop { Exit, Slow, Ignore } on_stop = OnStop::Exit;
  std::int64_t stop_delay = 0;             // Exit / Slow: how long the stop takes
  bool dies_of_stop_signal = false;        // ends killed by the signal (else exit code 0)
  std::int64_t stuck_after_kill = 0;       // > 0: survives SIGKILL this long (D state)
  // Fate.
  std::optional<std::int64_t> exit_at;     // when it will exit
  ExitStatus status;                       // ... and how
  bool exited = false;                     // exit delivered (a zombie until reaped)
  std::int64_t first_stop_at = -1;         // first stop signal from procd
  std::int64_t extended_until = -1;        // issue 28: EXTEND_TIMEOUT_USEC sent while stopping: no SIGKILL before
  bool killed = false;                     // got SIGKILL
  std::string describe() const;
};

class SimWorld final : public SystemCalls {
 public:
  explicit SimWorld(std::uint64_t seed);

  SimClock& clock() { return clock_; }
  std::int64_t time() const { return clock_.now(); }
  std::map<std::string, ServiceTraits>& traits() { return traits_; }

  // SystemCalls.
  Result<SpawnedProcess> spawn(const SpawnRequest& req) override;
  Result<void> signal_group(pid_t pgid, int sig) override;
  bool group_exists(pid_t pgid) override;
  GroupCensus group_census() override;
  std::optional<Reaped> reap_one() override;
  Result<std::unique_ptr<CgroupTree>> setup_cgroups(const CgroupTree::Options&) override;  // sim_cgroup.cpp
  Result<void> become_subreaper() override { return {}; }
  Millis now(uv_loop_t*) override { return clock_.now(); }
  TimerHost* timer_host() override { return &clock_; }

  // Processes not reaped yet, in pid order (workers too: is_child()).
  const std::map<pid_t, FakeProcess>& processes() const { return procs_; }
  // issue 28: a start-first surge (NAME+ / NAME~) promoted to NAME: its run's processes are NAME's now.
  // Its health commands, made with the surge's name for the rest of that run, belong to NAME too (alias()).
  void rename_run(pid_t run, const std::string& to) {
    for (auto& [pid, p] : procs_)
      if (p.run == run && !p.health) aliases_[p.service] = to, p.service = to;
  }
  // A surge NAME+ / NAME~ has the traits of NAME (its stop signal and timeout).
  std::map<std::string, ServiceTraits>::const_iterator find_traits(const std::string& name) const {
    auto it = traits_.find(name);
    if (it == traits_.end() && !name.empty() && (name.back() == '+' || name.back() == '~')) it = traits_.find(name.substr(0, name.size() - 1));
    return it;
  }
  std::string alias(const std::string& name) const {
    auto it = aliases_.find(name);
    return it != aliases_.end() && !run_alive(name) ? it->second : name;
  }
  // The earliest pending exit of a process, if any.
  std::optional<std::int64_t> next_exit() const;
  // Marks every process whose exit time has come as exited (a zombie);
  // true when one did (the driver then runs the Supervisor's reap).
  bool deliver_exits();
  // The process ends now on its own (the driver's "exit/crash" event).
  void end_now(pid_t pid, ExitStatus status);

  // A signal the driver sends as a user (`procd signal`): not procd's stop.
  void set_user_signal(bool on) { user_signal_ = on; }
  // When shutdown began, and its graceful deadline (ladder SIGKILLs are fine after it).
  void shutdown_began(std::int64_t graceful_ms);
  // A second SIGTERM skipped the graceful wait: the ladder's SIGKILLs are fair from now.
  void shutdown_escalated();
  std::int64_t shutdown_at() const { return shutdown_at_; }

  std::uint64_t spawned() const { return spawned_; }  // runs only (procd_spawns_total)
  std::uint64_t health_spawned() const { return health_spawned_; }
  // The exit codes procd may give when this service ends it as critical:
  // its last run's (128 + signal for a signal; 0 counts as 1), and 1 when a
  // spawn failed after that run.
  std::set<int> critical_codes(const std::string& service) const;
  // issue 28: procd's code after the main service's run ended (127: its spawn or its newest pre_start failed; 4: a dependency it needs went down for good).
  std::set<int> main_codes(const std::string& service) const;
  // issue 28: pid sent EXTEND_TIMEOUT_USEC=usec now: once procd stopped it, its SIGKILL waits.
  void extend_timeout(pid_t pid, std::int64_t usec);
  // A process of the service's run (its main process or a worker left in its group) is alive.
  bool run_alive(const std::string& service) const;
  // issue 28: pre_start outcomes of services not in `names` are forgotten (a reload).
  void forget_pre_start(const std::vector<std::string>& names) {
    for (auto it = pre_start_.begin(); it != pre_start_.end();)
      it = std::find(names.begin(), names.end(), it->first) == names.end() ? pre_start_.erase(it) : std::next(it);
    for (auto it = last_pre_start_.begin(); it != last_pre_start_.end();)
      it = std::find(names.begin(), names.end(), it->first) == names.end() ? last_pre_start_.erase(it) : std::next(it);
  }
  bool stuck_alive() const;  // a process outlived its SIGKILL and still runs
  bool anything_running() const;  // zombies (exited, not reaped) do not count
  bool had_workers(pid_t pgid) const { return groups_with_workers_.count(pgid) > 0; }
  void violate(std::string kind, std::string detail);

  // The cgroupfs (sim_cgroup.cpp). use_cgroups(true) before the Supervisor
  // starts: procd then runs in cgroup mode; some services' cgroups hold a
  // process an earlier procd left (crash recovery).
  void use_cgroups(bool on, const std::vector<std::string>& services);
  bool cgroup_mode() const { return cgroup_mode_; }
  // Members of a cgroup: not exited (a zombie has left it). `due` true: an
  // exit due now counts as gone, and so does a process that outlived SIGKILL.
  std::vector<pid_t> members(const std::string& dir, bool due = false) const;
  void signal_cgroup(const std::string& dir, int sig);
  // cgroup.events changed (a cgroup emptied or filled): the watcher's callback.
  bool deliver_cgroup_events();  // true when a watcher ran
  void attach(class SimCgroups* tree) { tree_ = tree; }
  // A process procd cannot see: a setsid worker in process-group mode.
  bool invisible(const FakeProcess& p) const { return p.escaped && !cgroup_mode_; }
  std::vector<Violation>& violations() { return violations_; }
  std::vector<std::string>& trace() { return trace_; }
  void note(const std::string& line);
  std::function<bool()> shutting_down;  // the Supervisor's view, set by the driver
  // issue 28: the service whose hook or run `pid` is, by procd's account ("": none), set by the driver: a
  // start-first surge (NAME+) promoted while its hook ran holds that hook as NAME (sim_hooks.cpp); one
  // promoted before its run ended (in the same step: not renamed yet) ends as NAME (reap_one).
  std::function<std::string(pid_t)> pid_holder;
  bool avoid_broken_zero_delay = false;  // --avoid broken-command-zero-delay

 private:
  Result<SpawnedProcess> spawn_health(const std::string& name, const std::string& cgroup);
  Result<SpawnedProcess> spawn_hook(const std::string& name, const std::string& kind, const SpawnRequest& req);
  void check_pre_start(const std::string& name);          // a main spawn of `name` (sim_hooks.cpp)
  void pre_start_ended(FakeProcess& hook, const Reaped& r);  // its reap
  void rename_promoted_hooks();
  std::string ended_as(const FakeProcess& run) const;  // the name a run's end is recorded under (sim_hooks.cpp)
  std::map<std::string, int> pre_start_;   // per service: 0 none since its last main spawn, 1 exited 0, 2 failed
  std::map<std::string, pid_t> last_pre_start_;  // its latest pre_start (an older one's late reap says nothing)
  int stop_signal_of(const std::string& service) const;
  void pick_behaviour(FakeProcess& p);
  void pick_child(const FakeProcess& leader, bool escapes);
  void react(FakeProcess& p, int sig);
  void exit_by(FakeProcess& p, std::int64_t at, ExitStatus status);
  void check_kill(const FakeProcess& p);
  bool zero_delay(const std::string& service) const;

  SimClock clock_;
  std::mt19937_64 rng_;
  std::map<std::string, ServiceTraits> traits_;
  std::map<pid_t, FakeProcess> procs_;
  std::map<std::string, std::string> aliases_;  // issue 28: promoted surge name -> its instance (rename_run)
  std::set<pid_t> groups_with_workers_;
  std::map<std::string, std::int64_t> broken_;  // command line -> every spawn of it fails until then
  std::deque<pid_t> zombies_;
  pid_t next_pid_ = 1000;
  std::uint64_t spawned_ = 0;
  std::uint64_t health_spawned_ = 0;
  std::map<std::string, std::pair<int, bool>> last_end_;  // service -> last run's exit code, a spawn failed since
  std::int64_t instant_ = -1;      // the simulated time spawns_now_ counts at
  int spawns_now_ = 0;
  bool user_signal_ = false;
  bool cgroup_mode_ = false;
  class SimCgroups* tree_ = nullptr;         // owned by the Supervisor
  std::set<pid_t> reaped_;                   // pids reaped by procd (never reused here)
  std::int64_t shutdown_at_ = -1;
  std::int64_t graceful_ms_ = 0;
  std::vector<Violation> violations_;
  std::vector<std::string> trace_;
  std::size_t last_line_ = 0;   // note(): folding repeated lines
  std::string last_text_;
  std::int64_t repeat_from_ = 0;
  int repeats_ = 0;
};

// "SIGTERM", or the number.
std::string sig_name(int sig);

}  // namespace procd::sim
