// issue 28: the rolling restart's decisions (procd/rolling.hpp) on fake
// time: one at a time by default, each only after the previous new run is
// ready; max_unavailable at once; a failing or late new run stops the roll
// and leaves the rest alone.
#include <doctest/doctest.h>

#include "procd/rolling.hpp"

using namespace procd;

namespace {
using V = std::vector<std::string>;
RollObservation ready(std::uint64_t run) { return {RollSeen::Ready, run, {}}; }
RollObservation starting(std::uint64_t run) { return {RollSeen::NotReady, run, {}}; }
}  // namespace

TEST_CASE("roll: stop-first, one at a time, each after the previous new run is ready") {
  Roll r({"web@0", "web@1", "web@2"}, 1, 5000);
  std::vector<RollObservation> seen = {ready(10), ready(11), ready(12)};
  CHECK(r.step(0, seen) == V{"web@0"});
  CHECK(r.unavailable() == 1);
  CHECK(r.step(10, seen).empty());            // still the old run: not replaced
  seen[0] = starting(20);
  CHECK(r.step(20, seen).empty());            // new run, not ready yet
  seen[0] = ready(20);
  CHECK(r.step(30, seen) == V{"web@1"});
  seen[1] = ready(21);
  CHECK(r.step(40, seen) == V{"web@2"});
  CHECK(!r.done());
  seen[2] = ready(22);
  CHECK(r.step(50, seen).empty());
  CHECK(r.done());
  CHECK(r.unavailable() == 0);
}

TEST_CASE("roll: max_unavailable instances at once, never more") {
  Roll r({"a@0", "a@1", "a@2", "a@3"}, 2, 5000);
  std::vector<RollObservation> seen = {ready(1), ready(2), ready(3), ready(4)};
  CHECK(r.step(0, seen) == V{"a@0", "a@1"});
  CHECK(r.unavailable() == 2);
  seen[1] = ready(9);
  CHECK(r.step(1, seen) == V{"a@2"});
  CHECK(r.unavailable() == 2);
}

TEST_CASE("roll: a failing new run stops the roll; the rest are not touched") {
  Roll r({"w@0", "w@1", "w@2"}, 1, 5000);
  std::vector<RollObservation> seen = {ready(1), ready(2), ready(3)};
  CHECK(r.step(0, seen) == V{"w@0"});
  seen[0] = {RollSeen::Failed, 7, {}};
  CHECK(r.step(5, seen).empty());
  CHECK(r.failed());
  CHECK(r.reason().find("w@0 failed") != std::string::npos);
  seen[0] = ready(8);
  CHECK(r.step(6, seen).empty());  // stays stopped
}

TEST_CASE("roll: a new run not ready by the deadline stops the roll") {
  Roll r({"w@0", "w@1"}, 1, 1000);
  std::vector<RollObservation> seen = {ready(1), ready(2)};
  CHECK(r.step(0, seen) == V{"w@0"});
  CHECK(r.next_deadline() == 1000);
  seen[0] = starting(5);
  CHECK(r.step(999, seen).empty());
  CHECK(!r.failed());
  CHECK(r.step(1000, seen).empty());
  CHECK(r.failed());
  CHECK(r.reason().find("within 1000 ms") != std::string::npos);
}

TEST_CASE("roll: the old run failing before the restart shows is not the new run") {
  Roll r({"w@0"}, 1, 1000);
  std::vector<RollObservation> seen = {ready(1)};
  CHECK(r.step(0, seen) == V{"w@0"});
  seen[0] = {RollSeen::Failed, 1, {}};  // the old run, as it is stopped
  CHECK(r.step(1, seen).empty());
  CHECK(!r.failed());
  seen[0] = ready(2);
  r.step(2, seen);
  CHECK(r.done());
}

TEST_CASE("roll: what it is restarting and what waits; a deadline is a timeout, a failed run is not") {
  Roll r({"w@0", "w@1", "w@2"}, 1, 100);
  std::vector<RollObservation> seen = {ready(1), ready(2), ready(3)};
  CHECK(r.step(0, seen) == V{"w@0"});
  CHECK(r.restarting() == V{"w@0"});
  CHECK(r.pending() == V{"w@1", "w@2"});
  CHECK(r.step(100, seen).empty());
  CHECK(r.failed());
  CHECK(r.timed_out());
  Roll f({"w@0", "w@1"}, 1, 100);
  seen = {ready(1), ready(2)};
  CHECK(f.step(0, seen) == V{"w@0"});
  seen[0] = {RollSeen::Failed, 5, {}};
  CHECK(f.step(10, seen).empty());
  CHECK(f.failed());
  CHECK(!f.timed_out());
  CHECK(f.pending() == V{"w@1"});
}

TEST_CASE("roll: the stop's reason carries the instance's own reason") {
  Roll r({"w@0", "w@1"}, 1, 1000);
  std::vector<RollObservation> seen = {ready(1), ready(2)};
  CHECK(r.step(0, seen) == V{"w@0"});
  seen[0] = {RollSeen::Failed, 7, "exited 3"};
  r.step(5, seen);
  CHECK(r.reason() == "w@0 failed after its restart (exited 3); the roll stopped");
  Roll t({"w@0"}, 1, 1000);
  seen = {ready(1)};
  CHECK(t.step(0, seen) == V{"w@0"});
  seen[0] = {RollSeen::NotReady, 4, "starting"};
  t.step(1000, seen);
  CHECK(t.reason() == "w@0 was not ready within 1000 ms of its restart (starting); the roll stopped");
}

