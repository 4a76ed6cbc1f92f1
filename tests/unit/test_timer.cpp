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

// A restart at 0 ms whose spawn fails at once re-arms the service's timer
// for 0 ms from inside its callback: libuv 1.44 would run it again in the
// same pass for ever, and the loop would never poll (signals, sockets).
TEST_CASE("Timer: re-armed for 0 ms from its own callback, it fires on a later loop turn") {
  TestLoop tl;
  int fired = 0, turns = 0;
  Timer t(&tl.loop, [&] {
    if (++fired < 20) t.schedule(0);
  });
  uv_check_t check;
  uv_check_init(&tl.loop, &check);
  check.data = &turns;
  uv_check_start(&check, [](uv_check_t* h) { ++*static_cast<int*>(h->data); });
  Timer guard(&tl.loop, [] {});  // so the one turn below never blocks for ever
  guard.schedule(500);
  t.schedule(0);
  // One turn: libuv's UV_RUN_ONCE runs due timers before its poll and again
  // after it (a poll of 1 ms or more on a busy machine makes it due again:
  // 2, seen under ASan in a cold rehearsal). Re-run in the same pass, it
  // would have fired all 20 times here.
  uv_run(&tl.loop, UV_RUN_ONCE);
  CHECK(fired <= 2);
  CHECK(tl.run_until([&] { return fired >= 20; }, 2000));
  CHECK(turns >= 19);
  uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr);
}
