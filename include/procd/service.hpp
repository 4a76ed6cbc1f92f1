// One service at the Supervisor's edge (dinit's base_process_service
// shape): its pure machine state and everything its runs own — the process
// and its group or cgroup, the output pipes and what they feed (line
// splitters, the ring for `procd logs`, the per-service files), readiness
// (log pattern, sd_notify, watchdog), the health checker, the exit/drain
// bookkeeping (RunDrain) and the ONE timer of the service, armed at the
// earliest of its deadlines (the machine's, the drain's, the watchdog's, a
// file retry). It talks to the Supervisor only through ServiceHost.
//
// Invariants:
//  - intent lives in one place: the machine's want plus the fleet marks in
//    Intent (waiting for dependencies, a stop held for its dependents,
//    removed by a reload, shutdown stop sent), read through intent() and
//    changed only by the mark_* calls and hold_stop();
//  - "has a process" lives in one place: has_process() (RunDrain's phase),
//    true from spawn until the run is over (exit seen and output drained);
//  - the timer is re-armed after every machine step and drain verdict, so
//    it is never armed for a deadline that no longer exists;
//  - the Supervisor feeds events only through ServiceHost::dispatch, whose
//    queue calls handle() one event at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "procd/cgroup.hpp"
#include "procd/config.hpp"
#include "procd/health.hpp"
#include "procd/histogram.hpp"
#include "procd/hooks.hpp"
#include "procd/log_pattern.hpp"
#include "procd/log_repeat.hpp"
#include "procd/output.hpp"
#include "procd/resource_history.hpp"
#include "procd/resources.hpp"
#include "procd/run_drain.hpp"
#include "procd/service_machine.hpp"
#include "procd/service_reason.hpp"
#include "procd/system_calls.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class Service;
struct HookRun;
struct HookPipeRef;

// What a Service may ask of the Supervisor: the loop, the clock and the
// system, procd's current config, and the fleet-wide parts (the event
// queue, the pid index, the fan-out to followers, procd's own log).
class ServiceHost {
 public:
  virtual ~ServiceHost() = default;
  virtual uv_loop_t* loop() = 0;
  virtual Millis now() = 0;
  virtual SystemCalls& sys() = 0;
  virtual ChildReaper& reaper() = 0;
  virtual const Config& config() const = 0;
  virtual const std::vector<std::string>& base_env() const = 0;
  virtual CgroupTree* cgroups() = 0;              // null: process groups only
  virtual bool group_alive(pid_t pgid) = 0;       // one /proc pass answers all services
  virtual std::vector<std::string> service_names() const = 0;
  virtual std::string notify_socket() = 0;        // procd's sd_notify socket; empty: none
  virtual void dispatch(Service& svc, Event event) = 0;  // queued: handled in order
  virtual void spawned(Service& svc, pid_t pid) = 0;     // indexed until reaped
  virtual void published(Service& svc, Phase phase) = 0;
  virtual void health_changed(Service& svc) = 0;
  virtual bool logs_followed() const = 0;
  virtual void log_line(Service& svc, const LogLine& line) = 0;
  virtual bool own_log_held() const = 0;          // procd's own log is backlogged
  virtual void own_log_backlogged() = 0;
  // issue 28: while shutting down, the ladder's [shutdown].kill deadline
  // (no EXTEND_TIMEOUT_USEC goes past it); 0 otherwise.
  virtual Millis extend_cap() { return 0; }
};

// A per-service log file and the bytes it has not taken yet (a full disk:
// the service's pipes are not read while `pending` is not empty).
struct ServiceFile {
  std::unique_ptr<RotatingFile> file;
  std::string pending;
  explicit operator bool() const { return file != nullptr; }
};

// A service's own log files ([services.NAME.log].file), held only by the
// services that have one (most log to procd's own log: ~90 B a service less).
struct ServiceFiles {
  ServiceFile out;            // the file (and stderr when merged)
  ServiceFile err;            // stderr = "separate": FILE.err or stderr_file
  Millis retry_due = 0;       // a write failed (full disk): retry then; 0 = none
  bool error_told = false;    // the failure was logged once
};

// What is asked of a service, in one place.
struct Intent {
  Want want = Want::Down;   // the machine's
  bool waiting = false;     // wants up, held back until its dependencies allow
  bool removing = false;    // dropped by a reload: stops, then is forgotten
  bool stop_sent = false;   // shutdown: its stop request has gone out
  // Asked to stop (by request, or for its own dependency) while services
  // that need it still have a process: it runs on until they have stopped.
  StopReason held_stop = StopReason::None;
  std::string reason;       // why it waits or is blocked (status, log)
  bool wants_up() const { return want == Want::Up || waiting; }
};

