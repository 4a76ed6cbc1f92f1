// The Supervisor: owns the libuv loop and carries out what the pure
// service machines decide. Callbacks (SIGCHLD, timers, pipes, signals) are
// trampolines that build an event and dispatch() it; actions (spawn, signal,
// arm timer, publish) are performed here at the edge. Events produced while
// performing actions are queued, so each machine sees them in order.
#pragma once

#include <uv.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "procd/config.hpp"
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
  std::int64_t started_wall_ms = 0;
};

enum class ShutdownReason { Signal, Requested, Error, Forced, Critical };

class Supervisor {
 public:
  Supervisor(Config cfg, PidLock lock);
  ~Supervisor();
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
  void shutdown_tick();
  void maybe_finish_shutdown();
  void forward_signal(int signum);
  void install_signals();
  void flush_service_file(ServiceRuntime& svc);
  void close_streams(ServiceRuntime& svc);
  void stop_loop();

  Config cfg_;
  uv_loop_t loop_{};
  std::vector<std::unique_ptr<ServiceRuntime>> services_;  // in start order
  std::unordered_map<pid_t, ServiceRuntime*> by_pid_;
  std::vector<std::string> base_env_;
  std::vector<UvSignal> signals_;
  UvTimer shutdown_timer_;
  UvHandle<uv_prepare_t> flusher_;
  PidLock lock_;
  std::deque<std::pair<ServiceRuntime*, Event>> queue_;
  bool dispatching_ = false;
  bool shutting_down_ = false;
  int shutdown_stage_ = 0;   // 0 graceful wait, 1 after SIGKILL, 2 waiting for the ceiling
  Millis shutdown_started_ = 0;
  int exit_code_ = 0;
  bool loop_stopped_ = false;
};

// Run a supervisor on cfg in the foreground; returns the exit code.
int run_supervisor(Config cfg);

}  // namespace procd
