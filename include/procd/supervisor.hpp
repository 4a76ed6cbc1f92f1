// The Supervisor: owns the libuv loop, the set of services (one Service
// object each, service.hpp, which owns that service's edge) and what is
// fleet-wide: the event queue, settle(), reload application, start gating,
// the shutdown ladder and stop order, readiness of the whole, and the front
// ends (FrontEnds: control socket and HTTP). It has no per-service
// behaviour: a Service asks it for things through ServiceHost
// (Supervisor::Host, service_host.hpp, which also owns the edges services
// share: cgroup tree, notify socket, pid index, procd's own-log hold).
//
// Shape, and the invariants that hold:
//  - libuv callbacks are trampolines that turn what happened into events:
//    dispatch() queues events raised while actions are carried out, so each
//    machine sees them in order, and never changes the set of services;
//  - every structural change — creating or forgetting the services a reload
//    added or removed,
//    stop requests that shutdown order now allows, starts that dependencies
//    now allow, the end of shutdown — happens in settle(), which runs once
//    the callback is over (a prepare and a check handle), never inside a
//    loop over services;
//  - every PID procd forked is in the Host's pid index until reaped; procd
//    exits only when every run is over (or the [shutdown].kill ceiling passed);
//  - syscalls go through SystemCalls (spawn, kill, reap, clock).
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "procd/config.hpp"
#include "procd/config_watcher.hpp"
#include "procd/front_ends.hpp"
#include "procd/dep_graph.hpp"
#include "procd/http_server.hpp"
#include "procd/manager_notifier.hpp"
#include "procd/metrics.hpp"
#include "procd/notify.hpp"
#include "procd/pid_lock.hpp"
#include "procd/reload_diff.hpp"
#include "procd/service.hpp"
#include "procd/service_index.hpp"
#include "procd/shutdown_plan.hpp"
#include "procd/system_calls.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

struct SettleView;
class Rolls;

// One service as tests and the simulator see it (Supervisor::snapshot()).
struct ServiceSnapshot {
  std::string name;
  Phase phase = Phase::Stopped;
  Want want = Want::Down;
  int pid = 0;               // the machine's: > 0 while a process of this run exists
  pid_t pgid = 0;            // process group of the current/last run
  bool has_process = false;  // from spawn until the run is over
  bool removing = false;     // dropped by a reload: forgotten once idle
  bool waiting = false;      // wants up, held back by its dependencies
};

struct ReloadOutcome {
  bool ok = false;
  bool skipped = false;                // unchanged content, or shutting down
  ConfigDiff diff;
  std::vector<Error> errors;
};

class Supervisor {
 public:
  Supervisor(Config cfg, PidLock lock, SystemCalls& sys = real_system_calls());
  ~Supervisor();

  // Start the services and loop until shut down. Returns procd's exit code.
  int run();
  // run() in parts, for a driver that owns the loop (tests/sim): start() does
  // what comes before the loop runs (a code: procd could not start),
  // stopped() tells the loop was told to stop, finish() does what comes after
  // and returns the exit code. run() is start(), uv_run, finish().
  std::optional<int> start();
  bool stopped() const { return loop_stopped_; }
  int finish();
  // What a delivered signal runs (the loop's signal handles call it; SIGCHLD
  // reaps every exited child), and what the notify socket runs for a
  // datagram from `sender` (the pid the kernel vouched for): a simulated
  // world has neither real signals, children nor senders, so its driver
  // calls these (tests/sim).
  void handle_signal(int signum);
  void notify_from(pid_t sender, const std::map<std::string, std::string>& fields);
  // Read-only views for tests and the simulator's invariants.
  std::vector<ServiceSnapshot> snapshot() const;
  const SupervisorCounters& counters() const { return counters_; }

  // Entry point for every event of a service.
  void dispatch(Service& svc, Event event);
  void begin_shutdown(ShutdownReason reason, int signal = 0);
  ReloadOutcome reload(const std::string& source, bool only_if_changed);

