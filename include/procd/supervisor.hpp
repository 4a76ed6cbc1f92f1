// The Supervisor: owns the libuv loop and the set of services, and carries
// out what the pure decisions in src/core return (the service machines, the
// shutdown ladder and stop order, start gating, readiness of the whole).
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
//  - every PID procd forked is in by_pid_ until reaped; procd exits only
//    when every run is over (or the [shutdown].kill ceiling passed);
//  - syscalls go through SystemCalls (spawn, kill, reap, clock).
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "procd/config.hpp"
#include "procd/config_watcher.hpp"
#include "procd/control_server.hpp"
#include "procd/dep_graph.hpp"
#include "procd/http_server.hpp"
#include "procd/metrics.hpp"
#include "procd/notify.hpp"
#include "procd/pid_lock.hpp"
#include "procd/reload_diff.hpp"
#include "procd/service_runner.hpp"
#include "procd/shutdown_plan.hpp"
#include "procd/system_calls.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

struct SettleView;

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

class Supervisor : public ChildReaper {
 public:
  Supervisor(Config cfg, PidLock lock, SystemCalls& sys = real_system_calls());
  ~Supervisor() override;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Start the services and loop until shut down. Returns procd's exit code.
  int run();
  // run() in parts, for a driver that owns the loop (tests/sim): start() does
  // what comes before the loop runs (a code: procd could not start),
  // stopped() tells the loop was told to stop, finish() does what comes after
  // and returns the exit code. run() is start(), uv_run, finish().
  std::optional<int> start();
  bool stopped() const { return loop_stopped_; }
  int finish();
  // What SIGCHLD runs: reap every exited child. A simulated system has no
  // real children, so its driver calls this when one of its processes ends.
  void reap_children() { on_sigchld(); }
  // Read-only views for tests and the simulator's invariants.
  std::vector<ServiceSnapshot> snapshot() const;
  const SupervisorCounters& counters() const { return counters_; }

  // Entry point for every event of a service.
  void dispatch(ServiceRunner& svc, Event event);
  void begin_shutdown(ShutdownReason reason, int signal = 0);
  ReloadOutcome reload(const std::string& source, bool only_if_changed);

  // What users ask of one service (control socket).
  void start_service(ServiceRunner& svc);
  void stop_service(ServiceRunner& svc);
  void restart_service(ServiceRunner& svc);

  // Used by the per-service edge code.
  uv_loop_t* loop() { return &loop_; }
  Millis now() { return sys_.now(&loop_); }
  void on_output(ServiceRunner& svc, bool is_stderr, const char* data, size_t len);
  void on_stream_closed(ServiceRunner& svc);
  void on_cgroup_event(ServiceRunner& svc);

 private:
  // supervisor.cpp: the loop, signals, reaping, settle.
  void perform(ServiceRunner& svc, const Action& action);
  void on_sigchld();
  void on_signal(int signum);
  void forward_signal(int signum);
  void install_signals();
  void publish(ServiceRunner& svc, Phase phase);
  void settle();
  void forget_removed();
  void rebuild_index();
  ServiceRunner* find(const std::string& name);
  void stop_loop();

  // service_runner.cpp: a run's process, its one timer, its drain.
  std::unique_ptr<ServiceRunner> make_runner(const ServiceConfig& sc);
  void spawn(ServiceRunner& svc);
  void rearm(ServiceRunner& svc);
  void on_timer(ServiceRunner& svc);
  void judge_drain(ServiceRunner& svc);
  void apply_drain(ServiceRunner& svc, const DrainVerdict& verdict);

  // service_cgroup.cpp: cgroup v2 per service, or the process-group fallback.
  void setup_cgroups();
  void ensure_cgroup(ServiceRunner& svc);
  void release_cgroup(ServiceRunner& svc);
  bool run_alive(ServiceRunner& svc);
  bool group_alive(pid_t pgid);  // from census_, taken once per loop phase
  void signal_run(ServiceRunner& svc, int sig);
  void check_oom(ServiceRunner& svc, const ExitStatus& status);
  void cgroup_run_started(ServiceRunner& svc);
  std::optional<CgroupUsage> cgroup_usage(ServiceRunner& svc);
  void teardown_cgroups();

  // service_output.cpp: where output goes, and holding it back (a full
  // disk, procd's own log backlogged) by not reading the pipes.
  void setup_files(ServiceRunner& svc);
  void open_files(ServiceRunner& svc);
  void flush_service_file(ServiceRunner& svc);
  bool flush_file(ServiceRunner& svc, ServiceFile& f);
  bool may_read(const ServiceRunner& svc) const;
  void update_reading(ServiceRunner& svc);
  void hold_log_output();
  void resume_log_output();
  void drain_pipes_now(ServiceRunner& svc);
  void close_streams(ServiceRunner& svc);

  // start_gate.cpp: depends_on.
  void request_start(ServiceRunner& svc);
  void regate();

  // shutdown.cpp: the ladder and the stop order.
  void on_ladder_deadline();
  void climb(const LadderMove& move, const std::string& why);
  void advance_shutdown();
  std::string stragglers() const;

  // Control socket: the verb table (control_verbs.cpp) dispatches requests;
  // stream fan-out and sampling in supervisor_control.cpp.
  void handle_request(ControlConnection& conn, Request req);
  void publish_event(ServiceRunner& svc, Phase phase);
  void publish_log_line(ServiceRunner& svc, const LogLine& line);
  void sample_resources();
  void update_sampling();

