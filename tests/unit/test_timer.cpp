// Timer: re-scheduling moves the deadline (the 0.1 watchdog trap), cancel
// disarms, and a timer may close itself from its own callback.
#include "procd/timer.hpp"

#include <memory>

#include "test_loop.hpp"

using procd::Timer;

TEST_CASE("Timer: schedule again pushes the deadline out") {
  TestLoop tl;
  int fired = 0;
  Timer deadline(&tl.loop, [&] { ++fired; });
  deadline.schedule(80);
  int pokes = 0;
  Timer poker(&tl.loop, [&] {
    ++pokes;
    deadline.schedule(80);  // like WATCHDOG=1: extend before it is due
  });
  poker.schedule_repeating(30);
  tl.run_until([&] { return fired > 0 || pokes >= 8; }, 2000);
  CHECK(pokes >= 8);
  CHECK(fired == 0);  // 8 pokes = 240 ms > 80 ms: only re-arming kept it quiet
  poker.cancel();
  CHECK(tl.run_until([&] { return fired > 0; }, 2000));
  CHECK(fired == 1);
}

TEST_CASE("Timer: cancel and is_active") {
  TestLoop tl;
  int fired = 0;
  Timer t(&tl.loop, [&] { ++fired; });
  CHECK_FALSE(t.is_active());
  t.schedule(10);
  CHECK(t.is_active());
  CHECK(t.due_in() <= 10);
  t.cancel();
  CHECK_FALSE(t.is_active());
  CHECK(t.due_in() == -1);
  Timer guard(&tl.loop, [] {});
  guard.schedule(50);
  tl.run_until([&] { return !guard.is_active(); }, 1000);
  CHECK(fired == 0);
}

TEST_CASE("Timer: closing itself from its callback is safe") {
  TestLoop tl;
  int fired = 0;
  auto t = std::make_unique<Timer>();
  t->init(&tl.loop, [&] {
    ++fired;
    t.reset();  // destroys the Timer while its callback runs
  });
  t->schedule(1);
  CHECK(tl.run_until([&] { return fired == 1; }, 1000));
  CHECK(t == nullptr);
}
