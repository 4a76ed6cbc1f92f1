// The simulated clock seam (timer.hpp's TimerHost): a Timer on a loop with
// a registered host fires only when the simulated clock reaches its
// deadline; re-scheduling replaces the deadline; cancel and close stop it;
// a callback may close its own timer; a loop without a host keeps libuv's
// timers.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "../sim/sim_clock.hpp"
#include "procd/timer.hpp"
#include "test_loop.hpp"

using procd::Timer;
using procd::sim::SimClock;

namespace {

// Registers a SimClock for a loop for the scope of one test.
struct Hosted {
  TestLoop tl;
  SimClock clock;
  Hosted() { procd::register_timer_host(&tl.loop, &clock); }
  ~Hosted() { procd::register_timer_host(&tl.loop, nullptr); }
  void run_until(std::int64_t t) {
    while (clock.fire_next(t)) {
    }
    clock.set_now(t);
  }
};

}  // namespace

TEST_CASE("TimerHost: a hosted timer fires only when the simulated clock reaches its deadline") {
  Hosted h;
  std::vector<std::int64_t> fired_at;
  Timer t(&h.tl.loop, [&] { fired_at.push_back(h.clock.now()); });
  std::int64_t t0 = h.clock.now();
  t.schedule(500);
  CHECK(t.is_active());
  CHECK(t.due_in() == 500);
  uv_run(&h.tl.loop, UV_RUN_NOWAIT);  // libuv knows nothing of it
  h.run_until(t0 + 499);
  CHECK(fired_at.empty());
  CHECK(t.due_in() == 1);
  h.run_until(t0 + 10000);
  REQUIRE(fired_at.size() == 1);
  CHECK(fired_at[0] == t0 + 500);
  CHECK_FALSE(t.is_active());
  CHECK(t.due_in() == -1);
}

TEST_CASE("TimerHost: scheduling again replaces the deadline; repeating timers re-arm") {
  Hosted h;
  int fired = 0, ticks = 0;
  std::int64_t t0 = h.clock.now();
  Timer t(&h.tl.loop, [&] { ++fired; });
  t.schedule(100);
  h.run_until(t0 + 50);
  t.schedule(100);  // now due at t0 + 150
  h.run_until(t0 + 149);
  CHECK(fired == 0);
  h.run_until(t0 + 150);
  CHECK(fired == 1);
  Timer tick(&h.tl.loop, [&] { ++ticks; });
  tick.schedule_repeating(30);
  h.run_until(t0 + 150 + 95);
  CHECK(ticks == 3);
  CHECK(tick.due_in() == 25);
  tick.cancel();
  h.run_until(t0 + 1000);
  CHECK(ticks == 3);
  CHECK(h.clock.armed() == 0);
}

TEST_CASE("TimerHost: cancel and close stop a hosted timer") {
  Hosted h;
  int fired = 0;
  Timer a(&h.tl.loop, [&] { ++fired; });
  auto b = std::make_unique<Timer>(&h.tl.loop, [&] { ++fired; });
  a.schedule(10);
  b->schedule(10);
  CHECK(h.clock.armed() == 2);
  a.cancel();
  b.reset();  // closed: the host forgets it
  CHECK(h.clock.armed() == 0);
  h.run_until(h.clock.now() + 100);
  CHECK(fired == 0);
  a.schedule(0);
  a.close();
  CHECK_FALSE(a.initialized());
  h.run_until(h.clock.now() + 100);
  CHECK(fired == 0);
}

TEST_CASE("TimerHost: a callback that closes its own timer, and one that closes another due at the same time") {
  Hosted h;
  int fired = 0;
  auto self = std::make_unique<Timer>();
  auto other = std::make_unique<Timer>(&h.tl.loop, [&] { ++fired; });
  self->init(&h.tl.loop, [&] {
    ++fired;
    self.reset();   // destroys the Timer while its callback runs
    other.reset();  // due at the same instant, never fires
  });
  self->schedule(5);
  other->schedule(5);
  h.run_until(h.clock.now() + 5);
  CHECK(fired == 1);
  CHECK(self == nullptr);
  CHECK(h.clock.armed() == 0);
}

TEST_CASE("TimerHost: a loop without a host keeps libuv's timers; a host sees only timers made after it came") {
  TestLoop tl;
  SimClock clock;
  int real = 0, hosted = 0;
  Timer before(&tl.loop, [&] { ++real; });
  procd::register_timer_host(&tl.loop, &clock);
  Timer during(&tl.loop, [&] { ++hosted; });
  procd::register_timer_host(&tl.loop, nullptr);
  CHECK(procd::timer_host_of(&tl.loop) == nullptr);
  before.schedule(1);
  during.schedule(1);
  CHECK(clock.armed() == 1);
  CHECK(tl.run_until([&] { return real == 1; }, 1000));
  CHECK(hosted == 0);
  while (clock.fire_next(clock.now() + 1)) {
  }
  CHECK(hosted == 1);
}
