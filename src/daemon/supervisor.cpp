// The Supervisor loop: lock, signals, reaping, dispatch into the pure
// service machines, and the settle step. See supervisor.hpp for the
// invariants; in short, callbacks only produce events, and the set of
// services changes only in settle(), after the callback.
#include "procd/supervisor.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "procd/logging.hpp"
#include "procd/signal_names.hpp"
#include "procd/supervision_rules.hpp"

extern char** environ;

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

Supervisor::Supervisor(Config cfg, PidLock lock, SystemCalls& sys)
    : cfg_(std::move(cfg)), sys_(sys), lock_(std::move(lock)) {
  uv_loop_init(&loop_);
  // A simulated system owns time: every Timer on this loop is its (timer.hpp).
  if (TimerHost* host = sys_.timer_host()) register_timer_host(&loop_, host);
  for (char** e = environ; e && *e; ++e) base_env_.emplace_back(*e);
  for (const auto& sc : cfg_.services) services_.push_back(make_runner(sc));
}

Supervisor::~Supervisor() {
  // Close every handle, let libuv run the close callbacks, then the loop.
  services_.clear();  // each runner closes its timer, pipes and health checker
  notify_.reset();
  manager_watchdog_.close();
  signals_.clear();
  ladder_timer_.close();
  before_poll_.close();
  after_poll_.close();
  sample_timer_.close();
  control_.reset();
  http_.reset();
  http_retired_.reset();
  watcher_.reset();
  Log::detach();
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0) Log::write(LogLevel::Debug, "event loop closed with handles still open");
  if (sys_.timer_host()) register_timer_host(&loop_, nullptr);
  Log::flush();
}

