// A real libuv loop for the few unit tests of loop-driven code (health
// checks, the notify socket): run_until() spins it until a condition holds
// or a guard timer expires — bounded, and no sleeping.
#pragma once

#include <doctest/doctest.h>
#include <signal.h>
#include <uv.h>

#include <cstdint>
#include <functional>

struct TestLoop {
  uv_loop_t loop;
  TestLoop() {
    ::signal(SIGPIPE, SIG_IGN);  // as in procd: a vanished peer is EPIPE
    uv_loop_init(&loop);
  }
  ~TestLoop() {
    uv_run(&loop, UV_RUN_DEFAULT);  // let close callbacks free their handles
    CHECK(uv_loop_close(&loop) == 0);
  }
  bool run_until(const std::function<bool()>& done, std::uint64_t ms = 1000) {
    bool expired = false;
    auto* guard = new uv_timer_t;
    uv_timer_init(&loop, guard);
    guard->data = &expired;
    uv_timer_start(guard, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, ms, 0);
    while (!done() && !expired) uv_run(&loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(guard), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    return done();
  }
};
