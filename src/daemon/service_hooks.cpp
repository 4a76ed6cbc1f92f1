// A service's hooks at the edge (service_hooks.hpp; what they mean:
// procd/hooks.hpp): spawned through SystemCalls with the service's own
// request (user, limits, working_dir, cgroup, env + env_file + PROCD_*),
// reaped through the ChildReaper, bounded on the service's one timer, their
// output put through the service's output path (service_output.cpp: its
// ring as hook lines, "stream":"hook", `* ` in `procd logs`, and its log
// file or procd's own log, with the same back-pressure and bounds). A hook is killed when its run is
// stopped for good (SIGKILL of the service, the service destroyed), so none
// outlives its service.
#include "service_hooks.hpp"

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include "procd/logging.hpp"
#include "procd/service.hpp"
#include "procd/service_request.hpp"

namespace procd {
namespace {

char g_hook_buf[64 * 1024];

void hook_alloc(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(g_hook_buf, sizeof g_hook_buf); }

void hook_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (auto* ref = static_cast<HookPipeRef*>(stream->data)) ref->svc->on_hook_read(*ref, nread, buf->base);
}

}  // namespace

bool Service::hooks_running() const { return hooks_ && hooks_->running(); }

int Service::hook_pid(HookKind kind) const { return hooks_ ? hooks_->slot(kind).pid : 0; }

bool Service::idle() const { return !has_process() && state_.pid <= 0 && !hooks_running(); }

void Service::run_hook(HookKind kind, const HookVars& vars, std::function<void(const HookVerdict&)> done) {
  if (!hooks_) hooks_ = std::make_unique<HookRun>();
  HookSlot& slot = hooks_->slot(kind);
  if (slot.pid > 0) kill_hook(kind);  // never two of a kind (its reap is then ignored)
  const Millis timeout = hook_timeout(kind, spec_.start_timeout_ms, spec_.stop_timeout_ms);
  auto fail = [&](const std::string& why) {
    HookVerdict v = judge_hook(kind, HookEnd{0, 0, false, why}, timeout);
    Log::write(LogLevel::Warn, v.reason, svc_fields(cfg_->name, 0, Code::ServiceHookFailed));
    tell(v.reason);
    done(v);
  };
  auto env = build_service_env(*cfg_, host_.base_env());
  if (!env.ok()) return fail(env.error().message);
  add_hook_env(env.value(), kind, vars);
  if (kind == HookKind::PreStart) ensure_cgroup();
  SpawnRequest req = service_spawn_request(*cfg_, host_.config().dir, cgroup_, std::move(env.value()));
  req.argv = hook_argv(*cfg_, kind);
  req.stdio = SpawnStdio::Pipes;
  req.group = SpawnGroup::NewSession;
  req.merge_stderr = false;
  auto proc = host_.sys().spawn(req);
  if (!proc.ok()) return fail(proc.error().message);
  slot.pid = proc->pid;
  slot.timeout_ms = timeout;
  slot.due = host_.now() + timeout;
  slot.timed_out = false;
  slot.mainpid = vars.mainpid;
  slot.done = std::move(done);
  const std::uint64_t gen = ++slot.gen;
  slot.out_split = LineSplitter();
  slot.err_split = LineSplitter();
  slot.out_ref = HookPipeRef{this, kind, false};
  slot.err_ref = HookPipeRef{this, kind, true};
  for (auto [fd, pipe, ref] : {std::tuple{proc->stdout_fd, &slot.out, &slot.out_ref},
                               std::tuple{proc->stderr_fd, &slot.err, &slot.err_ref}}) {
    if (fd < 0) continue;
    pipe->reset(ref);
    uv_pipe_init(host_.loop(), pipe->get(), 0);
    if (uv_pipe_open(pipe->get(), fd) != 0) {
      ::close(fd);
      pipe->close();
      continue;
    }
    if (may_read()) uv_read_start(reinterpret_cast<uv_stream_t*>(pipe->get()), hook_alloc, hook_read);
  }
  std::weak_ptr<int> token = hooks_->alive;
  host_.reaper().watch_child(proc->pid, [this, token, kind, gen](int code, int sig) {
    if (token.expired()) return;
    on_hook_exit(kind, gen, code, sig);
  });
  tell(fmt::format("{} started (pid {})", hook_name(kind), proc->pid));
  rearm();
}

void Service::on_hook_read(const HookPipeRef& ref, ssize_t nread, const char* data) {
  HookSlot& slot = hooks_->slot(ref.kind);
  LineSplitter& split = ref.is_stderr ? slot.err_split : slot.out_split;
  if (nread > 0) return put_lines(split, ref.is_stderr, std::string_view(data, static_cast<std::size_t>(nread)),
                                  hook_name(ref.kind));
  if (nread < 0) {  // a last line without '\n' is ended through the same path
    if (split.has_partial()) put_lines(split, ref.is_stderr, "\n", hook_name(ref.kind));
    (ref.is_stderr ? slot.err : slot.out).close();
  }
}

// Hook pipes are read only while the service's output destination takes
// lines (may_read): a hook flooding output blocks in write(2) as the run does.
void Service::hooks_reading(bool want) {
  if (!hooks_) return;
  for (auto& slot : hooks_->slots)
    for (UvPipe* pipe : {&slot.out, &slot.err}) {
      if (!*pipe) continue;
      auto* stream = reinterpret_cast<uv_stream_t*>(pipe->get());
      if (want) uv_read_start(stream, hook_alloc, hook_read);  // UV_EALREADY when it reads already
      else uv_read_stop(stream);
    }
}

