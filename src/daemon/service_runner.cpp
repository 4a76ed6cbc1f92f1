// A service's runs at the Supervisor's edge: creating its runner, carrying
// out act::Spawn (fork/exec through SystemCalls, output pipes watched),
// the service's one timer (machine deadline, drain deadline, watchdog —
// whichever is first) and the end of a run (RunDrain's verdicts: the exit
// is handed to the machine only once the output is drained).
#include <fmt/core.h>
#include <signal.h>

#include <algorithm>

#include "procd/logging.hpp"
#include "procd/service_request.hpp"
#include "procd/supervisor.hpp"

namespace procd {

Millis ServiceRunner::next_deadline() const {
  Millis due = 0;
  for (Millis d : {state.deadline, drain.deadline(), watchdog_due, file_retry_due})
    if (d > 0 && (due == 0 || d < due)) due = d;
  return due;
}

std::unique_ptr<ServiceRunner> Supervisor::make_runner(const ServiceConfig& sc) {
  auto rt = std::make_unique<ServiceRunner>();
  rt->sup = this;
  rt->cfg = sc;
  rt->spec = machine_spec_of(sc, cfg_.stop_timeout_of(sc));
  ServiceRunner* r = rt.get();
  rt->timer.init(&loop_, [this, r] { on_timer(*r); });
  setup_files(*rt);
  setup_readiness(*rt);
  return rt;
}

void Supervisor::spawn(ServiceRunner& svc) {
  auto env = build_service_env(svc.cfg, base_env_);
  if (!env.ok()) {
    dispatch(svc, ev::SpawnFailed{env.error()});
    return;
  }
  // A command health check runs in the run's environment (env_file read once
  // per start); only then is a copy kept (~4 KiB a service otherwise).
  if (svc.cfg.health.kind == HealthKind::Command) svc.run_env = env.value();
  else svc.run_env.clear();
  ensure_cgroup(svc);
  SpawnRequest req = service_spawn_request(svc.cfg, cfg_.dir, svc.cgroup, std::move(env.value()));
  adjust_spawn_env(svc, req.env);
  auto proc = sys_.spawn(req);
  if (!proc.ok()) {
    dispatch(svc, ev::SpawnFailed{proc.error()});
    return;
  }
  ++counters_.spawns_total;
  svc.pgid = proc->pid;
  svc.cpu_ticks = 0;
  cgroup_run_started(svc);
  by_pid_[proc->pid] = &svc;
  svc.out_split = LineSplitter();
  svc.err_split = LineSplitter();
  int streams = 0;
  for (auto [fd, pipe] : {std::pair{proc->stdout_fd, &svc.out}, std::pair{proc->stderr_fd, &svc.err}}) {
    if (fd < 0) continue;
    if (auto r = watch_output(&loop_, *pipe, &svc, fd); r.ok())
      ++streams;
    else
      Log::error(r.error(), svc_fields(svc.cfg.name));
  }
  svc.drain.started(streams);
  svc.reading = false;
  update_reading(svc);
  Log::write(LogLevel::Debug, "spawned", svc_fields(svc.cfg.name, proc->pid));
  on_run_started(svc);
  dispatch(svc, ev::Spawned{proc->pid});
}

void Supervisor::rearm(ServiceRunner& svc) {
  Millis due = svc.next_deadline();
  if (due == 0) return svc.timer.cancel();
  svc.timer.schedule(std::max<Millis>(0, due - now()));
}

void Supervisor::on_timer(ServiceRunner& svc) {
  Millis t = now();
  if (svc.watchdog_due > 0 && t >= svc.watchdog_due) {
    svc.watchdog_due = 0;
    Log::write(LogLevel::Warn, fmt::format("no WATCHDOG=1 for {} ms", svc.cfg.watchdog_ms),
               svc_fields(svc.cfg.name, svc.state.pid, Code::TimeoutWatchdog));
    dispatch(svc, ev::HealthFailed{"watchdog timeout"});
  }
  if (svc.file_retry_due > 0 && t >= svc.file_retry_due) {
    svc.file_retry_due = 0;
    flush_service_file(svc);
  }
  if (svc.drain.deadline() > 0 && t >= svc.drain.deadline()) {
    bool populated = !svc.cgroup.empty() && run_alive(svc);
    apply_drain(svc, svc.drain.deadline_passed(t, populated, kCgroupKillWaitMs));
  }
  if (svc.state.deadline > 0 && t >= svc.state.deadline) dispatch(svc, ev::TimerFired{});
  rearm(svc);
}

void Supervisor::on_stream_closed(ServiceRunner& svc) {
  svc.drain.stream_closed();
  judge_drain(svc);
}

void Supervisor::judge_drain(ServiceRunner& svc) {
  // Whether the group lives matters only once the exit is reaped and the
  // output drained; asking earlier (an EOF before the exit) would cost a
  // /proc scan per service, quadratic in a shutdown of many services.
  bool ask = svc.drain.exit_pending() && svc.drain.open_streams() == 0;
  apply_drain(svc, svc.drain.check(ask && run_alive(svc), now(), drain_budget(svc.spec.stop_timeout_ms)));
}

void Supervisor::apply_drain(ServiceRunner& svc, const DrainVerdict& verdict) {
  using K = DrainVerdict::Kind;
  switch (verdict.kind) {
    case K::Wait: return;
    case K::Arm:
      // The run's main process is gone; what is left of its group goes too
      // (systemd's control-group semantics), gently first.
      if (run_alive(svc)) signal_run(svc, svc.spec.stop_signal);
      return rearm(svc);
    case K::Kill:  // the cgroup is killed; its `populated 0` event finishes the run
      Log::write(LogLevel::Warn, "processes left in the cgroup after the main process exited; killing them",
                 svc_fields(svc.cfg.name, 0, Code::TimeoutStop));
      signal_run(svc, SIGKILL);
      close_streams(svc);
      return rearm(svc);
    case K::KillAndFinish:
      if (run_alive(svc)) {
        Log::write(LogLevel::Warn, "processes left in the group after the main process exited; killing them",
                   svc_fields(svc.cfg.name, 0, Code::TimeoutStop));
        signal_run(svc, SIGKILL);
      }
      close_streams(svc);
      break;
    case K::Finish: break;
  }
  flush_service_file(svc);
  check_oom(svc, verdict.status);
  dispatch(svc, ev::Exited{verdict.status});
}

}  // namespace procd