  // What users ask of one service (control socket).
  // Who starts: a user (control, HTTP, `restart` of a service not up), the
  // fleet (autostart, a reload's added service, a start-first new run), or
  // settle() asking a waiting service again.
  enum class StartBy { Request, Fleet, Reask };
  void start_service(Service& svc) { start_service(svc, StartBy::Request); }
  void start_service(Service& svc, StartBy by);
  void stop_service(Service& svc) { stop_service(svc, StopReason::Requested); }
  void restart_service(Service& svc) { restart_service(svc, StopReason::Restart); }
  // The same with why (stop_budget.hpp): a reload, a rolling restart.
  void stop_service(Service& svc, StopReason reason);
  void restart_service(Service& svc, StopReason reason);

  uv_loop_t* loop() { return &loop_; }
  Millis now() { return sys_.now(&loop_); }

  // What users ask (control verbs, HTTP routes, the simulator): a request
  // reaches nothing else, and changes services only through dispatch().
  const std::string& name() const { return cfg_.name; }
  bool shutting_down() const { return ladder_.active(); }
  Result<std::vector<Service*>> select(const Request& req, bool empty_means_all);
  void signal_service(Service& svc, int signum);
  Result<ReloadWay> reload_service(Service& svc);  // `procd reload NAME` (issue 28)

 private:
  friend class FrontEnds;
  class Host;  // the edges services share; what they may ask (service_host.hpp)
  friend class Host;
  friend class Rolls;  // rolling restarts (rolling_restart.hpp)

  // supervisor.cpp: the loop, signals, reaping, settle.
  void on_sigchld();
  void install_signals();
  void publish(Service& svc, Phase phase);
  void dependency_down(Service& svc, Phase phase);  // start_gate.cpp: stop dependents (StopReason::Dependency)
  void dependencies_down(Service& d);               // start_gate.cpp: d stops when a dependency is down for good
  bool stop_for_dependency(Service& svc, Phase phase, StopReason why, Service& d);
  void stop_dependents_first(Service& svc, StopReason reason);  // start_gate.cpp: stop order
  void main_ended(Service& svc, Phase phase);  // main_service.cpp
  // The main cannot run: a dependency it needs went down for good (exit 4).
  void main_blocked(Service& svc, const std::string& why);
  void settle();
  void forget_removed();
  void stop_loop();
  std::vector<SettleView> settle_views() const;

  // shutdown.cpp: the ladder and the stop order.
  void climb(const LadderMove& move, const std::string& why);
  void advance_shutdown();

  // reload.cpp.
  void apply_reload(Config next, const ConfigDiff& diff);
  void add_pending();
  void watch_config_files(std::int64_t read_at_ns);  // (re)point watcher_ at cfg_.sources and include_globs

  Config cfg_;
  SystemCalls& sys_;
  uv_loop_t loop_{};
  std::vector<std::unique_ptr<Service>> services_;  // changed only by settle()
  std::vector<std::string> pending_added_;  // added by a reload, created by settle()
  ServiceIndex index_;  // by name, dependency order; rebuilt when services_ changes
  std::vector<UvSignal> signals_;
  std::vector<int> installed_;  // signal numbers, parallel to signals_
  UvHandle<uv_prepare_t> before_poll_;  // settle() and log flush before the loop sleeps
  UvHandle<uv_check_t> after_poll_;     // settle() after I/O callbacks
  PidLock lock_;
  std::unique_ptr<ConfigWatcher> watcher_;
  std::unique_ptr<FrontEnds> front_;  // control socket and HTTP
  Timer ladder_timer_;
  SupervisorCounters counters_;
  std::size_t applied_hash_ = 0;
  ManagerNotifier manager_;  // sd_notify to the manager that started procd
  std::deque<std::pair<Service*, Event>> queue_;
  std::unique_ptr<Host> host_;  // the edges services share; what they may ask (service_host.hpp)
  std::unique_ptr<Rolls> rolls_;  // issue 28: rolling restarts under way (rolling_restart.hpp)
  bool dispatching_ = false;
  bool dirty_ = false;     // something settle() must look at
  bool settling_ = false;
  ShutdownLadder ladder_;
  std::optional<int> critical_exit_;  // a critical service failed for good with this code
  std::optional<int> main_exit_;      // issue 28: the main service's run ended with this code
  int exit_code_ = 0;
  bool loop_stopped_ = false;
};

// Run a supervisor on cfg in the foreground; returns the exit code.
int run_supervisor(Config cfg);

}  // namespace procd
