// The driver: see sim_driver.hpp. A Sequence owns the world, the config and
// the Supervisor of one run; step() picks and applies one event, then
// settle_now() delivers what is due at this instant, and check() runs the
// invariants.
#include "sim_driver.hpp"

#include <fmt/core.h>
#include <uv.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>

#include "procd/config_load.hpp"
#include "procd/pid_lock.hpp"
#include "procd/supervisor.hpp"
#include "sim_config.hpp"
#include "sim_invariants.hpp"

namespace procd::sim {
namespace {

constexpr int kEventsPerStep = 100000;        // timers + exits in one step: more is a hang
constexpr std::int64_t kQuiesceLimitMs = 600000;

class Sequence {
 public:
  explicit Sequence(const SimOptions& opt)
      : opt_(opt), rng_(opt.seed), world_(opt.seed), cfg_(rng_, opt.dir), path_(opt.dir + "/procd.toml") {}

  SimOutcome run() {
    SimOutcome out;
    if (setup()) {
      for (step_ = 0; step_ < opt_.steps && !sup_->stopped(); ++step_) {
        if (!opt_.keep.empty() && std::find(opt_.keep.begin(), opt_.keep.end(), step_) == opt_.keep.end()) continue;
        rng_.seed(opt_.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(step_) + 1);
        one_step();
        check();
        if (failed()) break;
      }
      if (!failed()) finish();
    }
    out.exit_code = code_;
    out.step = step_;
    for (const auto& v : world_.violations()) {
      if (opt_.allowed.count(v.kind)) {
        out.allowed_seen.insert(v.kind);
      } else if (!out.failed) {
        out.failed = true;
        out.violation = v;
      }
    }
    sup_.reset();  // closes every handle before the world (the timers' host) goes
    out.trace = std::move(world_.trace());
    return out;
  }

 private:
  bool failed() {
    return std::any_of(world_.violations().begin(), world_.violations().end(),
                       [this](const Violation& v) { return !opt_.allowed.count(v.kind); });
  }
  void say(const std::string& what) {
    std::string when = started_ ? fmt::format("step {}", step_) : "setup";
    world_.trace().push_back(fmt::format("{} @{}: {}", when, world_.time(), what));
  }
  bool avoid(const char* trigger) const { return opt_.avoided.count(trigger) > 0; }

  bool setup() {
    std::filesystem::remove(opt_.dir + "/procd.pid");
    write_config();
    // Cgroup mode in half the sequences, from the seed alone (not from rng_:
    // the configs the seeds drew before cgroups came stay the same).
    const bool cgroups = (std::mt19937_64(opt_.seed ^ 0xc6a4a7935bd1e995ULL)() & 1) != 0;
    say(std::string(cgroups ? "cgroup mode; " : "process-group mode; ") + "config: " + cfg_.describe());
    LoadResult loaded = load_config(path_);
    if (!loaded.ok()) return world_.violate("setup", "the generated config is invalid: " + loaded.errors.front().message), false;
    world_.traits() = cfg_.traits();
    world_.avoid_broken_zero_delay = avoid("broken-command-zero-delay");
    world_.use_cgroups(cgroups, cfg_.names());
    auto lock = PidLock::acquire(loaded.config->pid_file);
    if (!lock.ok()) return world_.violate("setup", lock.error().message), false;
    sup_ = std::make_unique<Supervisor>(std::move(*loaded.config), std::move(lock.value()), world_);
    world_.shutting_down = [this] { return sup_->shutting_down(); };
    world_.pid_holder = [this](pid_t pid) { return pid_holder(*sup_, pid); };  // sim_rolls.cpp
    if (auto code = sup_->start()) return world_.violate("setup", fmt::format("procd did not start ({})", *code)), false;
    settle_now();
    check();
    started_ = true;
    return true;
  }

  void write_config() { std::ofstream(path_, std::ios::trunc) << cfg_.text(); }

