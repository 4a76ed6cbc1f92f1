// A libuv timer bound to one callback: schedule(delay) arms it (re-arming
// replaces the previous deadline, so extending a deadline is just another
// schedule), cancel() disarms it, is_active() tells. It exists so no code
// calls uv_timer_start/uv_timer_again inline: uv_timer_again does nothing
// on a timer without a repeat value, which is how 0.1's watchdog and the
// control socket's idle deadline never moved.
//
// Lifetime: the uv handle and the callback live in one heap box that is
// freed in the close callback, never before; Timer itself is move-only and
// may be destroyed from inside its own callback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <utility>

namespace procd {

class Timer {
 public:
  using Callback = std::function<void()>;

  Timer() = default;
  Timer(uv_loop_t* loop, Callback cb) { init(loop, std::move(cb)); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  Timer(Timer&& o) noexcept : box_(std::exchange(o.box_, nullptr)) {}
  Timer& operator=(Timer&& o) noexcept {
    if (this != &o) {
      close();
      box_ = std::exchange(o.box_, nullptr);
    }
    return *this;
  }
  ~Timer() { close(); }

  // Bind to a loop and a callback (closing any previous handle).
  void init(uv_loop_t* loop, Callback cb) {
    close();
    box_ = new Box{};
    box_->cb = std::move(cb);
    uv_timer_init(loop, &box_->handle);
    box_->handle.data = box_;
  }
  bool initialized() const { return box_ != nullptr; }

  // Fire once, `delay_ms` from the loop's current time; replaces any deadline.
  void schedule(std::int64_t delay_ms) { start(delay_ms, 0); }
  // Fire every `period_ms`, the first time one period from now.
  void schedule_repeating(std::int64_t period_ms) { start(period_ms, period_ms); }
  void cancel() {
    if (box_) uv_timer_stop(&box_->handle);
  }
  bool is_active() const { return box_ && uv_is_active(reinterpret_cast<const uv_handle_t*>(&box_->handle)); }
  // Milliseconds until it fires; -1 when not armed.
  std::int64_t due_in() const {
    if (!is_active()) return -1;
    return static_cast<std::int64_t>(uv_timer_get_due_in(&box_->handle));
  }

  void close() {
    if (!box_) return;
    Box* b = std::exchange(box_, nullptr);
    auto* h = reinterpret_cast<uv_handle_t*>(&b->handle);
    b->cb = nullptr;  // nothing may fire through a closing timer
    if (!uv_is_closing(h)) uv_close(h, [](uv_handle_t* x) { delete static_cast<Box*>(x->data); });
  }

 private:
  struct Box {
    uv_timer_t handle{};
    Callback cb;
  };

  void start(std::int64_t delay_ms, std::int64_t repeat_ms) {
    if (!box_) return;
    // At least 1 ms: libuv 1.44 runs, in the same pass, a timer that its own
    // callback re-armed for 0 ms (the loop's time is not updated between
    // them), so a restart at 0 ms whose spawn fails at once would never let
    // the loop poll again (SIGTERM and the control socket unserved).
    auto clamp = [](std::int64_t v, std::int64_t least) { return static_cast<std::uint64_t>(v < least ? least : v); };
    uv_timer_start(
        &box_->handle,
        [](uv_timer_t* t) {
          auto* b = static_cast<Box*>(t->data);
          if (b->cb) {
            Callback cb = b->cb;  // the callback may close or re-bind this timer
            cb();
          }
        },
        clamp(delay_ms, 1), clamp(repeat_ms, 0));
  }

  Box* box_ = nullptr;
};

}  // namespace procd