  // Readiness, health, memory limit (readiness.cpp).
  void watch_child(pid_t pid, std::function<void(int code, int signal)> on_exit) override;
  void setup_readiness(ServiceRunner& svc);
  void adjust_spawn_env(ServiceRunner& svc, std::vector<std::string>& env);
  void on_run_started(ServiceRunner& svc);
  void on_phase(ServiceRunner& svc, Phase phase);
  void on_notify(pid_t sender, const std::map<std::string, std::string>& fields);
  void on_health(ServiceRunner& svc, HealthStatus status, const std::string& detail);
  void check_log_ready(ServiceRunner& svc, std::string_view line);
  void check_memory(ServiceRunner& svc);
  ServiceRunner* service_of_pid(pid_t pid);
  bool start_notify_server();

  // sd_notify to the manager that started procd (manager_notify.cpp).
  void manager_start();
  void manager_update();
  void manager_reloading();
  void manager_reloaded();
  void manager_stopping();

  // What a control verb may ask of the Supervisor (supervisor_control.cpp);
  // a request reaches nothing else, and changes services only through dispatch().
 public:
  const std::string& name() const { return cfg_.name; }
  bool shutting_down() const { return ladder_.active(); }
  Result<std::vector<ServiceRunner*>> select(const Request& req, bool empty_means_all);
  StatusView status_view(const std::vector<ServiceRunner*>& which);
  void signal_service(ServiceRunner& svc, int signum);
  // Recent lines as a stream; with "follow" the connection stays a log stream.
  void send_recent_logs(ControlConnection& conn, const Request& req, const std::vector<ServiceRunner*>& which);
  std::string metrics_text();
  std::shared_ptr<const std::string> metrics_body();  // the same text, for HTTP
  bool metrics_enabled() const { return cfg_.monitoring.enable_metrics; }
  // Recent lines of `which` as log items (protocol.hpp), oldest first, at most n.
  std::vector<std::string> recent_log_items(const std::vector<ServiceRunner*>& which, std::size_t n);

  // The HTTP endpoint ([control].http): its routes (supervisor_http.cpp).
  void handle_http(HttpConnection& conn, const HttpRequest& req);


 private:
  // supervisor.cpp: the control socket, then start_http(); both closed on failure.
  Result<void> open_endpoints();
  // supervisor_http.cpp: listener lifetime, metrics bookkeeping, fan-out.
  Result<void> start_http();
  void reload_http(const ControlConfig& next);
  void observe_phase(ServiceRunner& svc, Phase phase);
  void publish_http(HttpConnection::Stream kind, const std::string& service, std::string_view item);
  std::vector<SettleView> settle_views() const;
  nlohmann::json history_json();
  void http_readyz(HttpConnection& conn);
  void http_logs(HttpConnection& conn, const HttpRequest& req);
  void http_service_action(HttpConnection& conn, const HttpRequest& req, HttpRouteKind kind);
  MetricsSnapshot metrics_snapshot();  // supervisor_control.cpp

  // reload.cpp.
  void apply_reload(Config next, const ConfigDiff& diff);
  void take_config(ServiceRunner& svc, const ServiceConfig& sc);
  void add_pending();

  Config cfg_;
  SystemCalls& sys_;
  uv_loop_t loop_{};
  std::vector<std::unique_ptr<ServiceRunner>> services_;  // changed only by settle()
  std::vector<std::string> pending_added_;  // added by a reload, created by settle()
  std::unordered_map<pid_t, ServiceRunner*> by_pid_;
  std::unordered_map<std::string, ServiceRunner*> by_name_;
  DepGraph graph_;
  std::vector<ServiceRunner*> stop_sequence_;  // reverse dependency order
  std::vector<std::vector<std::size_t>> stop_dependents_;  // per stop_sequence_ entry: its dependents' positions
  std::vector<std::string> base_env_;
  std::vector<UvSignal> signals_;
  std::vector<int> installed_;  // signal numbers, parallel to signals_
  UvHandle<uv_prepare_t> before_poll_;  // settle() and log flush before the loop sleeps
  UvHandle<uv_check_t> after_poll_;     // settle() after I/O callbacks
  PidLock lock_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HttpServer> http_retired_;  // replaced by a reload; destroyed at the next one (never inside its handler)
  std::string http_token_;                    // empty: no mutating HTTP endpoints
  std::unique_ptr<ConfigWatcher> watcher_;
  void watch_config_files();  // (re)point watcher_ at cfg_.sources and include_globs
  std::unique_ptr<NotifyServer> notify_;
  std::unique_ptr<CgroupTree> cgroups_;  // null: the process-group fallback
  Timer sample_timer_;
  Timer ladder_timer_;
  Timer manager_watchdog_;
  Millis sampled_at_ = 0;
  Millis started_at_ = 0;
  SupervisorCounters counters_;
  std::shared_ptr<std::string> metrics_buf_;  // reused by metrics_body()
  std::size_t applied_hash_ = 0;
  bool manager_active_ = false;
  bool manager_ready_sent_ = false;
  std::string manager_last_status_;
  std::unordered_map<pid_t, std::function<void(int, int)>> child_watchers_;
  std::deque<std::pair<ServiceRunner*, Event>> queue_;
  // Groups alive after their leader was reaped (group_census.hpp): taken
  // when first asked, dropped at the next loop phase (prepare, check) and at
  // every reap, so every draining service is answered from one /proc pass.
  std::optional<GroupCensus> census_;
  bool dispatching_ = false;
  bool dirty_ = false;     // something settle() must look at
  bool settling_ = false;
  bool log_held_ = false;     // procd's own log is backlogged: own-log services are not read
  bool log_drained_ = false;  // Log's on_drained came: settle() resumes them
  ShutdownLadder ladder_;
  std::optional<int> critical_exit_;  // a critical service failed for good with this code
  int exit_code_ = 0;
  bool loop_stopped_ = false;
};

// Run a supervisor on cfg in the foreground; returns the exit code.
int run_supervisor(Config cfg);

}  // namespace procd