  // The loop without blocking: settle() runs in its prepare and check handles.
  // Shutdown may begin inside it (a critical service failed): the world
  // learns when, at this instant, to judge the ladder's SIGKILLs.
  // A cgroup that emptied or filled meanwhile: its watcher runs, then the loop again.
  void pump() {
    for (int i = 0; i < 2 && !sup_->stopped(); ++i) uv_run(sup_->loop(), UV_RUN_NOWAIT);
    for (int i = 0; i < 8 && !sup_->stopped() && world_.deliver_cgroup_events(); ++i)
      for (int j = 0; j < 2 && !sup_->stopped(); ++j) uv_run(sup_->loop(), UV_RUN_NOWAIT);
    if (sup_->shutting_down() && world_.shutdown_at() < 0) world_.shutdown_began(cfg_.graceful_ms());
  }

  // Moves time to `until` (or to where a blocking spawn moved it), delivering every exit
  // and firing every timer due on the way, in time order (exits first at a tie).
  void advance(std::int64_t until) {
    for (int events = 0; !sup_->stopped(); ++events, until = std::max(until, world_.time())) {
      if (events == kEventsPerStep) {
        world_.violate("event-burst", fmt::format("{} timers and exits in one step: a loop that does not end", events));
        return;
      }
      auto timer = world_.clock().next_due();
      auto exit = world_.next_exit();
      if (exit && *exit <= until && (!timer || *exit <= *timer)) {
        world_.clock().set_now(*exit);
        world_.deliver_exits();
        // cgroup.events and SIGCHLD race: at an odd instant the watcher runs first.
        if (*exit % 2 == 1) world_.deliver_cgroup_events();
        sup_->handle_signal(SIGCHLD);  // what SIGCHLD runs: reap every exited child
      } else if (!world_.clock().fire_next(until)) {
        break;
      }
      pump();
    }
    if (!sup_->stopped()) world_.clock().set_now(until);  // time ends with procd
  }
  void settle_now() {
    pump();
    advance(world_.time());
  }

  void check() {
    if (!sup_) return;
    // procd stopped its loop: what its last signals ended is dead (init reaps it).
    if (sup_->stopped()) world_.deliver_exits();
    auto services = sup_->snapshot();
    check_processes(world_, services);
    check_spawn_count(world_, sup_->counters());
    check_health(world_);
    auto all = sup_->select(Request{}, true);
    if (!all.ok()) return;
    check_critical(world_, *all, sup_->shutting_down());
    check_main_and_stops(world_, *all, sup_->shutting_down());
    check_start_limit(world_, *all, given_up_);
    check_rolls(world_, *sup_, given_up_, ready_sent_);  // after it: what a roll restarts is not given up
    check_notify(world_, *all, ready_sent_);
    check_sharing(world_, *all);
    check_cgroups(world_, *all);
    check_reasons(world_, *all, world_.time());
    // The exit code the ladder owes: 0 when the driver asked for the
    // shutdown, else (a critical service failed) that service's code.
    // Shutting down with nothing left to wait for (no process, no zombie):
    // procd stops in the turn the last one was reaped, not at a later rung.
    if (sup_->shutting_down() && !sup_->stopped() && world_.processes().empty())
      world_.violate("shutdown-lingers", "every process is gone and reaped, but procd is still shutting down");
    if (sup_->shutting_down() && expected_.empty()) {
      if (driver_shutdown_) expected_.insert(0);
      else
        for (const auto& [name, tr] : world_.traits())
          if (tr.critical) expected_.merge(world_.critical_codes(name));
      for (const auto& [name, tr] : world_.traits())
        if (tr.main && !driver_shutdown_) expected_.merge(world_.main_codes(name));
      if (expected_.empty()) world_.violate("exit-code", "shutdown began on its own, but no service is critical or main");
    }
  }
  std::int64_t between(std::int64_t lo, std::int64_t hi) { return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_); }