TEST_CASE("roll: an adopted instance counts as restarting; the next waits for its new run") {
  Roll r({"w@0", "w@1", "w@2"}, 1, 1000);
  r.adopt("w@1", 5, 0);  // a roll this one took over was restarting it (run 5 stopping)
  CHECK(r.restarting() == V{"w@1"});
  std::vector<RollObservation> seen = {ready(1), starting(5), ready(3)};
  CHECK(r.step(0, seen).empty());          // one down already: max_unavailable 1
  CHECK(r.unavailable() == 1);
  seen[1] = starting(6);
  CHECK(r.step(10, seen).empty());
  seen[1] = ready(6);
  CHECK(r.step(20, seen) == V{"w@0"});     // replaced: the next one in order
  Roll two({"w@0", "w@1", "w@2"}, 1, 1000);
  two.adopt("w@0", 1, 0);
  two.adopt("w@2", 3, 0);                  // two in flight, bound 1: none stopped, none more started
  CHECK(two.unavailable() == 2);
  CHECK(two.step(0, {starting(1), ready(2), starting(3)}).empty());
  CHECK(two.step(5, {ready(7), ready(2), starting(3)}).empty());  // still one down: w@1 waits
  CHECK(two.step(9, {ready(7), ready(2), ready(8)}) == V{"w@1"});
}

namespace {
RollObservation both(RollSeen seen, std::uint64_t run) { return {seen, run, {}, true}; }  // old run still serving
}  // namespace

TEST_CASE("roll: start-first starts the new run beside the old, retires the old once the new is ready") {
  Roll r({"w@0", "w@1"}, 1, 500, RollMode::StartFirst);
  std::vector<RollObservation> seen = {ready(1), ready(2)};
  RollActions a = r.decide(0, seen);
  CHECK(a.start == V{"w@0"});
  CHECK(a.retire.empty());
  seen[0] = both(RollSeen::NotReady, 3);     // new run starting, old one serving
  a = r.decide(100, seen);
  CHECK(a.start.empty());
  CHECK(a.retire.empty());                   // never before the new one is ready
  seen[0] = both(RollSeen::Ready, 3);
  a = r.decide(200, seen);
  CHECK(a.retire == V{"w@0"});
  CHECK(a.start.empty());                    // w@0 still has two runs: max_unavailable 1
  CHECK(r.unavailable() == 1);
  seen[0] = ready(3);                        // the old run is gone
  a = r.decide(300, seen);
  CHECK(a.start == V{"w@1"});
  seen[1] = both(RollSeen::Ready, 4);
  CHECK(r.decide(400, seen).retire == V{"w@1"});
  seen[1] = ready(4);
  r.decide(500, seen);
  CHECK(r.done());
}

TEST_CASE("roll: start-first abandons a new run that fails or is late; the old keeps serving") {
  Roll r({"w@0", "w@1"}, 1, 500, RollMode::StartFirst);
  std::vector<RollObservation> seen = {ready(1), ready(2)};
  CHECK(r.decide(0, seen).start == V{"w@0"});
  seen[0] = {RollSeen::Failed, 3, "exited 3", true};
  RollActions a = r.decide(50, seen);
  CHECK(a.abandon == V{"w@0"});
  CHECK(a.retire.empty());
  CHECK(r.failed());
  CHECK(r.reason() == "w@0's new run failed (exited 3); its old run keeps serving; the roll stopped");
  CHECK(r.decide(60, seen).abandon.empty());  // once
  Roll late({"w@0"}, 1, 500, RollMode::StartFirst);
  seen = {ready(1)};
  CHECK(late.decide(0, seen).start == V{"w@0"});
  seen[0] = both(RollSeen::NotReady, 3);
  CHECK(late.decide(499, seen).abandon.empty());
  a = late.decide(500, seen);
  CHECK(a.abandon == V{"w@0"});
  CHECK(late.timed_out());
  CHECK(late.reason().find("not ready within 500 ms") != std::string::npos);
}

// sim seed 87651: the new run was ready, so the old one was told to stop;
// then the new run failed (unhealthy, restart never) while the old one still
// stopped. Nothing was replaced: the roll stops (4014, the run's own reason),
// never "done"; the new run is not abandoned (the old one is going anyway).
TEST_CASE("roll: start-first, a new run that fails after its old one was retired stops the roll") {
  Roll r({"w@0", "w@1"}, 1, 500, RollMode::StartFirst);
  std::vector<RollObservation> seen = {ready(1), ready(2)};
  CHECK(r.decide(0, seen).start == V{"w@0"});
  seen[0] = both(RollSeen::Ready, 3);
  CHECK(r.decide(10, seen).retire == V{"w@0"});
  seen[0] = {RollSeen::Failed, 3, "killed by signal 15; unhealthy", true};  // the old one still stops
  RollActions a = r.decide(20, seen);
  CHECK(r.failed());
  CHECK_FALSE(r.timed_out());
  CHECK(a.abandon.empty());
  CHECK(a.start.empty());
  CHECK(r.reason() == "w@0's new run failed (killed by signal 15; unhealthy) after it was ready; its old run was already "
                      "stopping; the roll stopped");
  seen[0] = {RollSeen::Failed, 3, "killed by signal 15; unhealthy", false};  // old gone, the failed run promoted
  CHECK(r.decide(30, seen).start.empty());
  CHECK_FALSE(r.done());
  // Restarting (its policy restarts it) is a failure too, seen after the old run is gone as well.
  Roll q({"w@0"}, 1, 500, RollMode::StartFirst);
  seen = {ready(1)};
  q.decide(0, seen);
  seen[0] = both(RollSeen::Ready, 3);
  q.decide(10, seen);
  seen[0] = {RollSeen::Failed, 3, "exited 1", false};
  q.decide(20, seen);
  CHECK(q.failed());
  CHECK_FALSE(q.done());
}
