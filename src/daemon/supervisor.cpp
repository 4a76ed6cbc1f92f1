// The Supervisor loop: lock, signals, reaping, the shutdown ladder, and the
// dispatch of events into the pure service machines. Invariants: one
// thread, one loop; a service's machine only ever sees events through
// dispatch(), which queues events raised while actions are carried out;
// every PID procd forked is in by_pid_ until reaped; procd exits only when
// every run is over (or the [shutdown].kill ceiling passed).
#include "procd/supervisor.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "procd/logging.hpp"
#include "procd/signal_names.hpp"
#include "procd/spawn.hpp"

extern char** environ;

namespace procd {

namespace {

const char* reason_name(ShutdownReason r) {
  switch (r) {
    case ShutdownReason::Signal: return "signal";
    case ShutdownReason::Requested: return "requested";
    case ShutdownReason::Error: return "error";
    case ShutdownReason::Forced: return "forced";
    case ShutdownReason::Critical: return "critical service failed";
  }
  return "?";
}

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

Supervisor::Supervisor(Config cfg, PidLock lock) : cfg_(std::move(cfg)), lock_(std::move(lock)) {
  uv_loop_init(&loop_);
  for (char** e = environ; e && *e; ++e) base_env_.emplace_back(*e);
  for (const auto& sc : cfg_.services) services_.push_back(make_runtime(sc));
}

std::unique_ptr<ServiceRuntime> Supervisor::make_runtime(const ServiceConfig& sc) {
  auto rt = std::make_unique<ServiceRuntime>();
  rt->sup = this;
  rt->cfg = sc;
  rt->spec = machine_spec_of(sc, cfg_.stop_timeout_of(sc));
  rt->timer.reset(rt.get());
  uv_timer_init(&loop_, rt->timer.get());
  rt->drain_timer.reset(rt.get());
  uv_timer_init(&loop_, rt->drain_timer.get());
  if (!sc.log.file.empty()) rt->file = std::make_unique<RotatingFile>(sc.log.file, sc.log.max_file_size, sc.log.max_files);
  setup_readiness(*rt);
  return rt;
}

Supervisor::~Supervisor() {
  // Close every handle, let libuv run the close callbacks, then the loop.
  for (auto& s : services_) {
    s->timer.close();
    s->drain_timer.close();
    s->out.close();
    s->err.close();
    s->watchdog.close();
    s->health.reset();
  }
  notify_.reset();
  manager_watchdog_.close();
  signals_.clear();
  shutdown_timer_.close();
  flusher_.close();
  sample_timer_.close();
  control_.reset();
  watcher_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0) Log::write(LogLevel::Debug, "event loop closed with handles still open");
  Log::flush();
}

Millis Supervisor::now() {
  uv_update_time(&loop_);
  return static_cast<Millis>(uv_now(&loop_));
}

void Supervisor::install_signals() {
  ::signal(SIGPIPE, SIG_IGN);  // a closed reader must be an EPIPE, not procd's death
  std::vector<int> wanted;
  auto want = [&](int s) {
    bool have = std::find(installed_.begin(), installed_.end(), s) != installed_.end() ||
                std::find(wanted.begin(), wanted.end(), s) != wanted.end();
    if (!have) wanted.push_back(s);
  };
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1}) want(s);
  for (int s : cfg_.signals.forward) want(s);
  for (int signum : wanted) {
    UvSignal h(this);
    uv_signal_init(&loop_, h.get());
    int rc = uv_signal_start(
        h.get(), [](uv_signal_t* x, int n) { owner_of<Supervisor>(x)->on_signal(n); }, signum);
    if (rc != 0)
      Log::error(make_error(Code::SignalInstallFailed, fmt::format("{}: {}", signal_name(signum), uv_strerror(rc))));
    signals_.push_back(std::move(h));
    installed_.push_back(signum);
  }
}

