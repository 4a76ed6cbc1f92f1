// One service at the Supervisor's edge: its pure machine state plus
// everything its runs own — the output pipes and what they feed (line
// splitters, the ring for `procd logs`, the per-service files), the health
// checker, the exit/drain bookkeeping (RunDrain) and the ONE timer of the
// service, armed at the earliest of its deadlines (the machine's, the
// drain's, the watchdog's). Invariants: the timer is re-armed after every
// machine step and drain verdict (Supervisor::rearm), so it is never armed
// for a deadline that no longer exists (the file retry is one of them); has_process() is true from spawn
// until the run is over (exit seen and output drained).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/health.hpp"
#include "procd/histogram.hpp"
#include "procd/log_pattern.hpp"
#include "procd/resource_history.hpp"
#include "procd/output.hpp"
#include "procd/run_drain.hpp"
#include "procd/service_machine.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class Supervisor;

// A per-service log file and the bytes it has not taken yet (a full disk:
// the service's pipes are not read while `pending` is not empty).
struct ServiceFile {
  std::unique_ptr<RotatingFile> file;
  std::string pending;
  explicit operator bool() const { return file != nullptr; }
};

struct ServiceRunner {
  Supervisor* sup = nullptr;
  ServiceConfig cfg;
  MachineSpec spec;
  ServiceState state;

  // The run.
  Timer timer;                         // the earliest of the deadlines below
  RunDrain drain;                      // exit seen / output drained
  Millis watchdog_due = 0;             // notify services with watchdog_ms > 0; 0 = none
  pid_t pgid = 0;                      // process group of the current/last run
  std::vector<std::string> run_env;    // environment of the current run, kept only for a command health check
  UvPipe out, err;                     // stdout, stderr: always two pipes
  std::string cgroup;                  // its cgroup v2 directory; empty = process group only (service_cgroup.cpp)
  UvHandle<uv_fs_event_t> cgroup_watch;  // cgroup.events: `populated` changes end a drain
  std::string cgroup_limits;           // the limits last written (changed by a reload)
  std::uint64_t oom_kills = 0;         // memory.events oom_kill when the run started
  std::uint64_t cpu_usec_at_start = 0; // cpu.stat usage_usec when the run started
  bool reading = false;                // the pipes are being read (not held back)

  // Output.
  LineSplitter out_split, err_split;
  LineRing ring;
  ServiceFile out_file;                // [services.NAME.log].file (and stderr when merged)
  ServiceFile err_file;                // stderr = "separate": FILE.err or stderr_file
  Millis file_retry_due = 0;           // a file write failed (full disk): retry then; 0 = none
  bool file_error_told = false;        // the failure was logged once

  // Readiness and health (readiness.cpp).
  std::optional<LogPattern> ready_pattern;  // ready = { log = "..." }, compiled once per config (RE2)
  std::string status_text;                // last STATUS= from sd_notify
  std::unique_ptr<HealthChecker> health;
  int over_memory_samples = 0;

  // Resource samples (only while [monitoring].track_resources).
  std::uint64_t cpu_ticks = 0;
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;

  // Metrics and dashboard (supervisor_http.cpp: observe_phase).
  std::uint64_t spawns = 0;
  Millis stop_began = 0;               // Stopping published at; 0 = not stopping
  DurationHistogram start_seconds;     // spawn -> ready (Running)
  DurationHistogram stop_seconds;      // Stopping -> the run over
  ResourceHistory history;

  // Fleet bookkeeping (start gating, shutdown, reload).
  bool removing = false;               // dropped by a reload: forgotten once idle
  bool waiting = false;                // wants up, held back until its dependencies allow
  std::string gate_reason;             // why it waits or is blocked (status, log)
  bool stop_sent = false;              // shutdown: its stop request has gone out
  std::vector<ServiceRunner*> dependents;  // services whose depends_on names this one

  bool to_file() const { return static_cast<bool>(out_file); }
  ServiceFile& file_for(bool is_stderr) { return is_stderr && err_file ? err_file : out_file; }
  bool has_process() const { return drain.phase() != DrainPhase::Idle; }
  bool idle() const { return !has_process() && state.pid <= 0; }
  // The earliest deadline of the service; 0 = none.
  Millis next_deadline() const;
};

// Watch `fd` (a run's stdout or stderr) for svc's output path on the loop;
// `pipe` becomes its handle, read from once Supervisor::update_reading says
// so. Closes fd on failure.
Result<void> watch_output(uv_loop_t* loop, UvPipe& pipe, ServiceRunner* svc, int fd);

}  // namespace procd
