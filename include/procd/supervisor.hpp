// The Supervisor: owns the libuv loop and carries out what the pure
// service machines decide. Callbacks (SIGCHLD, timers, pipes, signals) are
// trampolines that build an event and dispatch() it; actions (spawn, signal,
// arm timer, publish) are performed here at the edge. Events produced while
// performing actions are queued, so each machine sees them in order.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <regex>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "procd/config.hpp"
#include "procd/config_watcher.hpp"
#include "procd/reload_diff.hpp"
#include "procd/control_server.hpp"
#include "procd/dep_graph.hpp"
#include "procd/dependency_gate.hpp"
#include "procd/health.hpp"
#include "procd/notify.hpp"
#include "procd/metrics.hpp"
#include "procd/output.hpp"
#include "procd/pid_lock.hpp"
#include "procd/service_machine.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class Supervisor;

// One service at the edge: its machine state plus the handles of its run.
struct ServiceRuntime {
  Supervisor* sup = nullptr;
  ServiceConfig cfg;
  MachineSpec spec;
  ServiceState state;
  UvTimer timer;                       // the machine's one deadline
  UvTimer drain_timer;                 // bounds the output drain after the exit
  UvPipe out, err;                     // stdout (and stderr unless merged)
  int open_streams = 0;
  pid_t pgid = 0;                      // process group of the current/last run
  std::optional<ExitStatus> pending_exit;  // exit seen, output not yet drained
  LineSplitter out_split, err_split;
  LineRing ring;
  std::unique_ptr<RotatingFile> file;  // [services.NAME.log].file
  std::string file_buf;                // lines waiting for one write()
  // Resource samples (only while [monitoring].track_resources).
  std::uint64_t cpu_ticks = 0;
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;
  bool removing = false;               // dropped by a reload: erased once stopped
  bool waiting = false;                // want up, held back until its dependencies allow
  std::string gate_reason;             // why it waits or is blocked (status, log)
  bool stop_sent = false;              // shutdown: its stop request has gone out
  std::vector<ServiceRuntime*> dependents;  // services whose depends_on names this one (rebuild_index)
  // Readiness and health (readiness.cpp).
  std::optional<std::regex> ready_regex;   // ready = { log = "..." }
  std::string status_text;                 // last STATUS= from sd_notify
  UvTimer watchdog;                        // notify services with watchdog_ms > 0
  std::unique_ptr<HealthChecker> health;
  int over_memory_samples = 0;
};

struct ReloadOutcome {
  bool ok = false;
  bool skipped = false;                // unchanged content, or shutting down
  ConfigDiff diff;
  std::vector<Error> errors;
};

enum class ShutdownReason { Signal, Requested, Error, Forced, Critical };

class Supervisor : public ChildReaper {
 public:
  Supervisor(Config cfg, PidLock lock);
  ~Supervisor() override;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Start the services and loop until shut down. Returns procd's exit code.
  int run();

  // Entry point for every event of a service.
  void dispatch(ServiceRuntime& svc, Event event);
  void begin_shutdown(ShutdownReason reason, int signal = 0);

  // Used by the per-service edge code.
  uv_loop_t* loop() { return &loop_; }
  Millis now();
  void on_output(ServiceRuntime& svc, bool is_stderr, const char* data, size_t len);
  void on_stream_closed(ServiceRuntime& svc, bool is_stderr);
  void on_drain_timeout(ServiceRuntime& svc);

 private:
  void perform(ServiceRuntime& svc, const Action& action);
  void spawn(ServiceRuntime& svc);
  void on_sigchld();
  void on_signal(int signum);
  void finish_run(ServiceRuntime& svc);
  void publish(ServiceRuntime& svc, Phase phase);
  // Start honouring depends_on: now, or once the dependencies allow.
  void request_start(ServiceRuntime& svc);
  void regate();
  void stop_in_dependency_order();
  ServiceRuntime* find(const std::string& name);
  // Name index, dependency graph, stop sequence and dependents lists, after
  // the set of services changed (start, reload, removal).
  void rebuild_index();
  // One step of the ladder; `why` names the first step (timer or a repeated signal).
  void shutdown_tick(const std::string& why = "graceful shutdown timed out");
  void maybe_finish_shutdown();
  void forward_signal(int signum);
  // Handlers for the base set and every forwarded signal not installed yet.
  void install_signals();
  void flush_service_file(ServiceRuntime& svc);
  void close_streams(ServiceRuntime& svc);
  void stop_loop();

