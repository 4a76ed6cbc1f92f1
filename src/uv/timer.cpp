// Timer (timer.hpp): the libuv path, and the hosted path a simulator owns.
// Every method makes one choice on box_->host; the libuv path is the uv
// handle whose box is freed in its close callback, the hosted path a box
// freed at close (its callback runs from a copy, so a callback that closes
// its own timer is safe on both paths).
#include "procd/timer.hpp"

#include <algorithm>
#include <vector>

namespace procd {
namespace {

// Empty in production; a few entries in a simulator.
std::vector<std::pair<uv_loop_t*, TimerHost*>>* g_hosts = nullptr;

std::uint64_t clamp(std::int64_t v, std::int64_t least = 0) { return static_cast<std::uint64_t>(v < least ? least : v); }

void run_callback(detail::TimerBox* b) {
  if (!b->cb) return;
  Timer::Callback cb = b->cb;  // the callback may close or re-bind this timer
  cb();
}

}  // namespace

void register_timer_host(uv_loop_t* loop, TimerHost* host) {
  if (!g_hosts) g_hosts = new std::vector<std::pair<uv_loop_t*, TimerHost*>>();
  std::erase_if(*g_hosts, [loop](const auto& e) { return e.first == loop; });
  if (host) g_hosts->emplace_back(loop, host);
  if (g_hosts->empty()) {
    delete g_hosts;
    g_hosts = nullptr;
  }
}

TimerHost* timer_host_of(uv_loop_t* loop) {
  if (!g_hosts) return nullptr;
  auto it = std::find_if(g_hosts->begin(), g_hosts->end(), [loop](const auto& e) { return e.first == loop; });
  return it == g_hosts->end() ? nullptr : it->second;
}

void TimerHost::fire(Id id) { run_callback(id); }

void Timer::init(uv_loop_t* loop, Callback cb) {
  close();
  box_ = new Box{};
  box_->cb = std::move(cb);
  box_->host = timer_host_of(loop);
  if (box_->host) return;
  uv_timer_init(loop, &box_->handle);
  box_->handle.data = box_;
}

void Timer::start(std::int64_t delay_ms, std::int64_t repeat_ms) {
  if (!box_) return;
  // At least 1 ms, on the loop and on a simulated host alike: libuv 1.44
  // runs, in the same pass, a timer that its own callback re-armed for 0 ms
  // (the loop's time is not updated between them), so a restart at 0 ms
  // whose spawn fails at once would never let the loop poll again (SIGTERM
  // and the control socket unserved).
  if (box_->host) return box_->host->schedule(box_, static_cast<std::int64_t>(clamp(delay_ms, 1)),
                                              static_cast<std::int64_t>(clamp(repeat_ms)));
  uv_timer_start(
      &box_->handle, [](uv_timer_t* t) { run_callback(static_cast<Box*>(t->data)); }, clamp(delay_ms, 1),
      clamp(repeat_ms));
}

void Timer::cancel() {
  if (!box_) return;
  if (box_->host) return box_->host->cancel(box_);
  uv_timer_stop(&box_->handle);
}

bool Timer::is_active() const {
  if (!box_) return false;
  if (box_->host) return box_->host->is_active(box_);
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&box_->handle));
}

std::int64_t Timer::due_in() const {
  if (!is_active()) return -1;
  if (box_->host) return box_->host->due_in(box_);
  return static_cast<std::int64_t>(uv_timer_get_due_in(&box_->handle));
}

void Timer::close() {
  if (!box_) return;
  Box* b = std::exchange(box_, nullptr);
  b->cb = nullptr;  // nothing may fire through a closing timer
  if (b->host) {
    b->host->forget(b);
    delete b;
    return;
  }
  auto* h = reinterpret_cast<uv_handle_t*>(&b->handle);
  if (!uv_is_closing(h)) uv_close(h, [](uv_handle_t* x) { delete static_cast<Box*>(x->data); });
}

}  // namespace procd