  void one_step() {
    int r = static_cast<int>(between(0, 999));
    if (r < 280) return fire_next();
    if (r < 410) return say_advance(between(1, 3000));
    if (r < 450) return say_advance(between(10000, 60000));
    if (r < 540) return process_ends();
    if (r < 750) return control();
    if (r < 840) return reload();  // the costly event: procd parses the config
    if (r < 920) return notify();
    if (r < 935) return procd_signal();
    if (r < 997) return quiesce();
    shutdown();
  }

  void fire_next() {
    auto timer = world_.clock().next_due();
    auto exit = world_.next_exit();
    std::int64_t t = std::min(timer.value_or(INT64_MAX), exit.value_or(INT64_MAX));
    if (t == INT64_MAX) t = world_.time() + 1000;
    say(fmt::format("time passes to the next deadline (+{} ms)", t - world_.time()));
    advance(t);
    settle_now();
  }

  void say_advance(std::int64_t ms) {
    say(fmt::format("time passes by {} ms", ms));
    advance(world_.time() + ms);
  }

  void process_ends() {
    std::vector<pid_t> pids;
    for (const auto& [pid, p] : world_.processes())
      if (!p.exited && !p.killed && !p.is_child() && !p.health && !p.foreign) pids.push_back(pid);
    if (pids.empty()) return say_advance(between(1, 500));
    pid_t pid = pids[static_cast<std::size_t>(between(0, static_cast<std::int64_t>(pids.size()) - 1))];
    int how = static_cast<int>(between(0, 3));
    ExitStatus status = how == 0 ? ExitStatus{0, 0} : how == 1 ? ExitStatus{1, 0} : ExitStatus{0, how == 2 ? SIGSEGV : SIGKILL};
    say(fmt::format("{} pid {} ends on its own ({})", world_.processes().at(pid).service, pid,
                    status.signal ? sig_name(status.signal) : fmt::format("code {}", status.code)));
    world_.end_now(pid, status);
    settle_now();
  }

  void control() {
    auto services = sup_->snapshot();
    if (services.empty()) return say_advance(between(1, 500));
    const std::string name = services[static_cast<std::size_t>(between(0, static_cast<std::int64_t>(services.size()) - 1))].name;
    int verb = static_cast<int>(between(0, 99));
    Request req;
    req.verb = verb < 25 ? "start" : verb < 50 ? "stop" : verb < 80 ? "restart" : "signal";
    req.names = {name};
    auto which = sup_->select(req, false);
    if (!which.ok() || which->size() != 1) return world_.violate("setup", "select() does not find " + name);
    Service& svc = *which->front();
    if (req.verb == "signal") {
      static const int sigs[] = {SIGHUP, SIGUSR1, SIGTERM, SIGKILL};
      int sig = sigs[static_cast<std::size_t>(between(0, 3))];
      say(fmt::format("procd signal {} {}", name, sig_name(sig)));
      world_.set_user_signal(true);
      sup_->signal_service(svc, sig);
      world_.set_user_signal(false);
    } else if (sup_->shutting_down()) {  // as control_verbs.cpp: refused while shutting down
      say(fmt::format("procd {} {}: refused, shutting down", req.verb, name));
    } else if (req.verb != "stop" && svc.intent().removing && avoid("control-on-removing")) {
      say(fmt::format("procd {} {}: left out (--avoid control-on-removing)", req.verb, name));
    } else {
      say(fmt::format("procd {} {}", req.verb, name));
      given_up_.erase(name);  // a request: it may start again
      if (req.verb == "start") sup_->start_service(svc);
      else if (req.verb == "stop") sup_->stop_service(svc);
      else if (std::string said; sim_roll(*sup_, name, between(0, 1) == 0, said, given_up_)) say(said);  // restart --rolling (sim_rolls.cpp)
      else sup_->restart_service(svc);
    }
    settle_now();
  }

