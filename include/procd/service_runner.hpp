// One service at the Supervisor's edge: its pure machine state plus
// everything its runs own — the output pipes and what they feed (line
// splitters, the ring for `procd logs`, the per-service file), the health
// checker, the exit/drain bookkeeping (RunDrain) and the ONE timer of the
// service, armed at the earliest of its deadlines (the machine's, the
// drain's, the watchdog's). Invariants: the timer is re-armed after every
// machine step and drain verdict (Supervisor::rearm), so it is never armed
// for a deadline that no longer exists; has_process() is true from spawn
// until the run is over (exit seen and output drained).
#pragma once

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/health.hpp"
#include "procd/output.hpp"
#include "procd/run_drain.hpp"
#include "procd/service_machine.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class Supervisor;

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
  UvPipe out, err;                     // stdout (and stderr unless merged)

  // Output.
  LineSplitter out_split, err_split;
  LineRing ring;
  std::unique_ptr<RotatingFile> file;  // [services.NAME.log].file
  std::string file_buf;                // lines waiting for one write()

  // Readiness and health (readiness.cpp).
  std::optional<std::regex> ready_regex;  // ready = { log = "..." }
  std::string status_text;                // last STATUS= from sd_notify
  std::unique_ptr<HealthChecker> health;
  int over_memory_samples = 0;

  // Resource samples (only while [monitoring].track_resources).
  std::uint64_t cpu_ticks = 0;
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;

  // Fleet bookkeeping (start gating, shutdown, reload).
  bool removing = false;               // dropped by a reload: forgotten once idle
  bool waiting = false;                // wants up, held back until its dependencies allow
  std::string gate_reason;             // why it waits or is blocked (status, log)
  bool stop_sent = false;              // shutdown: its stop request has gone out
  std::vector<ServiceRunner*> dependents;  // services whose depends_on names this one

  bool has_process() const { return drain.phase() != DrainPhase::Idle; }
  bool idle() const { return !has_process() && state.pid <= 0; }
  // The earliest deadline of the service; 0 = none.
  Millis next_deadline() const;
};

// Read `fd` (a run's stdout or stderr) into svc's output path on the loop;
// `pipe` becomes its handle. Closes fd on failure.
Result<void> watch_output(uv_loop_t* loop, UvPipe& pipe, ServiceRunner* svc, int fd);

}  // namespace procd