void Service::on_hook_exit(HookKind kind, std::uint64_t gen, int code, int sig) {
  HookSlot& slot = hooks_->slot(kind);
  if (slot.gen != gen || slot.pid <= 0) return;
  slot.pid = 0;
  slot.due = 0;
  // What the pipes hold now is read; a grandchild keeping them open is not waited for.
  for (auto [pipe, ref] : {std::pair{&slot.out, &slot.out_ref}, std::pair{&slot.err, &slot.err_ref}}) {
    if (!*pipe) continue;
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(pipe->get()), &fd) == 0)
      for (int i = 0; i < 64; ++i) {
        ssize_t n = ::read(fd, g_hook_buf, sizeof g_hook_buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        on_hook_read(*ref, n, g_hook_buf);
      }
    if (*pipe) on_hook_read(*ref, UV_EOF, nullptr);
  }
  HookVerdict v = judge_hook(kind, HookEnd{code, sig, slot.timed_out, ""}, slot.timeout_ms);
  if (!v.ok) Log::write(LogLevel::Warn, v.reason, svc_fields(cfg_->name, 0, Code::ServiceHookFailed));
  tell(v.reason);
  auto done = std::move(slot.done);
  slot.done = nullptr;
  rearm();
  if (done) done(v);
}

// Killed: its reap still comes (and ends it), but nothing waits on it any more.
void Service::kill_hook(HookKind kind) {
  if (!hooks_) return;
  HookSlot& slot = hooks_->slot(kind);
  if (slot.pid <= 0) return;
  host_.sys().signal_group(slot.pid, SIGKILL);  // not reaped yet: the group id is still ours
  slot.due = 0;
}

void Service::kill_hooks() {
  for (int k = 0; k < kHookKinds; ++k) kill_hook(static_cast<HookKind>(k));
}

Millis Service::hooks_deadline() const {
  Millis due = 0;
  if (hooks_)
    for (const auto& s : hooks_->slots)
      if (s.pid > 0 && s.due > 0 && (due == 0 || s.due < due)) due = s.due;
  return due;
}

void Service::hooks_timer(Millis t) {
  if (!hooks_) return;
  for (int k = 0; k < kHookKinds; ++k) {
    HookSlot& slot = hooks_->slot(static_cast<HookKind>(k));
    if (slot.pid <= 0 || slot.due == 0 || t < slot.due) continue;
    slot.timed_out = true;
    kill_hook(static_cast<HookKind>(k));
  }
}

// The machine's stop signal: stop_command runs instead, once per stop, while
// the main process lives (PROCD_MAINPID). The stop timeout still applies.
bool Service::stop_by_command() {
  if (!has_hook(*cfg_, HookKind::StopCommand) || state_.kill_sent || state_.phase != Phase::Stopping) return false;
  if (!has_process() || state_.pid <= 0) return true;  // nothing to stop: no signal either
  // This run's stop_command runs already; one an earlier run's end killed (not reaped yet) is not it.
  if (hooks_ && hooks_->slot(HookKind::StopCommand).pid > 0 && hooks_->slot(HookKind::StopCommand).mainpid == state_.pid)
    return true;
  run_hook(HookKind::StopCommand, HookVars{state_.pid, std::nullopt, false}, [](const HookVerdict&) {});
  return hook_pid(HookKind::StopCommand) > 0;  // it could not be spawned: the stop signal goes instead
}

// The run is over (exit seen, output drained): a stop_command still running
// goes; post_stop runs; only then does the machine hear of the exit, so a
// restart waits for post_stop.
void Service::run_over(const ExitStatus& status) {
  kill_hook(HookKind::StopCommand);
  if (!has_hook(*cfg_, HookKind::PostStop)) return host_.dispatch(*this, ev::Exited{status});
  run_hook(HookKind::PostStop, HookVars{0, status, true},
           [this, status](const HookVerdict&) { host_.dispatch(*this, ev::Exited{status}); });
}

Result<ReloadWay> Service::reload() {
  ReloadWay way = reload_way(*cfg_);
  if (way == ReloadWay::Restart) return way;
  const bool up = (state_.phase == Phase::Running || state_.phase == Phase::Starting) && state_.pid > 0 && has_process();
  if (!up)
    return make_error(Code::ServiceReloadFailed,
                      fmt::format("service \"{}\" is {}: nothing to reload", cfg_->name, phase_name(state_.phase)));
  if (way == ReloadWay::Signal) {
    tell(fmt::format("reload: sending signal {}", cfg_->reload_signal));
    signal(cfg_->reload_signal);
    return way;
  }
  if (!hooks_) hooks_ = std::make_unique<HookRun>();
  ++hooks_->reload_seq;
  hooks_->reload_state = "running";
  hooks_->reload_reason.clear();
  run_hook(HookKind::Reload, HookVars{state_.pid, std::nullopt, false}, [this](const HookVerdict& v) {
    hooks_->reload_state = v.ok ? "ok" : "failed";
    hooks_->reload_reason = v.reason;
  });
  return way;
}

}  // namespace procd
