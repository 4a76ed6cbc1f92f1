// The Supervisor loop: lock, signals, reaping, dispatch into the pure
// service machines, and the settle step. See supervisor.hpp for the
// invariants; in short, callbacks only produce events, and the set of
// services changes only in settle(), after the callback.
#include "procd/supervisor.hpp"

#include "rolling_restart.hpp"
#include "service_host.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "procd/logging.hpp"
#include "procd/self_stats.hpp"
#include "procd/signal_names.hpp"
#include "procd/supervision_rules.hpp"

namespace procd {

Supervisor::Supervisor(Config cfg, PidLock lock, SystemCalls& sys)
    : cfg_(std::move(cfg)), sys_(sys), lock_(std::move(lock)) {
  uv_loop_init(&loop_);
  // A simulated system owns time: every Timer on this loop is its (timer.hpp).
  if (TimerHost* host = sys_.timer_host()) register_timer_host(&loop_, host);
  host_ = std::make_unique<Host>(*this);
  front_ = std::make_unique<FrontEnds>(*this);
  rolls_ = std::make_unique<Rolls>(*this);
  for (const auto& sc : cfg_.services) services_.push_back(std::make_unique<Service>(*host_, sc));
}

Supervisor::~Supervisor() {
  // Close every handle, let libuv run the close callbacks, then the loop.
  rolls_.reset();  // their timers
  services_.clear();  // each service closes its timer, pipes and health checker
  host_.reset();      // the notify socket
  manager_.close();
  signals_.clear();
  ladder_timer_.close();
  before_poll_.close();
  after_poll_.close();
  front_.reset();
  watcher_.reset();
  Log::detach();
  // A uv_stop() made outside uv_run (a driver calling handle_signal between
  // turns: tests/sim) leaves the stop flag set, and a run would return at
  // once with every close callback pending: this turn clears it.
  uv_run(&loop_, UV_RUN_NOWAIT);
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
        h.get(), [](uv_signal_t* x, int n) { owner_of<Supervisor>(x)->handle_signal(n); }, signum);
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
  host_->setup_cgroups();
  // The one exit for a startup failure after the cgroup setup: the subtree
  // procd just made goes with it (add any later startup step before this).
  if (auto r = front_->open(); !r.ok()) {
    fmt::print(stderr, "{}\n", r.error().format());
    Log::error(r.error());
    host_->teardown_cgroups();
    return 2;
  }
  install_signals();
  for (const auto& w : cfg_.warnings) Log::write(LogLevel::Warn, format_warning(w), code_fields(w.code));
  // The hash of every file the config was read from (0 when the Config was built in memory).
  applied_hash_ = cfg_.content_hash;
  if (cfg_.hot_reload) {
    watcher_ = std::make_unique<ConfigWatcher>(
        &loop_, [this](bool before_watch) { reload(before_watch ? "file changed before its watch" : "file change", true); });
    watch_config_files(cfg_.read_at_ns);  // a change since the config was read is checked at once
  }
  ladder_timer_.init(&loop_, [this] { climb(ladder_.advance(now()), "graceful shutdown timed out"); });
  // settle() after every batch of callbacks; log lines flushed before sleeping
  // (and settle() again: a drained log resumes the services held back).
  // Neither handle keeps the loop alive, and neither wakes it.
  Log::attach(&loop_, [this] {
    host_->own_log_drained();
    dirty_ = true;
  });
  before_poll_.reset(this);
  uv_prepare_init(&loop_, before_poll_.get());
  uv_prepare_start(before_poll_.get(), [](uv_prepare_t* h) {
    owner_of<Supervisor>(h)->host_->forget_census();
    owner_of<Supervisor>(h)->settle();
    Log::flush();
    owner_of<Supervisor>(h)->settle();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(before_poll_.get()));
  after_poll_.reset(this);
  uv_check_init(&loop_, after_poll_.get());
  uv_check_start(after_poll_.get(), [](uv_check_t* h) {
    owner_of<Supervisor>(h)->host_->forget_census();
    owner_of<Supervisor>(h)->settle();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(after_poll_.get()));

  for (auto& s : services_) s->open_files();

  Log::write(LogLevel::Info, fmt::format("procd starting \"{}\": {} services, pid {}, config {}", cfg_.name,
                                         services_.size(), ::getpid(), cfg_.path));
  index_.rebuild(services_);
  for (const auto& name : index_.graph.start_order())
    if (Service* s = index_.find(name); s && s->config().autostart) start_service(*s, StartBy::Fleet);
  manager_.start(&loop_, settle_views());
  settle();
  release_free_heap();  // the config parse's peak is not kept in RSS
  return std::nullopt;
}

int Supervisor::finish() {
  host_->teardown_cgroups();
  Log::write(LogLevel::Info, fmt::format("procd \"{}\" exiting with code {}", cfg_.name, exit_code_));
  lock_.release();
  return exit_code_;
}

void Supervisor::dispatch(Service& svc, Event event) {
  queue_.emplace_back(&svc, std::move(event));
  dirty_ = true;
  if (dispatching_) return;  // the outer call drains the queue in order
  dispatching_ = true;
  while (!queue_.empty()) {
    auto [s, e] = std::move(queue_.front());
    queue_.pop_front();
    s->handle(e);
  }
  dispatching_ = false;
}

// A phase a service's machine published (the Service then does its own part).
void Supervisor::publish(Service& svc, Phase phase) {
  Log::write(LogLevel::Info, fmt::format("state {}", phase_name(phase)), svc_fields(svc.name(), svc.state().pid));
  if (phase == Phase::Stopping)
    Log::write(LogLevel::Info, fmt::format("stopping {}: {}", svc.name(), stop_reason_name(svc.state().stop_reason())),
               svc_fields(svc.name(), svc.state().pid));
  svc.observe_phase(now(), phase);
  front_->publish_event(svc, phase);
  main_ended(svc, phase);
  rolls_->on_phase(svc, phase);
  dependency_down(svc, phase);
  if (phase == Phase::Failed && svc.config().critical && !ladder_.active()) {
    critical_exit_ = svc.state().last_exit ? exit_code_of(*svc.state().last_exit) : 1;
    int code = shutdown_exit_code(false, critical_exit_);
    Log::write(LogLevel::Error, fmt::format("critical service failed for good; shutting down with code {}", code),
               svc_fields(svc.name(), 0, Code::ShutdownCriticalFailed));
    begin_shutdown(ShutdownReason::Critical);
  }
}

void Supervisor::handle_signal(int signum) {
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
      if (cfg_.signals.sighup == SighupAction::Reload) return (void)reload("SIGHUP", false);
      if (cfg_.signals.sighup == SighupAction::Forward) break;
      return Log::write(LogLevel::Info, "ignored signal SIGHUP ([signals].sighup = \"ignore\")");
    default: break;
  }
  const auto& fwd = cfg_.signals.forward;
  if (signum == SIGHUP || std::find(fwd.begin(), fwd.end(), signum) != fwd.end()) {
    for (auto& s : services_)
      if (s->state().pid > 0) s->signal(signum);
    Log::write(LogLevel::Debug, fmt::format("forwarded {} to services", signal_name(signum)));
  } else if (signum == SIGUSR1) {
    Log::write(LogLevel::Info, "SIGUSR1: reopening log files");
    if (auto r = Log::reopen(); !r.ok()) Log::error(r.error());
    for (auto& s : services_) s->reopen_files();
  } else {
    // Watched only so that it cannot end procd (and orphan the services).
    Log::write(LogLevel::Info, fmt::format("ignored signal {}", signal_name(signum)));
  }
}

void Supervisor::notify_from(pid_t sender, const std::map<std::string, std::string>& fields) {
  host_->on_notify(sender, fields);
}

void Supervisor::on_sigchld() {
  std::vector<Service*> exited;
  bool orphans = false;
  while (auto r = sys_.reap_one()) {
    auto [svc, known] = host_->reaped(r->pid, r->code, r->signal);
    if (svc) exited.push_back(svc);
    if (known && !svc) dirty_ = true;  // a health command: the shutdown may have waited for it
    if (known) continue;
    Log::write(LogLevel::Debug, fmt::format("reaped orphan {} (code {}, signal {})", r->pid, r->code, r->signal));
    orphans = true;
  }
  // Only now, with every exited child reaped (orphans of a run are zombies
  // in its group until then), judge what changed: the runs whose leader
  // exited, and, when an orphan (a leftover of some run's group: whose is
  // not known once reaped) was reaped, every draining run. One census
  // answers them all. Judging dispatches events but never changes services_.
  if (orphans) {
    for (auto& s : services_) s->recheck_drain();
    return;
  }
  for (Service* s : exited) s->recheck_drain();
}

// The one place the set of services and the shutdown progress change.
// Runs with no loop over services in progress; repeats while its own work
// (a start, a stop) changed something else.
void Supervisor::settle() {
  if (settling_ || loop_stopped_) return;
  settling_ = true;
  host_->resume_own_log();
  for (int round = 0; dirty_ && round < 64 && !loop_stopped_; ++round) {
    dirty_ = false;
    add_pending();
    for (auto& s : services_) {  // starts that dependencies now allow, stops that dependents do
      if (s->intent().waiting) start_service(*s, StartBy::Reask);
      if (s->intent().held_stop != StopReason::None && !ladder_.active()) stop_service(*s, s->intent().held_stop);
    }
    if (ladder_.active()) advance_shutdown();
    if (loop_stopped_) break;
    forget_removed();
    if (rolls_->settle()) dirty_ = true;  // issue 28: start-first surges (rolling_surge.cpp)
    manager_.update(settle_views(), ladder_.active());
    front_->update_sampling();
  }
  settling_ = false;
}

void Supervisor::stop_loop() {
  loop_stopped_ = true;
  ladder_timer_.cancel();
  for (auto& s : services_) {
    s->stop_timer();
    s->flush_files();
  }
  front_->close();
  if (watcher_) watcher_->stop();
  host_->close_notify();
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