// Handlers for every signal that would otherwise end procd and every
// forwarded one (watched_signals); a reload that drops the forward of a
// harmless signal (WINCH, CONT...) uninstalls its handler (default again).
void Supervisor::install_signals() {
  ::signal(SIGPIPE, SIG_IGN);  // a closed reader must be an EPIPE, not procd's death
  auto change = signal_watch_change(installed_, watched_signals(cfg_.signals));
  for (int signum : change.uninstall) {
    auto at = std::find(installed_.begin(), installed_.end(), signum) - installed_.begin();
    signals_.erase(signals_.begin() + at);  // UvSignal's close stops the watcher
    installed_.erase(installed_.begin() + at);
    Log::write(LogLevel::Debug, fmt::format("no longer watching {}", signal_name(signum)));
  }
  for (int signum : change.install) {
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
  if (auto code = start()) return *code;
  uv_run(&loop_, UV_RUN_DEFAULT);
  return finish();
}

std::optional<int> Supervisor::start() {
  if (auto r = sys_.become_subreaper(); !r.ok()) Log::write(LogLevel::Warn, r.error().message, code_fields(r.error().code));
  setup_cgroups();
  started_at_ = now();
  // The one exit for a startup failure after the cgroup setup: the subtree
  // procd just made goes with it (add any later startup step before this).
  if (auto r = open_endpoints(); !r.ok()) {
    fmt::print(stderr, "{}\n", r.error().format());
    Log::error(r.error());
    teardown_cgroups();
    return 2;
  }
  install_signals();
  for (const auto& w : cfg_.warnings) Log::write(LogLevel::Warn, format_warning(w), code_fields(w.code));
  // The hash of every file the config was read from (0 when the Config was built in memory).
  applied_hash_ = cfg_.content_hash;
  if (cfg_.hot_reload) {
    watcher_ = std::make_unique<ConfigWatcher>(&loop_, [this] { reload("file change", true); });
    watch_config_files();
  }
  sample_timer_.init(&loop_, [this] { sample_resources(); });
  ladder_timer_.init(&loop_, [this] { on_ladder_deadline(); });
  // settle() after every batch of callbacks; log lines flushed before sleeping
  // (and settle() again: a drained log resumes the services held back).
  // Neither handle keeps the loop alive, and neither wakes it.
  Log::attach(&loop_, [this] {
    log_drained_ = true;
    dirty_ = true;
  });
  before_poll_.reset(this);
  uv_prepare_init(&loop_, before_poll_.get());
  uv_prepare_start(before_poll_.get(), [](uv_prepare_t* h) {
    owner_of<Supervisor>(h)->census_.reset();
    owner_of<Supervisor>(h)->settle();
    Log::flush();
    owner_of<Supervisor>(h)->settle();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(before_poll_.get()));
  after_poll_.reset(this);
  uv_check_init(&loop_, after_poll_.get());
  uv_check_start(after_poll_.get(), [](uv_check_t* h) {
    owner_of<Supervisor>(h)->census_.reset();
    owner_of<Supervisor>(h)->settle();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(after_poll_.get()));

  for (auto& s : services_) open_files(*s);

  Log::write(LogLevel::Info, fmt::format("procd starting \"{}\": {} services, pid {}, config {}", cfg_.name,
                                         services_.size(), ::getpid(), cfg_.path));
  rebuild_index();
  for (const auto& name : graph_.start_order())
    if (ServiceRunner* s = find(name); s && s->cfg.autostart) request_start(*s);
  manager_start();
  settle();
  return std::nullopt;
}

int Supervisor::finish() {
  teardown_cgroups();
  Log::write(LogLevel::Info, fmt::format("procd \"{}\" exiting with code {}", cfg_.name, exit_code_));
  lock_.release();
  return exit_code_;
}

// The control socket, then the HTTP endpoint; after a failure neither is open.
Result<void> Supervisor::open_endpoints() {
  control_ = std::make_unique<ControlServer>(&loop_, [this](ControlConnection& c, Request r) { handle_request(c, std::move(r)); });
  if (auto r = control_->listen(cfg_.control); !r.ok()) {
    control_.reset();
    return r;
  }
  if (auto r = start_http(); !r.ok()) {
    control_->close();
    control_.reset();
    return r;
  }
  return {};
}

void Supervisor::dispatch(ServiceRunner& svc, Event event) {
  queue_.emplace_back(&svc, std::move(event));
  dirty_ = true;
  if (dispatching_) return;  // the outer call drains the queue in order
  dispatching_ = true;
  while (!queue_.empty()) {
    auto [s, e] = std::move(queue_.front());
    queue_.pop_front();
    auto result = step(s->state, e, now(), s->spec);
    s->state = std::move(result.state);
    for (const auto& a : result.actions) perform(*s, a);
    rearm(*s);
  }
  dispatching_ = false;
}

void Supervisor::perform(ServiceRunner& svc, const Action& action) {
  std::visit(
      [&](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, act::Spawn>) {
          spawn(svc);
        } else if constexpr (std::is_same_v<A, act::Signal>) {
          signal_run(svc, a.sig);
        } else if constexpr (std::is_same_v<A, act::ArmTimer> || std::is_same_v<A, act::CancelTimer>) {
          // The deadline is in the state; rearm() after the step arms the one timer.
        } else if constexpr (std::is_same_v<A, act::Publish>) {
          publish(svc, a.phase);
        } else if constexpr (std::is_same_v<A, act::Log>) {
          Log::write(to_log_level(a.level), a.message, svc_fields(svc.cfg.name, svc.state.pid, a.code));
        }
      },
      action);
}

void Supervisor::publish(ServiceRunner& svc, Phase phase) {
  Log::write(LogLevel::Info, fmt::format("state {}", phase_name(phase)), svc_fields(svc.cfg.name, svc.state.pid));
  observe_phase(svc, phase);
  publish_event(svc, phase);
  on_phase(svc, phase);
  if (phase == Phase::Failed && svc.cfg.critical && !ladder_.active()) {
    critical_exit_ = svc.state.last_exit ? exit_code_of(*svc.state.last_exit) : 1;
    int code = shutdown_exit_code(false, critical_exit_);
    Log::write(LogLevel::Error, fmt::format("critical service failed for good; shutting down with code {}", code),
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
      if (!ladder_.active()) return begin_shutdown(ShutdownReason::Signal, signum);
      // A second request while shutting down: skip the graceful wait.
      if (auto move = ladder_.escalate(now()))
        climb(*move, fmt::format("shutdown escalated (reason: {}, {} again)", shutdown_reason_name(ShutdownReason::Forced),
                                 signal_name(signum)));
      return;
    case SIGHUP:
      if (cfg_.signals.sighup == SighupAction::Forward) forward_signal(signum);
      else if (cfg_.signals.sighup == SighupAction::Reload) reload("SIGHUP", false);
      else Log::write(LogLevel::Info, "ignored signal SIGHUP ([signals].sighup = \"ignore\")");
      return;
    default: break;
  }
  bool forwarded = std::find(cfg_.signals.forward.begin(), cfg_.signals.forward.end(), signum) != cfg_.signals.forward.end();
  if (forwarded) {
    forward_signal(signum);
  } else if (signum == SIGUSR1) {
    Log::write(LogLevel::Info, "SIGUSR1: reopening log files");
    if (auto r = Log::reopen(); !r.ok()) Log::error(r.error());
    for (auto& s : services_) {
      flush_service_file(*s);
      for (ServiceFile* f : {&s->out_file, &s->err_file})
        if (*f)
          if (auto r = f->file->reopen(); !r.ok()) Log::error(r.error(), svc_fields(s->cfg.name));
    }
  } else {
    // Watched only so that it cannot end procd (and orphan the services).
    Log::write(LogLevel::Info, fmt::format("ignored signal {}", signal_name(signum)));
  }
}

void Supervisor::forward_signal(int signum) {
  for (auto& s : services_)
    if (s->state.pid > 0) signal_run(*s, signum);
  Log::write(LogLevel::Debug, fmt::format("forwarded {} to services", signal_name(signum)));
}

void Supervisor::on_sigchld() {
  std::vector<ServiceRunner*> exited;
  bool orphans = false;
  while (auto r = sys_.reap_one()) {
    census_.reset();  // the process table changed
    if (auto w = child_watchers_.find(r->pid); w != child_watchers_.end()) {
      auto cb = std::move(w->second);
      child_watchers_.erase(w);
      cb(r->code, r->signal);
      continue;
    }
    auto it = by_pid_.find(r->pid);
    if (it == by_pid_.end()) {
      Log::write(LogLevel::Debug, fmt::format("reaped orphan {} (code {}, signal {})", r->pid, r->code, r->signal));
      orphans = true;
      continue;
    }
    it->second->drain.exited(ExitStatus{r->code, r->signal});
    exited.push_back(it->second);
    by_pid_.erase(it);
  }
  // Only now, with every exited child reaped (orphans of a run are zombies
  // in its group until then), judge what changed: the runs whose leader
  // exited, and, when an orphan (a leftover of some run's group: whose is
  // not known once reaped) was reaped, every draining run. One census
  // answers them all. Judging dispatches events but never changes services_.
  if (orphans) {
    for (auto& s : services_)
      if (s->drain.exit_pending()) judge_drain(*s);
    return;
  }
  for (ServiceRunner* s : exited)
    if (s->drain.exit_pending()) judge_drain(*s);
}

// The one place the set of services and the shutdown progress change.
// Runs with no loop over services in progress; repeats while its own work
// (a start, a stop) changed something else.
void Supervisor::settle() {
  if (settling_ || loop_stopped_) return;
  settling_ = true;
  if (log_drained_) resume_log_output();
  for (int round = 0; dirty_ && round < 64 && !loop_stopped_; ++round) {
    dirty_ = false;
    add_pending();
    regate();
    if (ladder_.active()) advance_shutdown();
    if (loop_stopped_) break;
    forget_removed();
    manager_update();
    update_sampling();
  }
  settling_ = false;
}

ServiceRunner* Supervisor::find(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

// Name index, dependency graph, stop sequence and dependents lists, after
// the set of services changed (start, reload, removal).
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
      if (ServiceRunner* d = find(dep.service)) d->dependents.push_back(s.get());
  graph_ = DepGraph::from_services(configs);
  stop_sequence_.clear();
  for (const auto& name : graph_.stop_order())
    if (ServiceRunner* s = find(name)) stop_sequence_.push_back(s);
  std::unordered_map<const ServiceRunner*, std::size_t> position;
  for (std::size_t i = 0; i < stop_sequence_.size(); ++i) position[stop_sequence_[i]] = i;
  stop_dependents_.assign(stop_sequence_.size(), {});
  for (std::size_t i = 0; i < stop_sequence_.size(); ++i)
    for (const ServiceRunner* d : stop_sequence_[i]->dependents)
      if (auto it = position.find(d); it != position.end()) stop_dependents_[i].push_back(it->second);
}

void Supervisor::stop_loop() {
  loop_stopped_ = true;
  ladder_timer_.cancel();
  for (auto& s : services_) {
    s->timer.cancel();
    flush_service_file(*s);
  }
  if (control_) control_->close();
  if (watcher_) watcher_->stop();
  if (notify_) notify_->close();
  sample_timer_.cancel();
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