int Supervisor::run() {
  if (auto r = become_subreaper(); !r.ok()) Log::write(LogLevel::Warn, r.error().message, code_fields(r.error().code));
  started_at_ = now();
  control_ = std::make_unique<ControlServer>(&loop_, [this](ControlConnection& c, Request r) { handle_request(c, std::move(r)); });
  if (auto r = control_->listen(cfg_.control); !r.ok()) {
    fmt::print(stderr, "{}\n", r.error().format());
    Log::error(r.error());
    control_.reset();
    return 2;
  }
  install_signals();
  applied_hash_ = content_hash(read_file(cfg_.path).value_or(""));
  if (cfg_.hot_reload) {
    watcher_ = std::make_unique<ConfigWatcher>(&loop_, cfg_.path, [this] { reload("file change", true); });
    if (auto r = watcher_->start(); !r.ok()) {
      Log::write(LogLevel::Warn, r.error().message, code_fields(r.error().code));
      watcher_.reset();
    }
  }
  sample_timer_.reset(this);
  uv_timer_init(&loop_, sample_timer_.get());
  shutdown_timer_.reset(this);
  uv_timer_init(&loop_, shutdown_timer_.get());
  // Flush buffered log lines once per loop iteration, just before sleeping.
  flusher_.reset(this);
  uv_prepare_init(&loop_, flusher_.get());
  uv_prepare_start(flusher_.get(), [](uv_prepare_t*) { Log::flush(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(flusher_.get()));

  for (auto& s : services_)
    if (s->file)
      if (auto r = s->file->open(); !r.ok()) Log::error(r.error(), svc_fields(s->cfg.name));

  Log::write(LogLevel::Info, fmt::format("procd starting \"{}\": {} services, pid {}, config {}", cfg_.name,
                                         services_.size(), ::getpid(), cfg_.path));
  rebuild_index();
  for (const auto& name : graph_.start_order())
    if (ServiceRuntime* s = find(name); s && s->cfg.autostart) request_start(*s);
  manager_start();

  uv_run(&loop_, UV_RUN_DEFAULT);
  Log::write(LogLevel::Info, fmt::format("procd \"{}\" exiting with code {}", cfg_.name, exit_code_));
  lock_.release();
  return exit_code_;
}

void Supervisor::dispatch(ServiceRuntime& svc, Event event) {
  queue_.emplace_back(&svc, std::move(event));
  if (dispatching_) return;  // the outer call drains the queue in order
  dispatching_ = true;
  while (!queue_.empty()) {
    auto [s, e] = std::move(queue_.front());
    queue_.pop_front();
    auto result = step(s->state, e, now(), s->spec);
    s->state = std::move(result.state);
    for (const auto& a : result.actions) perform(*s, a);
  }
  dispatching_ = false;
  collect_removed();
  maybe_finish_shutdown();
}

void Supervisor::perform(ServiceRuntime& svc, const Action& action) {
  std::visit(
      [&](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, act::Spawn>) {
          spawn(svc);
        } else if constexpr (std::is_same_v<A, act::Signal>) {
          if (svc.pgid > 0)
            if (auto r = signal_group(svc.pgid, a.sig); !r.ok()) Log::error(r.error(), svc_fields(svc.cfg.name));
        } else if constexpr (std::is_same_v<A, act::ArmTimer>) {
          Millis delay = std::max<Millis>(0, a.deadline - now());
          uv_timer_start(
              svc.timer.get(),
              [](uv_timer_t* t) {
                auto* s = owner_of<ServiceRuntime>(t);
                s->sup->dispatch(*s, ev::TimerFired{});
              },
              static_cast<uint64_t>(delay), 0);
        } else if constexpr (std::is_same_v<A, act::CancelTimer>) {
          uv_timer_stop(svc.timer.get());
        } else if constexpr (std::is_same_v<A, act::Publish>) {
          publish(svc, a.phase);
        } else if constexpr (std::is_same_v<A, act::Log>) {
          Log::write(to_log_level(a.level), a.message, svc_fields(svc.cfg.name, svc.state.pid, a.code));
        }
      },
      action);
}

void Supervisor::publish(ServiceRuntime& svc, Phase phase) {
  Log::write(LogLevel::Info, fmt::format("state {}", phase_name(phase)), svc_fields(svc.cfg.name, svc.state.pid));
  publish_event(svc, phase);
  on_phase(svc, phase);
  update_sampling();
  regate();
  manager_update();
  if (phase == Phase::Failed && svc.cfg.critical && !shutting_down_) {
    exit_code_ = svc.state.last_exit ? exit_code_of(*svc.state.last_exit) : 1;
    if (exit_code_ == 0) exit_code_ = 1;
    Log::write(LogLevel::Error, fmt::format("critical service failed for good; shutting down with code {}", exit_code_),
               svc_fields(svc.cfg.name, 0, Code::ShutdownCriticalFailed));
    begin_shutdown(ShutdownReason::Critical);
  }
}

void Supervisor::on_signal(int signum) {
  switch (signum) {
    case SIGCHLD: on_sigchld(); return;
    case SIGTERM:
    case SIGINT:
    case SIGQUIT:
      if (shutting_down_) {
        // A second request while shutting down: skip the graceful wait.
        if (shutdown_stage_ == 0)
          shutdown_tick(fmt::format("shutdown escalated (reason: {}, {} again)", reason_name(ShutdownReason::Forced),
                                    signal_name(signum)));
        return;
      }
      begin_shutdown(ShutdownReason::Signal, signum);
      return;
    case SIGHUP:
      if (cfg_.signals.sighup == SighupAction::Forward) forward_signal(signum);
      else if (cfg_.signals.sighup == SighupAction::Reload) reload("SIGHUP", false);
      return;
    default: break;
  }
  bool forwarded = std::find(cfg_.signals.forward.begin(), cfg_.signals.forward.end(), signum) != cfg_.signals.forward.end();
  if (forwarded) {
    forward_signal(signum);
  } else if (signum == SIGUSR1) {
    Log::write(LogLevel::Info, "SIGUSR1: reopening log files");
    if (auto r = Log::reopen(); !r.ok()) Log::error(r.error());
    for (auto& s : services_)
      if (s->file) {
        flush_service_file(*s);
        if (auto r = s->file->reopen(); !r.ok()) Log::error(r.error(), svc_fields(s->cfg.name));
      }
  }
}

void Supervisor::forward_signal(int signum) {
  for (auto& s : services_)
    if (s->state.pid > 0) signal_group(s->pgid, signum);
  Log::write(LogLevel::Debug, fmt::format("forwarded {} to services", signal_name(signum)));
}

void Supervisor::on_sigchld() {
  while (auto r = reap_one()) {
    if (auto w = child_watchers_.find(r->pid); w != child_watchers_.end()) {
      auto cb = std::move(w->second);
      child_watchers_.erase(w);
      cb(r->code, r->signal);
      continue;
    }
    auto it = by_pid_.find(r->pid);
    if (it == by_pid_.end()) {
      Log::write(LogLevel::Debug, fmt::format("reaped orphan {} (code {}, signal {})", r->pid, r->code, r->signal));
      continue;
    }
    ServiceRuntime& s = *it->second;
    by_pid_.erase(it);
    s.pending_exit = ExitStatus{r->code, r->signal};
    // The run's main process is gone; what is left of its group goes too
    // (systemd's control-group semantics), gently first.
    if (group_alive(s.pgid)) signal_group(s.pgid, s.spec.stop_signal);
  }
  // Only now, with every exited child reaped (orphans of a run are zombies
  // in its group until then), decide which runs are over.
  std::vector<ServiceRuntime*> pending;  // finish_run may erase removed services from services_
  for (auto& s : services_)
    if (s->pending_exit) pending.push_back(s.get());
  for (ServiceRuntime* s : pending) {
    if (s->open_streams == 0 && !group_alive(s->pgid)) {
      finish_run(*s);
    } else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(s->drain_timer.get()))) {
      Millis drain = std::min<Millis>(1000, std::max<Millis>(s->spec.stop_timeout_ms, 1));
      uv_timer_start(
          s->drain_timer.get(), [](uv_timer_t* t) { auto* x = owner_of<ServiceRuntime>(t); x->sup->on_drain_timeout(*x); },
          static_cast<uint64_t>(drain), 0);
    }
  }
}

