// A service's runs (service.hpp): its machine steps and the actions they
// return, act::Spawn carried out (fork/exec through SystemCalls, output
// pipes watched), the service's one timer (machine deadline, drain deadline,
// watchdog, file retry — whichever is first) and the end of a run (RunDrain's
// verdicts: the exit is handed to the machine only once the output is
// drained). Cgroup, output and readiness edges are service_cgroup.cpp,
// service_output.cpp and readiness.cpp.
#include "procd/service.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "procd/logging.hpp"
#include "procd/service_request.hpp"
#include "service_hooks.hpp"

namespace procd {
namespace {

LogLevel to_log_level(act::Level l) {
  switch (l) {
    case act::Level::Debug: return LogLevel::Debug;
    case act::Level::Info: return LogLevel::Info;
    case act::Level::Warn: return LogLevel::Warn;
    case act::Level::Error: return LogLevel::Error;
  }
  return LogLevel::Info;
}

}  // namespace

Service::Service(ServiceHost& host, const ServiceConfig& cfg)
    : host_(host), cfg_(&cfg), spec_(machine_spec_of(cfg, host.config().stop_timeout_of(cfg))) {
  setup_files();
  setup_readiness();
}

Service::~Service() = default;

Intent Service::intent() const {
  Intent i = marks_;
  i.want = state_.want;
  return i;
}

void Service::mark_waiting(bool waiting, std::string reason) {
  marks_.waiting = waiting;
  marks_.reason = std::move(reason);
}

std::optional<HealthStatus> Service::health() const {
  if (!health_ || health_->status() == HealthStatus::Unknown) return std::nullopt;
  return health_->status();
}

void Service::handle(const Event& event) {
  const Millis now = host_.now();
  auto result = step(state_, event, now, spec_);
  state_ = std::move(result.state);
  for (const auto& a : result.actions) perform(a, now);
  rearm();
}

void Service::perform(const Action& action, Millis now) {
  std::visit(
      [&](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, act::Spawn>) {
          spawn();
        } else if constexpr (std::is_same_v<A, act::Signal>) {
          if (!(a.sig == spec_.stop_signal && stop_by_command())) signal(a.sig);
        } else if constexpr (std::is_same_v<A, act::ArmTimer> || std::is_same_v<A, act::CancelTimer>) {
          // The deadline is in the state; rearm() after the step arms the one timer.
        } else if constexpr (std::is_same_v<A, act::Publish>) {
          // Out of the restart loop: what was counted is told now.
          if (a.phase == Phase::Running || a.phase == Phase::Stopped || a.phase == Phase::Failed)
            if (auto s = log_repeat_.flush()) write_log(*s);
          if (a.phase == Phase::Restarting && state_.deadline > 0)
            tell(fmt::format("restarting in {} ms", std::max<Millis>(0, state_.deadline - now)));  // the step's now: the delay as chosen
          else if (a.phase == Phase::Running)
            tell("running");
          if (a.phase == Phase::Stopping) kill_hook(HookKind::PreStart);  // the main command will not be spawned
          host_.published(*this, a.phase);
          on_phase(a.phase);
        } else if constexpr (std::is_same_v<A, act::Log>) {
          for (const auto& line : log_repeat_.feed(a)) write_log(line);
        }
      },
      action);
}

void Service::write_log(const act::Log& line) {
  Log::write(to_log_level(line.level), line.message, svc_fields(cfg_->name, state_.pid, line.code));
  if (line.level != act::Level::Debug) tell(line.message);
}

Millis Service::next_deadline() const {
  Millis due = 0;
  for (Millis d : {state_.deadline, drain_.deadline(), watchdog_due_, files_ ? files_->retry_due : Millis{0}, hooks_deadline()})
    if (d > 0 && (due == 0 || d < due)) due = d;
  return due;
}

// act::Spawn: pre_start first when there is one (service_hooks.cpp).
void Service::spawn() {
  if (!has_hook(*cfg_, HookKind::PreStart)) return spawn_main();
  run_hook(HookKind::PreStart, HookVars{}, [this](const HookVerdict& v) {
    if (!v.ok) return host_.dispatch(*this, ev::SpawnFailed{make_error(Code::ServiceHookFailed, v.reason)});
    // A stop came while pre_start ran: the main command is never spawned.
    // (A shutdown that began meanwhile wants it down: the same.)
    if (state_.phase != Phase::Starting || state_.pid != 0 || state_.want != Want::Up)
      return host_.dispatch(*this, ev::SpawnFailed{make_error(Code::ServiceHookFailed, "stopped during pre_start")});
    spawn_main();
  });
}