// Figures of a service for status, metrics and the dashboard.
struct ServiceStats {
  std::uint64_t spawns = 0;
  Millis stop_began = 0;              // Stopping published at; 0 = not stopping
  DurationHistogram start_seconds;    // spawn -> ready (Running)
  // Stopping -> the run over; made at the first stop (most services are
  // never stopped: 128 B each less). Null reads as no observation.
  std::unique_ptr<DurationHistogram> stop_seconds;
  ResourceHistory history;
  std::uint64_t cpu_ticks = 0;        // resource samples (only while tracked)
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;
};

class Service {
 public:
  Service(ServiceHost& host, const ServiceConfig& cfg);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return cfg_->name; }
  const ServiceConfig& config() const { return *cfg_; }
  const MachineSpec& spec() const { return spec_; }
  const ServiceState& state() const { return state_; }
  Intent intent() const;
  bool has_process() const { return drain_.phase() != DrainPhase::Idle; }
  bool idle() const;                   // no process: no run, no hook (service_hooks.cpp)
  bool hooks_running() const;
  int hook_pid(HookKind kind) const;   // its hook process of that kind; 0 = none
  pid_t pgid() const { return pgid_; }
  const std::string& cgroup() const { return cgroup_; }
  bool to_file() const { return files_ != nullptr; }
  std::optional<HealthStatus> health() const;  // none: no checker, or no verdict yet
  const std::string& status_text() const { return status_text_; }
  // Why it is in its state (service_reason.hpp); `phase` overrides the
  // machine's for an event published within a step.
  Reason reason(Millis now) const { return reason(now, state_.phase); }
  Reason reason(Millis now, Phase phase) const;
  const LineRing& ring() const { return ring_; }
  const ServiceStats& stats() const { return stats_; }
  std::vector<Service*>& dependents() { return dependents_; }
  const std::vector<Service*>& dependents() const { return dependents_; }

  // One machine event (the Supervisor's queue only): step, actions, re-arm.
  void handle(const Event& event);
  // The fleet's marks (start gating, reload, shutdown).
  void mark_waiting(bool waiting, std::string reason);
  void mark_removing() { marks_.removing = true; }
  void mark_stop_sent() { marks_.stop_sent = true; }
  void hold_stop(StopReason reason) { marks_.held_stop = reason; }
  // The dependents that need it and still have a process: what its held
  // stop waits for ("web", "web@0, web@1 (+2 more)"; "" when none).
  std::string held_for() const;
  // It depends on `dependency` in a way that a dependency going to `phase`
  // for `why` stops it (dependency_down_stops: started or ready, not completed).
  bool stops_with(const std::string& dependency, Phase phase, StopReason why) const;

  // Reload: keep_config() before the Supervisor's config is replaced (the
  // service's entry goes with it); then point at the new entry, with the
  // same content (use_config) or changed (take_config: the machine's spec,
  // readiness, files: a run restarts with the config it carries).
  // A removed service keeps its copy.
  void keep_config();
  void use_config(const ServiceConfig& sc);
  void set_spec(MachineSpec spec) { spec_ = std::move(spec); }
  void take_config(const ServiceConfig& sc);

  // The edges the Supervisor drives.
  void signal(int sig);                       // to the run's cgroup or group
  void reaped(const ExitStatus& status);      // its main process was reaped
  void recheck_drain();                       // the process table changed: judge a pending exit again
  void ensure_cgroup();
  void release_cgroup();
  void close_cgroup_watch();                   // the drain no longer waits on cgroup.events
  void open_files();
  void reopen_files();                        // SIGUSR1
  void flush_files();
  void update_reading();                      // may_read changed (procd's own log)
  void on_notify(const std::map<std::string, std::string>& fields);
  void sample(Millis t, Millis elapsed, bool first, GroupUsage usage);
  void stop_timer() { timer_.cancel(); }
  void observe_phase(Millis t, Phase phase);

  // libuv callbacks (service_output.cpp).
  void on_read(uv_stream_t* stream, ssize_t nread, const char* data);

  // Hooks (service_hooks.cpp). `procd reload NAME`: sends reload_signal or
  // starts reload_command (its outcome: hook_run()), or answers Restart
  // (the caller restarts it); an error when it cannot be reloaded now.
  Result<ReloadWay> reload();
  const HookRun* hook_run() const { return hooks_.get(); }
  void on_hook_read(const HookPipeRef& ref, ssize_t nread, const char* data);

 private:
  void perform(const Action& action, Millis now);  // `now`: the step's
  void write_log(const act::Log& line);
  // One line of procd's own about this run into its ring (and to followers):
  // `procd logs NAME` tells the whole story (stream "procd").
  void tell(std::string_view text);
  void rearm();
  Millis next_deadline() const;
  void on_timer();
  void spawn();
  void spawn_main();
  void run_hook(HookKind kind, const HookVars& vars, std::function<void(const HookVerdict&)> done);
  void on_hook_exit(HookKind kind, std::uint64_t gen, int code, int sig);
  void kill_hook(HookKind kind);
  void kill_hooks();
  bool stop_by_command();              // stop_command instead of the stop signal
  void run_over(const ExitStatus& status);  // post_stop, then the machine hears of the exit
  Millis hooks_deadline() const;
  void hooks_timer(Millis t);
  void judge_drain();
  void apply_drain(const DrainVerdict& verdict);
  bool run_alive();
  void check_oom(const ExitStatus& status);
  void cgroup_run_started();
  void watch_cgroup();
  std::optional<CgroupUsage> cgroup_usage();
  Result<void> watch_output(UvPipe& pipe, int fd);
  void on_output(bool is_stderr, const char* data, std::size_t len);
  void put_lines(LineSplitter& splitter, bool is_stderr, std::string_view bytes, std::string_view hook);
  void hooks_reading(bool want);       // hook pipes follow may_read as the run's do
  void on_stream_closed();
  void setup_files();
  bool flush_file(ServiceFile& f);
  bool may_read() const;
  void drain_pipes_now();
  void close_streams();
  ServiceFile& file_for(bool is_stderr) { return is_stderr && files_->err ? files_->err : files_->out; }  // to_file()
  void setup_readiness();
  void adjust_spawn_env(std::vector<std::string>& env);
  void on_run_started();
  void on_phase(Phase phase);
  void on_health(HealthStatus status, const std::string& detail);
  void check_log_ready(std::string_view line);
  void check_memory();

  ServiceHost& host_;
  // Its entry in the Supervisor's config (one copy per service, not two);
  // its own copy while the Supervisor's config is replaced by a reload, and
  // for good once a reload removed it.
  const ServiceConfig* cfg_;
  std::unique_ptr<ServiceConfig> own_cfg_;
  MachineSpec spec_;
  ServiceState state_;
  Intent marks_;                        // all but `want`, which is the machine's

  // The run.
  Timer timer_;                         // the earliest of the deadlines below; made when first armed
  RunDrain drain_;                      // exit seen / output drained
  Millis watchdog_due_ = 0;             // notify services with watchdog_ms > 0; 0 = none
  pid_t pgid_ = 0;                      // process group of the current/last run
  int over_memory_samples_ = 0;         // memory samples over the limit in a row (beside pgid_: no padding)
  std::vector<std::string> run_env_;    // environment of the current run, kept only for a command health check
  UvPipe out_, err_;                    // stdout, stderr: always two pipes
  std::string cgroup_;                  // its cgroup v2 directory; empty = process group only
  UvHandle<uv_fs_event_t> cgroup_watch_;  // cgroup.events while a drain waits for `populated 0`
  std::string cgroup_limits_;           // the limits last written (changed by a reload)
  std::uint64_t oom_kills_ = 0;         // memory.events oom_kill when the run started
  std::uint64_t cpu_usec_at_start_ = 0; // cpu.stat usage_usec when the run started
  bool reading_ = false;                // the pipes are being read (not held back)
  bool oom_killed_ = false;             // the last run ended by an OOM kill (its reason)

  // Output.
  LineSplitter out_split_, err_split_;
  LineRing ring_;
  std::unique_ptr<ServiceFiles> files_;  // null: the output goes to procd's own log

  // Readiness and health (readiness.cpp).
  std::unique_ptr<LogPattern> ready_pattern_;  // ready = { log = "..." }, compiled once per config (RE2)
  std::string status_text_;                  // last STATUS= from sd_notify
  std::unique_ptr<HealthChecker> health_;

  ServiceStats stats_;
  LogRepeat log_repeat_;                // its repeated identical warning / error: once, then counted
  std::vector<Service*> dependents_;    // services whose depends_on names this one
  std::unique_ptr<HookRun> hooks_;      // made on the first hook it runs (issue 28)
};

}  // namespace procd