void Supervisor::on_drain_timeout(ServiceRuntime& svc) {
  if (!svc.pending_exit) return;
  if (group_alive(svc.pgid)) {
    Log::write(LogLevel::Warn, "processes left in the group after the main process exited; killing them",
               svc_fields(svc.cfg.name, 0, Code::TimeoutStop));
    signal_group(svc.pgid, SIGKILL);
  }
  close_streams(svc);
  finish_run(svc);
}

void Supervisor::on_stream_closed(ServiceRuntime& svc, bool) {
  if (--svc.open_streams == 0 && svc.pending_exit && !group_alive(svc.pgid)) finish_run(svc);
}

void Supervisor::finish_run(ServiceRuntime& svc) {
  if (!svc.pending_exit) return;
  uv_timer_stop(svc.drain_timer.get());
  flush_service_file(svc);
  ExitStatus st = *svc.pending_exit;
  svc.pending_exit.reset();
  dispatch(svc, ev::Exited{st});
}

void Supervisor::begin_shutdown(ShutdownReason reason, int signum) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_started_ = now();
  manager_stopping();
  Log::write(LogLevel::Info, reason == ShutdownReason::Signal
                                 ? fmt::format("shutting down (reason: signal {})", signal_name(signum))
                                 : fmt::format("shutting down (reason: {})", reason_name(reason)));
  for (auto& s : services_) s->waiting = false;
  stop_in_dependency_order();
  uv_timer_start(
      shutdown_timer_.get(), [](uv_timer_t* t) { owner_of<Supervisor>(t)->shutdown_tick(); },
      static_cast<uint64_t>(cfg_.shutdown.graceful), 0);
  maybe_finish_shutdown();
}