  void reload() {
    std::vector<std::string> stopping;
    for (const auto& s : sup_->snapshot())
      if (s.removing) stopping.push_back(s.name);
    SimConfig before = cfg_;
    std::map<std::string, int> pids_before;
    std::set<std::string> rolled = rolled_instances(*sup_);  // a roll under way still replaces these (sim_rolls.cpp)
    std::set<std::string> held = held_stops(*sup_);  // may go in the reload's step (seed 424571)
    for (const auto& s : sup_->snapshot())
      if (s.phase == Phase::Running && !s.removing && !rolled.count(s.name) && !held.count(s.name)) pids_before[s.name] = s.pid;
    std::string what = cfg_.mutate(rng_, stopping, !avoid("readd-while-stopping"));
    say("reload: " + what + " => " + cfg_.describe());
    world_.forget_pre_start({});  // a reload may replace a service under the same name: a clean slate
    write_config();
    world_.traits() = cfg_.traits();
    given_up_.clear();  // a changed service restarts, a re-added one starts afresh
    ReloadOutcome r = sup_->reload("sim", false);
    if (r.skipped) {
      cfg_ = std::move(before);  // procd keeps the config it runs
      world_.traits() = cfg_.traits();
      world_.note("reload ignored: procd is shutting down");
    }
    if (!r.ok && !r.skipped)
      world_.violate("setup", "the generated config was rejected: " + (r.errors.empty() ? std::string("?") : r.errors.front().message));
    settle_now();
    if (r.ok && !sup_->shutting_down()) check_replicas_kept(before, pids_before);  // a main's end stops all
  }

  // issue 28: a reload that changes only a group's replica count touches only the difference: the kept instances' runs go on.
  void check_replicas_kept(const SimConfig& before, const std::map<std::string, int>& pids_before) {
    for (const auto& group : cfg_.replicas_only()) {
      const SimService* old = before.find(group + "@0");
      const SimService* cur = cfg_.find(group + "@0");
      if (!old || !cur) continue;
      for (int i = 0; i < std::min(old->replicas, cur->replicas); ++i) {
        std::string name = fmt::format("{}@{}", group, i);
        auto was = pids_before.find(name);
        if (was == pids_before.end()) continue;
        // Its run may end on its own meanwhile; procd must not have stopped it.
        auto p = world_.processes().find(was->second);
        if (p != world_.processes().end() && p->second.first_stop_at >= 0 && !stopped_on_its_own(*sup_, name, was->second))
          world_.violate("replicas-kept", fmt::format("replicas of {} went {} -> {}, but the reload stopped the kept {} (pid {})",
                                                      group, old->replicas, cur->replicas, name, was->second));
      }
    }
  }

  // Time passes until no stop is in progress; then the services must be
  // exactly the config's (unless procd is shutting down).
  void quiesce() {
    say("quiesce");
    std::int64_t until = world_.time() + kQuiesceLimitMs;
    while (!sup_->stopped() && world_.time() < until && stop_in_progress(world_, sup_->snapshot()))
      advance(world_.time() + 1000);
    if (sup_->stopped() || sup_->shutting_down()) return;
    check_config(world_, sup_->snapshot(), cfg_);
  }

  void shutdown() {
    say("procd shutdown");
    if (!sup_->shutting_down()) driver_shutdown_ = true, world_.shutdown_began(cfg_.graceful_ms());
    sup_->begin_shutdown(ShutdownReason::Requested);
    settle_now();
  }