void Service::spawn_main() {
  auto env = build_service_env(*cfg_, host_.base_env());
  if (!env.ok()) {
    host_.dispatch(*this, ev::SpawnFailed{env.error()});
    return;
  }
  // A command health check runs in the run's environment (env_file read once
  // per start); only then is a copy kept (~4 KiB a service otherwise).
  if (cfg_->health.kind == HealthKind::Command) run_env_ = env.value();
  else run_env_.clear();
  ensure_cgroup();
  SpawnRequest req = service_spawn_request(*cfg_, host_.config().dir, cgroup_, std::move(env.value()));
  adjust_spawn_env(req.env);
  // issue 28: the main service on a terminal sees it (no pipe), like a
  // program run from the shell; otherwise its output is captured as usual.
  if (cfg_->main && ::isatty(STDOUT_FILENO) == 1) req.stdio = SpawnStdio::Inherit;
  auto proc = host_.sys().spawn(req);
  if (!proc.ok()) {
    host_.dispatch(*this, ev::SpawnFailed{proc.error()});
    return;
  }
  pgid_ = proc->pid;
  oom_killed_ = false;
  stats_.cpu_ticks = 0;
  cgroup_run_started();
  host_.spawned(*this, proc->pid);
  out_split_ = LineSplitter();
  err_split_ = LineSplitter();
  int streams = 0;
  for (auto [fd, pipe] : {std::pair{proc->stdout_fd, &out_}, std::pair{proc->stderr_fd, &err_}}) {
    if (fd < 0) continue;
    if (auto r = watch_output(*pipe, fd); r.ok())
      ++streams;
    else
      Log::error(r.error(), svc_fields(cfg_->name));
  }
  drain_.started(streams);
  reading_ = false;
  update_reading();
  Log::write(LogLevel::Debug, "spawned", svc_fields(cfg_->name, proc->pid));
  tell(fmt::format("spawned pid {}", proc->pid));
  on_run_started();
  host_.dispatch(*this, ev::Spawned{proc->pid});
}

void Service::rearm() {
  Millis due = next_deadline();
  if (due == 0) return timer_.cancel();
  // Made when first armed: a service that never has a deadline (most, once
  // running) holds no uv timer (~190 B a service).
  if (!timer_.initialized()) timer_.init(host_.loop(), [this] { on_timer(); });
  timer_.schedule(std::max<Millis>(0, due - host_.now()));
}

void Service::on_timer() {
  Millis t = host_.now();
  if (watchdog_due_ > 0 && t >= watchdog_due_) {
    watchdog_due_ = 0;
    Log::write(LogLevel::Warn, fmt::format("no WATCHDOG=1 for {} ms", cfg_->watchdog_ms),
               svc_fields(cfg_->name, state_.pid, Code::TimeoutWatchdog));
    host_.dispatch(*this, ev::HealthFailed{"watchdog timeout", FailKind::Watchdog});
  }
  if (files_ && files_->retry_due > 0 && t >= files_->retry_due) {
    files_->retry_due = 0;
    flush_files();
  }
  if (drain_.deadline() > 0 && t >= drain_.deadline()) {
    watch_cgroup();  // before reading cgroup.events: a Kill waits for its event
    bool populated = !cgroup_.empty() && run_alive();
    apply_drain(drain_.deadline_passed(t, populated, kCgroupKillWaitMs));
  }
  hooks_timer(t);
  if (state_.deadline > 0 && t >= state_.deadline) host_.dispatch(*this, ev::TimerFired{});
  rearm();
}

void Service::reaped(const ExitStatus& status) {
  drain_.exited(status);
  // The run's main process is gone: nothing is left to check. A health
  // command in flight would also hold the run's cgroup populated (it runs
  // there), so the drain would wait for it and then "kill leftovers".
  if (health_) health_->stop();
}

void Service::on_stream_closed() {
  drain_.stream_closed();
  judge_drain();
}

void Service::recheck_drain() {
  if (drain_.exit_pending()) judge_drain();
}

void Service::judge_drain() {
  // Whether the group lives matters only once the exit is reaped and the
  // output drained; asking earlier (an EOF before the exit) would cost a
  // /proc scan per service, quadratic in a shutdown of many services.
  bool ask = drain_.exit_pending() && drain_.open_streams() == 0;
  if (ask) watch_cgroup();  // armed before run_alive() reads cgroup.events
  apply_drain(drain_.check(ask && run_alive(), host_.now(), drain_budget(spec_.stop_timeout_ms)));
}