// The ladder after graceful: SIGKILL every remaining group, wait until
// force, then until the kill ceiling, then give up with code 3.
void Supervisor::shutdown_tick(const std::string& why) {
  Millis elapsed = now() - shutdown_started_;
  std::string left;
  for (auto& s : services_)
    if (s->state.pid > 0 || s->pending_exit) left += fmt::format(" {}(pid {})", s->cfg.name, s->pgid);
  if (shutdown_stage_ == 0) {
    Log::write(LogLevel::Warn, fmt::format("{}; killing:{}", why, left), code_fields(Code::ShutdownForced));
    for (auto& s : services_)
      if (s->state.pid > 0 || s->pending_exit) {
        dispatch(*s, ev::ForceKill{});
        signal_group(s->pgid, SIGKILL);
      }
    shutdown_stage_ = 1;
    uv_timer_start(shutdown_timer_.get(), [](uv_timer_t* t) { owner_of<Supervisor>(t)->shutdown_tick(); },
                   static_cast<uint64_t>(std::max<Millis>(0, cfg_.shutdown.force - elapsed)), 0);
  } else if (shutdown_stage_ == 1) {
    for (auto& s : services_)
      if (s->state.pid > 0 || s->pending_exit) signal_group(s->pgid, SIGKILL);
    shutdown_stage_ = 2;
    uv_timer_start(shutdown_timer_.get(), [](uv_timer_t* t) { owner_of<Supervisor>(t)->shutdown_tick(); },
                   static_cast<uint64_t>(std::max<Millis>(0, cfg_.shutdown.kill - elapsed)), 0);
  } else {
    Log::write(LogLevel::Error, fmt::format("shutdown ceiling reached; exiting with processes left:{}", left),
               code_fields(Code::ShutdownStragglers));
    exit_code_ = 3;
    stop_loop();
  }
}

void Supervisor::maybe_finish_shutdown() {
  if (!shutting_down_ || loop_stopped_ || dispatching_) return;
  stop_in_dependency_order();
  for (auto& s : services_)
    if (s->state.pid > 0 || s->pending_exit || s->open_streams > 0) return;
  Log::write(LogLevel::Info, fmt::format("all services stopped in {} ms", now() - shutdown_started_));
  stop_loop();
}