  // Control socket: the verb table (control_verbs.cpp) dispatches requests;
  // stream fan-out and sampling in supervisor_control.cpp.
  void handle_request(ControlConnection& conn, Request req);
  void publish_event(ServiceRuntime& svc, Phase phase);
  void publish_log_line(ServiceRuntime& svc, const LogLine& line);
  void sample_resources();
  void update_sampling();

  // Readiness, health, memory limit (readiness.cpp).
  void watch_child(pid_t pid, std::function<void(int code, int signal)> on_exit) override;
  void setup_readiness(ServiceRuntime& svc);
  void adjust_spawn_env(ServiceRuntime& svc, std::vector<std::string>& env);
  void on_run_started(ServiceRuntime& svc);
  void on_phase(ServiceRuntime& svc, Phase phase);
  void on_notify(pid_t sender, const std::map<std::string, std::string>& fields);
  void on_health(ServiceRuntime& svc, HealthStatus status, const std::string& detail);
  void check_log_ready(ServiceRuntime& svc, std::string_view line);
  void check_memory(ServiceRuntime& svc);
  ServiceRuntime* service_of_pid(pid_t pid);
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
  bool shutting_down() const { return shutting_down_; }
  Result<std::vector<ServiceRuntime*>> select(const Request& req, bool empty_means_all);
  StatusView status_view(const std::vector<ServiceRuntime*>& which);
  void start_service(ServiceRuntime& svc);
  void stop_service(ServiceRuntime& svc);
  void restart_service(ServiceRuntime& svc);
  void signal_service(ServiceRuntime& svc, int signum);
  // Recent lines as a stream; with "follow" the connection stays a log stream.
  void send_recent_logs(ControlConnection& conn, const Request& req, const std::vector<ServiceRuntime*>& which);
  std::string metrics_text();

  // Reload (reload.cpp).
 public:
  ReloadOutcome reload(const std::string& source, bool only_if_changed);

 private:
  std::unique_ptr<ServiceRuntime> make_runtime(const ServiceConfig& sc);
  void apply_reload(Config next, const ConfigDiff& diff);
  void collect_removed();

  Config cfg_;
  uv_loop_t loop_{};
  std::vector<std::unique_ptr<ServiceRuntime>> services_;  // in start order
  std::unordered_map<pid_t, ServiceRuntime*> by_pid_;
  std::vector<std::string> base_env_;
  std::vector<UvSignal> signals_;
  std::vector<int> installed_;  // signal numbers with a handler in signals_
  UvTimer shutdown_timer_;
  UvHandle<uv_prepare_t> flusher_;
  PidLock lock_;
  std::unique_ptr<ControlServer> control_;
  UvTimer sample_timer_;
  Millis sampled_at_ = 0;
  Millis started_at_ = 0;
  SupervisorCounters counters_;
  std::unique_ptr<ConfigWatcher> watcher_;
  std::size_t applied_hash_ = 0;
  DepGraph graph_;
  std::unordered_map<std::string, ServiceRuntime*> by_name_;
  std::vector<ServiceRuntime*> stop_sequence_;  // reverse dependency order
  std::unique_ptr<NotifyServer> notify_;
  UvTimer manager_watchdog_;
  bool manager_active_ = false;
  bool manager_ready_sent_ = false;
  std::string manager_last_status_;
  std::unordered_map<pid_t, std::function<void(int, int)>> child_watchers_;
  std::deque<std::pair<ServiceRuntime*, Event>> queue_;
  bool dispatching_ = false;
  bool shutting_down_ = false;
  int shutdown_stage_ = 0;   // 0 graceful wait, 1 after SIGKILL, 2 waiting for the ceiling
  Millis shutdown_started_ = 0;
  int exit_code_ = 0;
  bool loop_stopped_ = false;
};

// Whole file as a string; nullopt when unreadable.
std::optional<std::string> read_file(const std::string& path);
std::size_t content_hash(const std::string& text);

// Run a supervisor on cfg in the foreground; returns the exit code.
int run_supervisor(Config cfg);

}  // namespace procd