  // A notify message from a live main process, as procd's notify socket
  // hands it over (the kernel's SCM_CREDENTIALS pid): mostly from a notify
  // service's run (READY=1, WATCHDOG=1, STATUS=), now and then from another.
  void notify() {
    std::vector<pid_t> notifying, others;
    for (const auto& [pid, p] : world_.processes()) {
      if (p.exited || p.health || p.is_child() || p.foreign || p.exec_until > world_.time()) continue;  // (a wrapper cannot notify)
      const SimService* s = cfg_.find(p.service);
      (s && (s->ready == "notify" || s->watchdog_ms > 0) ? notifying : others).push_back(pid);
    }
    auto& from = !notifying.empty() && (others.empty() || between(0, 99) < 85) ? notifying : others;
    if (from.empty()) return say_advance(between(1, 500));
    pid_t pid = from[static_cast<std::size_t>(between(0, static_cast<std::int64_t>(from.size()) - 1))];
    int what = static_cast<int>(between(0, 99));
    std::map<std::string, std::string> fields;
    if (what < 55) fields["READY"] = "1";
    else if (what < 85) fields["WATCHDOG"] = "1";
    else if (what < 93) fields["STATUS"] = "busy";
    else fields["EXTEND_TIMEOUT_USEC"] = std::to_string(between(1, 5000) * 1000);  // issue 28
    say(fmt::format("{} pid {} notifies {}={}", world_.processes().at(pid).service, pid, fields.begin()->first,
                    fields.begin()->second));
    if (fields.count("READY")) ready_sent_.insert(pid);
    // procd reads notify only from notify services: the copy whose run this pid is (maybe a removed one).
    if (auto all = sup_->select(Request{}, true); fields.count("EXTEND_TIMEOUT_USEC") && all.ok())
      for (const Service* svc : *all)
        if (svc->state().pid == pid && svc->config().uses_notify())
          world_.extend_timeout(pid, std::stoll(fields["EXTEND_TIMEOUT_USEC"]));
    sup_->notify_from(pid, fields);
    settle_now();
  }

  // A signal to procd itself, as its loop's signal handle delivers it
  // (Supervisor::handle_signal): SIGTERM / SIGINT shut down (again:
  // escalate), SIGHUP per [signals].sighup, SIGUSR1 reopens the logs (or is
  // forwarded), SIGUSR2 is forwarded. A SIGTERM is handled in this turn.
  void procd_signal() {
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGHUP, SIGUSR1, SIGUSR2};
    int sig = sigs[static_cast<std::size_t>(between(0, 5))];
    bool terminating = sig == SIGTERM || sig == SIGINT;
    say(fmt::format("procd gets {}", sig_name(sig)));
    if (terminating && sup_->shutting_down()) world_.shutdown_escalated();
    else if (terminating) driver_shutdown_ = true, world_.shutdown_began(cfg_.graceful_ms());
    sup_->handle_signal(sig);
    settle_now();
    if (terminating && !sup_->stopped() && !sup_->shutting_down())
      world_.violate("signal-ignored", fmt::format("procd got {} but did not begin shutting down", sig_name(sig)));
  }

  // After the last step: a last quiescence check, then shutdown to the end.
  void finish() {
    if (!sup_->stopped() && !sup_->shutting_down()) {
      quiesce();
      check();
      if (failed()) return;
      shutdown();
    }
    std::int64_t ceiling = world_.shutdown_at() + cfg_.kill_ms() + 1000;
    while (!sup_->stopped() && world_.time() < ceiling) advance(world_.time() + 500);
    if (!sup_->stopped()) return world_.violate("shutdown-stuck", "procd did not exit by its [shutdown].kill ceiling");
    code_ = sup_->finish();
    say(fmt::format("procd exited with code {}", code_));
    world_.deliver_exits();  // what procd's last SIGKILLs ended: zombies for init to reap
    const bool gave_up = world_.shutdown_at() >= 0 && world_.time() >= world_.shutdown_at() + cfg_.kill_ms();
    check_exit(world_, code_, expected_.empty() ? std::set<int>{0} : expected_, gave_up);
  }

  const SimOptions& opt_;
  std::mt19937_64 rng_;
  SimWorld world_;
  SimConfig cfg_;
  std::string path_;
  std::unique_ptr<Supervisor> sup_;
  int step_ = 0;
  bool started_ = false;
  int code_ = -1;
  std::set<pid_t> ready_sent_;   // pids that sent READY=1
  std::map<std::string, std::uint64_t> given_up_;  // failed by the start limit: spawns then (check_start_limit)
  bool driver_shutdown_ = false; // the driver began the shutdown (a request or a signal)
  std::set<int> expected_;       // the exit codes the ladder may end with (set when shutdown begins)
};

}  // namespace

SimOutcome run_sequence(const SimOptions& opt) { return Sequence(opt).run(); }

}  // namespace procd::sim