void Service::apply_drain(const DrainVerdict& verdict) {
  using K = DrainVerdict::Kind;
  switch (verdict.kind) {
    case K::Wait: return;
    case K::Arm:
      // The run's main process is gone; what is left of its group goes too
      // (systemd's control-group semantics), gently first.
      if (run_alive()) signal(spec_.stop_signal);
      return rearm();
    case K::Kill:  // the cgroup is killed; its `populated 0` event finishes the run
      Log::write(LogLevel::Warn, "processes left in the cgroup after the main process exited; killing them",
                 svc_fields(cfg_->name, 0, Code::TimeoutStop));
      signal(SIGKILL);
      close_streams();
      return rearm();
    case K::KillAndFinish:
      if (run_alive()) {
        Log::write(LogLevel::Warn, "processes left in the group after the main process exited; killing them",
                   svc_fields(cfg_->name, 0, Code::TimeoutStop));
        signal(SIGKILL);
      }
      close_streams();
      break;
    case K::Finish: break;
  }
  close_cgroup_watch();
  flush_files();
  check_oom(verdict.status);
  run_over(verdict.status);
}

// Metrics and dashboard: spawns, start and stop durations.
void Service::observe_phase(Millis t, Phase phase) {
  if (phase == Phase::Starting) ++stats_.spawns;
  if (phase == Phase::Running && state_.spawned_at > 0)
    stats_.start_seconds.observe(static_cast<double>(t - state_.spawned_at) / 1000.0);
  if (phase == Phase::Stopping) {
    stats_.stop_began = t;
  } else if (stats_.stop_began > 0) {
    if (!stats_.stop_seconds) stats_.stop_seconds = std::make_unique<DurationHistogram>();
    stats_.stop_seconds->observe(static_cast<double>(t - stats_.stop_began) / 1000.0);
    stats_.stop_began = 0;
  }
}


void Service::keep_config() {
  if (own_cfg_) return;
  own_cfg_ = std::make_unique<ServiceConfig>(*cfg_);
  cfg_ = own_cfg_.get();
}

void Service::use_config(const ServiceConfig& sc) {
  cfg_ = &sc;
  own_cfg_.reset();
}

// Reload: a changed config. The machine's spec (readiness, restart policy,
// timeouts) follows it, so the next run's readiness is the config's (a
// promoted start-first surge too); readiness is set up again; files only
// when their settings changed (lines the old file could not take yet go on).
void Service::take_config(const ServiceConfig& sc) {
  bool new_file = sc.log.file != cfg_->log.file || sc.log.max_file_size != cfg_->log.max_file_size ||
                  sc.log.max_files != cfg_->log.max_files || sc.log.merge_stderr != cfg_->log.merge_stderr ||
                  sc.log.stderr_file != cfg_->log.stderr_file;
  use_config(sc);
  spec_ = machine_spec_of(sc, host_.config().stop_timeout_of(sc));
  // A run that serves on (a roll replaces it later) is held to no watchdog the config
  // dropped (its pings would move the deadline by 0 ms); one started without any is never
  // armed (the watchdog starts at Running, on_phase: it was not told NOTIFY_SOCKET).
  if (sc.watchdog_ms <= 0) watchdog_due_ = 0;
  setup_readiness();
  if (!new_file) return;
  flush_files();
  // Lines the old file could not take yet (a full disk) go to the new one.
  ServiceFiles old;  // its unwritten bytes and outage state (retry, told) carry over
  if (files_) old = std::move(*files_);
  old.out.file.reset();  // the old files are closed before the new ones open, as before
  old.err.file.reset();
  std::string out_rest = std::move(old.out.pending), err_rest = std::move(old.err.pending);
  setup_files();
  open_files();
  if (to_file()) {
    files_->retry_due = old.retry_due;
    files_->error_told = old.error_told;
    files_->out.pending = std::move(out_rest);
    file_for(true).pending.append(err_rest);
    flush_files();
  } else {
    // Pending bytes are whole lines (a cut line's rest ends with its '\n').
    Log::service_lines(cfg_->name, false, {}, out_rest, wall_clock_ms());
    Log::service_lines(cfg_->name, true, {}, err_rest, wall_clock_ms());
    update_reading();
  }
}

// One resource sample (supervisor_control.cpp samples every group at once).
void Service::sample(Millis t, Millis elapsed, bool first, GroupUsage u) {
  if (state_.pid <= 0) {
    stats_.cpu_percent = 0;
    stats_.rss_bytes = 0;
    return;
  }
  if (auto cu = cgroup_usage()) {  // the cgroup's own figures where its controllers give them
    if (cu->cpu_usec) u.cpu_ticks = *cu->cpu_usec * static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK)) / 1000000;
    if (cu->memory_bytes) u.rss_bytes = *cu->memory_bytes;
  }
  stats_.cpu_percent = !first && u.cpu_ticks >= stats_.cpu_ticks ? cpu_percent(stats_.cpu_ticks, u.cpu_ticks, elapsed) : 0.0;
  stats_.cpu_ticks = u.cpu_ticks;
  stats_.rss_bytes = u.rss_bytes;
  stats_.history.add({t, stats_.cpu_percent, stats_.rss_bytes});
  check_memory();
}

}  // namespace procd