ServiceRuntime* Supervisor::find(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

void Supervisor::rebuild_index() {
  by_name_.clear();
  std::vector<ServiceConfig> configs;
  configs.reserve(services_.size());
  for (auto& s : services_) {
    by_name_[s->cfg.name] = s.get();
    s->dependents.clear();
    configs.push_back(s->cfg);
  }
  for (auto& s : services_)
    for (const auto& dep : s->cfg.depends_on)
      if (ServiceRuntime* d = find(dep.service)) d->dependents.push_back(s.get());
  graph_ = DepGraph::from_services(configs);
  stop_sequence_.clear();
  for (const auto& name : graph_.stop_order()) stop_sequence_.push_back(find(name));
}

void Supervisor::request_start(ServiceRuntime& svc) {
  if (shutting_down_) return;
  // Like `docker compose up web`: starting a service brings up its stopped dependencies.
  for (const auto& dep : svc.cfg.depends_on)
    if (ServiceRuntime* d = find(dep.service); d && d->state.want == Want::Down && !d->waiting &&
                                               d->state.phase == Phase::Stopped && d->state.pid <= 0 && !d->state.last_exit)
      request_start(*d);
  Gate gate = evaluate_dependencies(svc.cfg.depends_on, [this](const std::string& n) -> std::optional<DependencyView> {
    ServiceRuntime* d = find(n);
    if (!d) return std::nullopt;
    bool ok = d->state.last_exit && is_success(*d->state.last_exit, d->spec.success_exit_codes);
    return DependencyView{d->state.phase, d->state.want, ok};
  });
  bool was_waiting = svc.waiting;
  std::string old_reason = svc.gate_reason;
  svc.waiting = gate.verdict == GateVerdict::Wait;
  svc.gate_reason = gate.reason;
  if (gate.verdict == GateVerdict::Go) {
    dispatch(svc, ev::StartRequested{});
  } else if (gate.verdict == GateVerdict::Blocked) {
    Log::write(LogLevel::Error, "not started: " + gate.reason, svc_fields(svc.cfg.name, 0, Code::ServiceDependencyFailed));
  } else if (!was_waiting || old_reason != gate.reason) {
    Log::write(LogLevel::Info, gate.reason, svc_fields(svc.cfg.name));
  }
}

// Re-ask every waiting service after any state change; nothing polls.
void Supervisor::regate() {
  for (auto& s : services_)
    if (s->waiting) request_start(*s);
}

// Shutdown in reverse dependency order: a service gets its stop request
// once every service that depends on it has no process left.
void Supervisor::stop_in_dependency_order() {
  for (ServiceRuntime* s : stop_sequence_) {
    if (s->stop_sent) continue;
    bool dependents_down = std::none_of(s->dependents.begin(), s->dependents.end(),
                                        [](ServiceRuntime* d) { return d->state.pid > 0 || d->pending_exit; });
    if (!dependents_down) continue;
    s->stop_sent = true;
    dispatch(*s, ev::StopRequested{});
  }
}

void Supervisor::stop_loop() {
  loop_stopped_ = true;
  uv_timer_stop(shutdown_timer_.get());
  for (auto& s : services_) {
    uv_timer_stop(s->timer.get());
    uv_timer_stop(s->drain_timer.get());
    flush_service_file(*s);
  }
  if (control_) control_->close();
  if (watcher_) watcher_->stop();
  if (notify_) notify_->close();
  uv_timer_stop(sample_timer_.get());
  uv_stop(&loop_);
}

int run_supervisor(Config cfg) {
  // Lock first, while errors still go to the terminal: a second instance
  // must say so on stderr, not in the first one's log file.
  auto lock = PidLock::acquire(cfg.pid_file);
  if (!lock.ok()) {
    fmt::print(stderr, "{}\n", lock.error().format());
    return 2;
  }
  if (auto r = Log::setup(cfg.logging); !r.ok()) {
    fmt::print(stderr, "{}\n", r.error().format());
    return 2;
  }
  Supervisor sup(std::move(cfg), std::move(lock.value()));
  return sup.run();
}

}  // namespace procd
