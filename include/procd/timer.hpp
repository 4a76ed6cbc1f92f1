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
//
// Simulated time (tests only): a TimerHost registered for a loop
// (register_timer_host) owns every Timer initialised on that loop from
// then on — schedule, cancel, fire — so a simulator decides when time
// passes. In production the registry is empty: init() makes one pointer
// compare, and every timer is the uv handle described above.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <utility>

namespace procd {

namespace detail {
struct TimerBox;
}

// What a simulator implements to own the timers of a loop. An id is valid
// from its first schedule() until forget(); the host fires a due timer with
// TimerHost::fire(id), after re-arming it when it repeats.
class TimerHost {
 public:
  using Id = detail::TimerBox*;
  virtual ~TimerHost() = default;
  // Arm `id` delay_ms from the host's now, then every repeat_ms (0 = once); replaces its deadline.
  virtual void schedule(Id id, std::int64_t delay_ms, std::int64_t repeat_ms) = 0;
  virtual void cancel(Id id) = 0;
  virtual bool is_active(Id id) const = 0;
  virtual std::int64_t due_in(Id id) const = 0;  // -1 when not armed
  // The timer is closed: never fire it again.
  virtual void forget(Id id) = 0;
  // Runs the timer's callback (which may close or re-arm its own timer).
  static void fire(Id id);
};

// Tests only: Timers initialised on `loop` from now on are `host`'s;
// nullptr removes the registration. The host must outlive those timers.
void register_timer_host(uv_loop_t* loop, TimerHost* host);
TimerHost* timer_host_of(uv_loop_t* loop);  // nullptr: libuv's timers

namespace detail {
struct TimerBox {
  uv_timer_t handle{};          // unused when hosted
  std::function<void()> cb;
  TimerHost* host = nullptr;    // nullptr: the uv handle is the timer
};
}  // namespace detail

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
  void init(uv_loop_t* loop, Callback cb);
  bool initialized() const { return box_ != nullptr; }

  // Fire once, `delay_ms` from the loop's current time; replaces any deadline.
  void schedule(std::int64_t delay_ms) { start(delay_ms, 0); }
  // Fire every `period_ms`, the first time one period from now.
  void schedule_repeating(std::int64_t period_ms) { start(period_ms, period_ms); }
  void cancel();
  bool is_active() const;
  // Milliseconds until it fires; -1 when not armed.
  std::int64_t due_in() const;
  void close();

 private:
  using Box = detail::TimerBox;
  void start(std::int64_t delay_ms, std::int64_t repeat_ms);

  Box* box_ = nullptr;
};

}  // namespace procd
