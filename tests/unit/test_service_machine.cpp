// Unit tests of the pure service lifecycle (src/core/service_machine.cpp).
// No processes, no sleeps: time is the `now` each event is fed at. The
// Harness plays the supervisor's part: it feeds events, keeps one fake timer
// the way the daemon would (ArmTimer sets it, CancelTimer clears it, a fired
// timer is spent) and checks the machine's invariants after every step.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "procd/service_machine.hpp"

using namespace procd;

namespace {

bool same_state(const ServiceState& a, const ServiceState& b) {
  return a.phase == b.phase && a.want == b.want && a.pid == b.pid && a.spawned_at == b.spawned_at &&
         a.deadline == b.deadline && a.restarts == b.restarts && a.consecutive_failures == b.consecutive_failures &&
         a.last_exit == b.last_exit && a.recent_starts == b.recent_starts && a.kill_sent == b.kill_sent &&
         a.stop_cause == b.stop_cause &&
         a.reached_running == b.reached_running;
}

template <typename T>
int count_of(const std::vector<Action>& actions) {
  int n = 0;
  for (const auto& a : actions) n += std::holds_alternative<T>(a) ? 1 : 0;
  return n;
}

std::vector<Phase> publishes(const std::vector<Action>& actions) {
  std::vector<Phase> out;
  for (const auto& a : actions)
    if (const auto* p = std::get_if<act::Publish>(&a)) out.push_back(p->phase);
  return out;
}

std::vector<int> signals(const std::vector<Action>& actions) {
  std::vector<int> out;
  for (const auto& a : actions)
    if (const auto* s = std::get_if<act::Signal>(&a)) out.push_back(s->sig);
  return out;
}

std::vector<Millis> armed(const std::vector<Action>& actions) {
  std::vector<Millis> out;
  for (const auto& a : actions)
    if (const auto* t = std::get_if<act::ArmTimer>(&a)) out.push_back(t->deadline);
  return out;
}

bool logged(const std::vector<Action>& actions, Code code) {
  for (const auto& a : actions)
    if (const auto* l = std::get_if<act::Log>(&a); l && l->code == code) return true;
  return false;
}

struct Harness {
  MachineSpec spec;
  ServiceState state;
  std::vector<Action> last;     // actions of the latest step
  std::vector<Phase> history;   // every phase published, in order
  Millis timer = 0;             // the supervisor's one timer, as the actions left it
  int next_pid = 100;

  const std::vector<Action>& feed(const Event& event, Millis now) {
    if (std::holds_alternative<ev::TimerFired>(event) && timer != 0 && now >= timer) timer = 0;
    StepResult result = step(state, event, now, spec);
    for (const auto& a : result.actions) {
      if (const auto* t = std::get_if<act::ArmTimer>(&a)) timer = t->deadline;
      if (std::holds_alternative<act::CancelTimer>(a)) timer = 0;
      if (const auto* p = std::get_if<act::Publish>(&a)) {
        if (!history.empty()) CHECK_MESSAGE(history.back() != p->phase, "duplicate publish ", phase_name(p->phase));
        history.push_back(p->phase);
      }
    }
    state = std::move(result.state);
    last = std::move(result.actions);
    // Invariants that hold after every step.
    CHECK(timer == state.deadline);
    if (state.phase == Phase::Stopped || state.phase == Phase::Failed || state.phase == Phase::Running)
      CHECK(state.deadline == 0);
    if (state.phase != Phase::Starting && state.phase != Phase::Running && state.phase != Phase::Stopping)
      CHECK(state.pid == 0);
    return last;
  }

  // StartRequested + Spawned: a live run, at `now`.
  void start(Millis now) {
    feed(ev::StartRequested{}, now);
    REQUIRE(count_of<act::Spawn>(last) == 1);
    feed(ev::Spawned{next_pid++}, now);
  }
  void spawned(Millis now) { feed(ev::Spawned{next_pid++}, now); }
  void exit_code(int code, Millis now) { feed(ev::Exited{ExitStatus{code, 0}}, now); }
  void exit_signal(int sig, Millis now) { feed(ev::Exited{ExitStatus{0, sig}}, now); }
  // Fires the armed timer exactly at its deadline; returns that time.
  Millis fire() {
    REQUIRE(state.deadline != 0);
    const Millis at = state.deadline;
    feed(ev::TimerFired{}, at);
    return at;
  }
};

Harness with_policy(RestartPolicyKind policy) {
  Harness h;
  h.spec.restart.policy = policy;
  return h;
}

}  // namespace

TEST_CASE("phase names are the SPEC's lower-case names") {
  CHECK(std::string(phase_name(Phase::Stopped)) == "stopped");
  CHECK(std::string(phase_name(Phase::Starting)) == "starting");
  CHECK(std::string(phase_name(Phase::Running)) == "running");
  CHECK(std::string(phase_name(Phase::Stopping)) == "stopping");
  CHECK(std::string(phase_name(Phase::Failed)) == "failed");
  CHECK(std::string(phase_name(Phase::Restarting)) == "restarting");
}

TEST_CASE("exit_code_of: the code, or 128 + signal") {
  CHECK(exit_code_of({0, 0}) == 0);
  CHECK(exit_code_of({42, 0}) == 42);
  CHECK(exit_code_of({0, 9}) == 137);
  CHECK(exit_code_of({0, 15}) == 143);
}

TEST_CASE("is_success honours success_exit_codes and never counts a signal death") {
  CHECK(is_success({0, 0}, {0}));
  CHECK_FALSE(is_success({1, 0}, {0}));
  CHECK(is_success({3, 0}, {0, 3}));
  CHECK_FALSE(is_success({0, 15}, {0}));
  CHECK_FALSE(is_success({0, 0}, {}));
}

TEST_CASE("machine_spec_of copies the service's lifecycle keys and the effective stop timeout") {
  ServiceConfig svc;
  svc.restart.policy = RestartPolicyKind::OnFailure;
  svc.restart.delay_ms = 250;
  svc.ready.kind = ReadyKind::MinUptime;
  svc.ready.min_uptime_ms = 1500;
  svc.success_exit_codes = {0, 2};
  svc.stop_signal = 2;
  svc.start_timeout_ms = 7000;
  const MachineSpec spec = machine_spec_of(svc, 30000);
  CHECK(spec.restart.policy == RestartPolicyKind::OnFailure);
  CHECK(spec.restart.delay_ms == 250);
  CHECK(spec.ready.kind == ReadyKind::MinUptime);
  CHECK(spec.ready.min_uptime_ms == 1500);
  CHECK(spec.success_exit_codes == std::vector<int>{0, 2});
  CHECK(spec.stop_signal == 2);
  CHECK(spec.stop_timeout_ms == 30000);
  CHECK(spec.start_timeout_ms == 7000);
}

TEST_CASE("restart_delay: never 0, always / on-failure the fixed delay") {
  RestartConfig r;
  r.delay_ms = 300;
  r.policy = RestartPolicyKind::Never;
  CHECK(restart_delay(r, 1) == 0);
  r.policy = RestartPolicyKind::Always;
  CHECK(restart_delay(r, 1) == 300);
  CHECK(restart_delay(r, 50) == 300);
  r.policy = RestartPolicyKind::OnFailure;
  CHECK(restart_delay(r, 7) == 300);
}

TEST_CASE("restart_delay: exponential-backoff doubles, caps, and survives huge counts") {
  RestartConfig r;
  r.policy = RestartPolicyKind::ExponentialBackoff;
  r.initial_delay_ms = 1000;
  r.max_delay_ms = 60000;
  CHECK(restart_delay(r, 1) == 1000);
  CHECK(restart_delay(r, 2) == 2000);
  CHECK(restart_delay(r, 3) == 4000);
  CHECK(restart_delay(r, 6) == 32000);
  CHECK(restart_delay(r, 7) == 60000);
  CHECK(restart_delay(r, 63) == 60000);
  CHECK(restart_delay(r, 64) == 60000);
  CHECK(restart_delay(r, 1000000) == 60000);
  CHECK(restart_delay(r, 0) == 1000);   // counts below 1 are the first attempt
  CHECK(restart_delay(r, -5) == 1000);
  r.initial_delay_ms = 90000;           // initial above the cap: the cap wins
  CHECK(restart_delay(r, 1) == 60000);
}

// Validation bounds every duration by kMaxDurationMs; restart_delay() holds
// to the bound even for a config built in memory, so `now + delay` in the
// machine cannot overflow.
TEST_CASE("restart_delay: never more than kMaxDurationMs, whatever the config") {
  RestartConfig r;
  r.policy = RestartPolicyKind::ExponentialBackoff;
  r.initial_delay_ms = 1;
  r.max_delay_ms = INT64_MAX;
  CHECK(restart_delay(r, 20) == (Millis{1} << 19));
  CHECK(restart_delay(r, 63) == kMaxDurationMs);
  CHECK(restart_delay(r, 64) == kMaxDurationMs);
  r.initial_delay_ms = INT64_MAX;
  CHECK(restart_delay(r, 1) == kMaxDurationMs);
  r.policy = RestartPolicyKind::Always;
  r.delay_ms = INT64_MAX;
  CHECK(restart_delay(r, 1) == kMaxDurationMs);
  r.policy = RestartPolicyKind::OnFailure;
  CHECK(restart_delay(r, 1) == kMaxDurationMs);
}

TEST_CASE("start: starting then running at once for ready = started, with no timer") {
  Harness h;
  h.feed(ev::StartRequested{}, 1000);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(h.state.want == Want::Up);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Starting});
  CHECK(count_of<act::Spawn>(h.last) == 1);
  CHECK(armed(h.last).empty());
  h.feed(ev::Spawned{42}, 1005);
  CHECK(h.state.phase == Phase::Running);
  CHECK(h.state.pid == 42);
  CHECK(h.state.spawned_at == 1005);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Running});
  CHECK(armed(h.last).empty());
  CHECK(h.state.deadline == 0);
}

TEST_CASE("start while starting or running is a logged no-op") {
  Harness h;
  h.feed(ev::StartRequested{}, 1000);
  ServiceState before = h.state;
  h.feed(ev::StartRequested{}, 1001);
  CHECK(same_state(before, h.state));
  CHECK(h.last.size() == 1);
  CHECK(count_of<act::Log>(h.last) == 1);
  h.spawned(1002);
  before = h.state;
  h.feed(ev::StartRequested{}, 1003);
  CHECK(same_state(before, h.state));
  CHECK(count_of<act::Log>(h.last) == 1);
  CHECK(h.last.size() == 1);
}

TEST_CASE("never: a successful exit ends stopped, no restart") {
  Harness h = with_policy(RestartPolicyKind::Never);
  h.start(1000);
  h.exit_code(0, 2000);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(h.state.pid == 0);
  CHECK(h.state.last_exit == ExitStatus{0, 0});
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Stopped});
}

TEST_CASE("never: a failure code ends failed with ServiceExitFailure") {
  Harness h = with_policy(RestartPolicyKind::Never);
  h.start(1000);
  h.exit_code(3, 2000);
  CHECK(h.state.phase == Phase::Failed);
  CHECK(logged(h.last, Code::ServiceExitFailure));
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(h.state.last_exit == ExitStatus{3, 0});
}

TEST_CASE("never: a signal death ends failed with ServiceKilledBySignal") {
  Harness h = with_policy(RestartPolicyKind::Never);
  h.start(1000);
  h.exit_signal(11, 2000);
  CHECK(h.state.phase == Phase::Failed);
  CHECK(logged(h.last, Code::ServiceKilledBySignal));
  CHECK_FALSE(logged(h.last, Code::ServiceExitFailure));
}

TEST_CASE("always: a clean exit restarts after delay_ms; the restart counts") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.restart.delay_ms = 250;
  h.start(1000);
  h.exit_code(0, 5000);
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(armed(h.last) == std::vector<Millis>{5250});
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(h.state.restarts == 0);
  CHECK(h.fire() == 5250);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(count_of<act::Spawn>(h.last) == 1);
  CHECK(count_of<act::CancelTimer>(h.last) == 0);  // the timer fired: nothing to cancel
  CHECK(h.state.restarts == 1);
  h.spawned(5251);
  CHECK(h.state.phase == Phase::Running);
  CHECK(h.history == std::vector<Phase>{Phase::Starting, Phase::Running, Phase::Restarting, Phase::Starting,
                                        Phase::Running});
}

TEST_CASE("always with delay 0: the restart still goes through the loop (a timer due now, no spawn in the step)") {
  // A spawn that fails synchronously would otherwise restart inside the
  // same dispatch for ever (SIGTERM and the socket never served).
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.restart.delay_ms = 0;
  h.start(1000);
  h.exit_code(1, 2000);
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Restarting});
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(armed(h.last) == std::vector<Millis>{2000});
  CHECK(h.fire() == 2000);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(count_of<act::Spawn>(h.last) == 1);
  CHECK(h.state.restarts == 1);
}

TEST_CASE("delay 0 and a spawn that fails at once: each failure waits for the loop") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.restart.delay_ms = 0;
  h.feed(ev::StartRequested{}, 1000);
  for (int i = 0; i < 5; ++i) {
    h.feed(ev::SpawnFailed{make_error(Code::SpawnFailed, "no such file")}, 1000 + i);
    REQUIRE(h.state.phase == Phase::Restarting);
    CHECK(count_of<act::Spawn>(h.last) == 0);
    h.fire();
    CHECK(count_of<act::Spawn>(h.last) == 1);
  }
}

TEST_CASE("on-failure: a success code ends stopped") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.start(1000);
  h.exit_code(0, 2000);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::ArmTimer>(h.last) == 0);
  CHECK(h.state.consecutive_failures == 0);
}

TEST_CASE("on-failure: a failure code restarts after delay_ms") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.restart.delay_ms = 100;
  h.start(1000);
  h.exit_code(2, 2000);
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(armed(h.last) == std::vector<Millis>{2100});
  CHECK(logged(h.last, Code::ServiceExitFailure));
  CHECK(h.state.consecutive_failures == 1);
}

TEST_CASE("on-failure: a signal death restarts, even with signal-like success codes") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.success_exit_codes = {0, 143};
  h.start(1000);
  h.exit_signal(15, 2000);
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(logged(h.last, Code::ServiceKilledBySignal));
}

TEST_CASE("on-failure: a code listed in success_exit_codes is a success") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.success_exit_codes = {0, 3};
  h.start(1000);
  h.exit_code(3, 2000);
  CHECK(h.state.phase == Phase::Stopped);
}

TEST_CASE("exponential-backoff: delays 1x, 2x, 4x, then capped") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.spec.restart.initial_delay_ms = 1000;
  h.spec.restart.max_delay_ms = 5000;
  h.spec.restart.max_attempts = 0;  // unlimited
  h.start(10000);
  const std::vector<Millis> expected{1000, 2000, 4000, 5000, 5000, 5000};
  Millis now = 10000;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    now += 10;  // each run dies quickly
    h.exit_code(1, now);
    REQUIRE(h.state.phase == Phase::Restarting);
    CHECK(h.state.consecutive_failures == static_cast<int>(i + 1));
    CHECK(armed(h.last) == std::vector<Millis>{now + expected[i]});
    now = h.fire();
    h.spawned(now);
  }
  CHECK(h.state.restarts == 6);
}

TEST_CASE("exponential-backoff: gives up after max_attempts consecutive failures") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.spec.restart.initial_delay_ms = 100;
  h.spec.restart.max_delay_ms = 60000;
  h.spec.restart.max_attempts = 3;
  h.start(1000);
  h.exit_code(1, 1010);
  Millis now = h.fire();
  h.spawned(now);
  h.exit_code(1, now + 10);
  now = h.fire();
  h.spawned(now);
  h.exit_code(1, now + 10);
  CHECK(h.state.phase == Phase::Failed);
  CHECK(h.state.consecutive_failures == 3);
  CHECK(logged(h.last, Code::ServiceGaveUp));
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(count_of<act::ArmTimer>(h.last) == 0);
  CHECK(h.state.restarts == 2);
}

TEST_CASE("exponential-backoff: a run lasting max_delay_ms resets the failure count") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.spec.restart.initial_delay_ms = 1000;
  h.spec.restart.max_delay_ms = 8000;
  h.spec.restart.max_attempts = 3;
  h.start(0);
  h.exit_code(1, 10);
  Millis now = h.fire();  // delay 1000
  h.spawned(now);
  h.exit_code(1, now + 10);
  CHECK(h.state.consecutive_failures == 2);
  now = h.fire();  // delay 2000
  h.spawned(now);
  h.exit_code(1, now + 8000);  // lasted exactly max_delay_ms: a fresh first failure
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(h.state.consecutive_failures == 1);
  CHECK(armed(h.last) == std::vector<Millis>{now + 8000 + 1000});
}

TEST_CASE("exponential-backoff: a run just short of max_delay_ms does not reset the count") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.spec.restart.initial_delay_ms = 1000;
  h.spec.restart.max_delay_ms = 8000;
  h.spec.restart.max_attempts = 2;
  h.start(0);
  h.exit_code(1, 10);
  const Millis now = h.fire();
  h.spawned(now);
  h.exit_code(1, now + 7999);
  CHECK(h.state.phase == Phase::Failed);
  CHECK(logged(h.last, Code::ServiceGaveUp));
}

TEST_CASE("exponential-backoff: a clean exit ends stopped and clears the count") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.start(0);
  h.exit_code(1, 10);
  const Millis now = h.fire();
  h.spawned(now);
  h.exit_code(0, now + 10);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(h.state.consecutive_failures == 0);
}

TEST_CASE("start_limit: burst starts inside the interval -> failed") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.restart.delay_ms = 100;
  h.spec.restart.start_limit_burst = 3;
  h.spec.restart.start_limit_interval_ms = 10000;
  h.start(1000);
  h.exit_code(1, 1050);  // starts: 1000
  Millis now = h.fire();
  h.spawned(now);
  h.exit_code(1, now + 50);  // starts: 1000, 1150
  now = h.fire();
  h.spawned(now);
  CHECK(h.state.recent_starts.size() == 3);
  h.exit_code(0, now + 50);  // a 4th start would be inside the window
  CHECK(h.state.phase == Phase::Failed);
  CHECK(logged(h.last, Code::ServiceStartLimit));
  CHECK(count_of<act::ArmTimer>(h.last) == 0);
  CHECK(count_of<act::Spawn>(h.last) == 0);
}

TEST_CASE("start_limit: starts spread beyond the interval keep restarting") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.restart.delay_ms = 100;
  h.spec.restart.start_limit_burst = 2;
  h.spec.restart.start_limit_interval_ms = 1000;
  h.start(0);
  Millis now = 0;
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    h.exit_code(1, now + 950);  // the next start lands 1050 ms after this one
    REQUIRE(h.state.phase == Phase::Restarting);
    now = h.fire();
    h.spawned(now);
    CHECK(h.state.recent_starts.size() == 1);
  }
  CHECK(h.state.restarts == 5);
}

TEST_CASE("user stop: stop signal, stop deadline, and the exit ends stopped without a restart") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.stop_timeout_ms = 5000;
  h.start(1000);
  h.feed(ev::StopRequested{}, 2000);
  CHECK(h.state.phase == Phase::Stopping);
  CHECK(h.state.want == Want::Down);
  CHECK(signals(h.last) == std::vector<int>{15});
  CHECK(armed(h.last) == std::vector<Millis>{7000});
  h.exit_signal(15, 2100);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(count_of<act::CancelTimer>(h.last) == 1);
  CHECK(h.state.consecutive_failures == 0);
  CHECK(h.state.last_exit == ExitStatus{0, 15});
}

TEST_CASE("user stop uses the configured stop_signal") {
  Harness h;
  h.spec.stop_signal = 2;
  h.start(1000);
  h.feed(ev::StopRequested{}, 2000);
  CHECK(signals(h.last) == std::vector<int>{2});
}

TEST_CASE("stop timeout: SIGKILL exactly once, then the exit ends stopped") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.stop_timeout_ms = 3000;
  h.start(1000);
  h.feed(ev::StopRequested{}, 2000);
  CHECK(h.fire() == 5000);
  CHECK(signals(h.last) == std::vector<int>{9});
  CHECK(logged(h.last, Code::TimeoutStop));
  CHECK(h.state.kill_sent);
  CHECK(h.state.deadline == 0);
  CHECK(armed(h.last).empty());
  h.feed(ev::TimerFired{}, 9000);  // a late duplicate
  CHECK(signals(h.last).empty());
  h.feed(ev::ForceKill{}, 9001);  // the shutdown ladder does not kill twice either
  CHECK(signals(h.last).empty());
  h.exit_signal(9, 9002);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK_FALSE(h.state.kill_sent);
  CHECK(count_of<act::Spawn>(h.last) == 0);
}

TEST_CASE("stop during the restart delay cancels the timer and ends stopped") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.restart.delay_ms = 500;
  h.start(1000);
  h.exit_code(1, 2000);
  REQUIRE(h.state.phase == Phase::Restarting);
  h.feed(ev::StopRequested{}, 2100);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::CancelTimer>(h.last) == 1);
  CHECK(h.state.deadline == 0);
  h.feed(ev::TimerFired{}, 2500);  // delivered anyway: stale
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::Spawn>(h.last) == 0);
}

TEST_CASE("stop of a stopped service is a no-op; stop of a failed one makes it stopped") {
  Harness h = with_policy(RestartPolicyKind::Never);
  const ServiceState before = h.state;
  h.feed(ev::StopRequested{}, 1000);
  CHECK(same_state(before, h.state));
  CHECK(h.last.size() == 1);
  CHECK(count_of<act::Log>(h.last) == 1);
  h.start(1000);
  h.exit_code(1, 2000);
  REQUIRE(h.state.phase == Phase::Failed);
  h.feed(ev::StopRequested{}, 3000);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(h.state.want == Want::Down);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Stopped});
}

TEST_CASE("restart request: stop, stopped, then a fresh start that is not an automatic restart") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.start(1000);
  h.exit_code(1, 1100);
  Millis now = h.fire();
  h.spawned(now);
  REQUIRE(h.state.consecutive_failures == 1);
  REQUIRE(h.state.restarts == 1);
  h.feed(ev::RestartRequested{}, 3000);
  CHECK(h.state.phase == Phase::Stopping);
  CHECK(h.state.want == Want::Up);
  CHECK(signals(h.last) == std::vector<int>{15});
  h.exit_signal(15, 3100);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Stopped, Phase::Starting});
  CHECK(count_of<act::Spawn>(h.last) == 1);
  CHECK(h.state.restarts == 1);
  CHECK(h.state.consecutive_failures == 0);
  CHECK(h.state.stop_cause != StopCause::Restart);
}

TEST_CASE("restart request of a stopped or failed service starts it") {
  Harness h = with_policy(RestartPolicyKind::Never);
  h.feed(ev::RestartRequested{}, 1000);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(count_of<act::Spawn>(h.last) == 1);
  h.spawned(1000);
  h.exit_code(1, 1100);
  REQUIRE(h.state.phase == Phase::Failed);
  h.feed(ev::RestartRequested{}, 1200);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(count_of<act::Spawn>(h.last) == 1);
  CHECK(h.state.consecutive_failures == 0);
}

TEST_CASE("start while stopping: starts again once the exit arrives") {
  Harness h = with_policy(RestartPolicyKind::Never);
  h.start(1000);
  h.feed(ev::StopRequested{}, 2000);
  h.feed(ev::StartRequested{}, 2010);
  CHECK(h.state.phase == Phase::Stopping);
  CHECK(h.state.stop_cause == StopCause::Restart);
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(signals(h.last).empty());
  h.exit_signal(15, 2100);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Stopped, Phase::Starting});
  CHECK(count_of<act::Spawn>(h.last) == 1);
  CHECK(h.state.want == Want::Up);
}

TEST_CASE("stop after start-while-stopping wins: no start after the exit") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.start(1000);
  h.feed(ev::StopRequested{}, 2000);
  h.feed(ev::StartRequested{}, 2010);
  h.feed(ev::StopRequested{}, 2020);
  CHECK(h.state.stop_cause != StopCause::Restart);
  CHECK(h.state.want == Want::Down);
  h.exit_code(0, 2100);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::Spawn>(h.last) == 0);
}

TEST_CASE("start during the restart delay spawns now and resets the count") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.spec.restart.initial_delay_ms = 10000;
  h.start(1000);
  h.exit_code(1, 1100);
  REQUIRE(h.state.phase == Phase::Restarting);
  h.feed(ev::StartRequested{}, 1200);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(count_of<act::CancelTimer>(h.last) == 1);
  CHECK(count_of<act::Spawn>(h.last) == 1);
  CHECK(h.state.consecutive_failures == 0);
  CHECK(h.state.restarts == 0);
}

TEST_CASE("readiness min_uptime: running only once the process stayed up that long") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.ready.kind = ReadyKind::MinUptime;
  h.spec.ready.min_uptime_ms = 2000;
  h.start(1000);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(armed(h.last) == std::vector<Millis>{3000});
  h.feed(ev::TimerFired{}, 2999);  // early: ignored
  CHECK(h.state.phase == Phase::Starting);
  CHECK(h.fire() == 3000);
  CHECK(h.state.phase == Phase::Running);
  CHECK(publishes(h.last) == std::vector<Phase>{Phase::Running});
  CHECK(signals(h.last).empty());
}

TEST_CASE("readiness min_uptime: an exit before it is judged by the policy and cancels the timer") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.restart.delay_ms = 100;
  h.spec.ready.kind = ReadyKind::MinUptime;
  h.spec.ready.min_uptime_ms = 2000;
  h.start(1000);
  h.exit_code(1, 1500);
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(count_of<act::CancelTimer>(h.last) == 1);
  CHECK(armed(h.last) == std::vector<Millis>{1600});
  CHECK(h.state.deadline == 1600);
}

TEST_CASE("readiness notify: starting until Ready, with the start timeout armed") {
  Harness h;
  h.spec.ready.kind = ReadyKind::Notify;
  h.spec.start_timeout_ms = 5000;
  h.start(1000);
  CHECK(h.state.phase == Phase::Starting);
  CHECK(armed(h.last) == std::vector<Millis>{6000});
  h.feed(ev::Ready{}, 1500);
  CHECK(h.state.phase == Phase::Running);
  CHECK(count_of<act::CancelTimer>(h.last) == 1);
  CHECK(h.state.deadline == 0);
  CHECK(h.state.reached_running);
}

TEST_CASE("start timeout: stopped as a failed start; a clean exit still counts as a failure") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.restart.delay_ms = 100;
  h.spec.ready.kind = ReadyKind::Health;
  h.spec.start_timeout_ms = 5000;
  h.spec.stop_timeout_ms = 2000;
  h.start(1000);
  CHECK(h.fire() == 6000);
  CHECK(logged(h.last, Code::TimeoutStart));
  CHECK(h.state.phase == Phase::Stopping);
  CHECK(signals(h.last) == std::vector<int>{15});
  CHECK(armed(h.last) == std::vector<Millis>{8000});
  CHECK(h.state.want == Want::Up);
  h.exit_code(0, 6100);
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(h.state.consecutive_failures == 1);
  CHECK(armed(h.last) == std::vector<Millis>{6200});
}

TEST_CASE("start timeout under never ends failed even after exit 0") {
  Harness h = with_policy(RestartPolicyKind::Never);
  h.spec.ready.kind = ReadyKind::LogMatch;
  h.spec.start_timeout_ms = 1000;
  h.start(0);
  h.fire();
  h.exit_code(0, 1500);
  CHECK(h.state.phase == Phase::Failed);
}

TEST_CASE("start timeout does not reset the backoff count, however long the start took") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.spec.restart.max_delay_ms = 1000;
  h.spec.restart.max_attempts = 2;
  h.spec.ready.kind = ReadyKind::Notify;
  h.spec.start_timeout_ms = 5000;
  h.start(0);
  h.fire();
  h.exit_signal(15, 5100);
  REQUIRE(h.state.phase == Phase::Restarting);
  Millis now = h.fire();
  h.spawned(now);
  now = h.fire();  // start timeout again, 5000 ms > max_delay_ms later
  h.exit_signal(15, now + 10);
  CHECK(h.state.phase == Phase::Failed);
  CHECK(logged(h.last, Code::ServiceGaveUp));
}

TEST_CASE("health failure: stop, then restart by policy") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.restart.delay_ms = 100;
  h.start(1000);
  h.feed(ev::HealthFailed{"3 failed checks"}, 2000);
  CHECK(h.state.phase == Phase::Stopping);
  CHECK(h.state.stop_cause == StopCause::Failure);
  CHECK(signals(h.last) == std::vector<int>{15});
  h.exit_signal(15, 2100);
  CHECK(h.state.phase == Phase::Restarting);
  CHECK(h.state.consecutive_failures == 1);
  CHECK(h.state.stop_cause != StopCause::Failure);
  h.fire();
  CHECK(h.state.phase == Phase::Starting);
  CHECK(h.state.restarts == 1);
}

TEST_CASE("health failure under never ends failed; a second report while stopping is ignored") {
  Harness h = with_policy(RestartPolicyKind::Never);
  h.start(1000);
  h.feed(ev::HealthFailed{"memory limit"}, 2000);
  const ServiceState before = h.state;
  h.feed(ev::HealthFailed{"memory limit"}, 2001);
  CHECK(same_state(before, h.state));
  CHECK(signals(h.last).empty());
  h.exit_code(0, 2100);
  CHECK(h.state.phase == Phase::Failed);
}

TEST_CASE("user stop during a health stop: the exit ends stopped, no restart") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.start(1000);
  h.feed(ev::HealthFailed{"watchdog"}, 2000);
  h.feed(ev::StopRequested{}, 2010);
  CHECK(h.state.want == Want::Down);
  CHECK(signals(h.last).empty());  // the stop signal is already on its way
  h.exit_signal(15, 2100);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::Spawn>(h.last) == 0);
  CHECK(h.state.consecutive_failures == 0);
}

TEST_CASE("spawn failure: logged with its code and handled like a failed run") {
  SUBCASE("never -> failed") {
    Harness h = with_policy(RestartPolicyKind::Never);
    h.feed(ev::StartRequested{}, 1000);
    h.feed(ev::SpawnFailed{make_error(Code::ExecFailed, "exec ./nope: No such file or directory")}, 1001);
    CHECK(h.state.phase == Phase::Failed);
    CHECK(logged(h.last, Code::ExecFailed));
    CHECK(h.state.pid == 0);
    CHECK_FALSE(h.state.last_exit.has_value());
  }
  SUBCASE("always -> restarting") {
    Harness h = with_policy(RestartPolicyKind::Always);
    h.spec.restart.delay_ms = 100;
    h.feed(ev::StartRequested{}, 1000);
    h.feed(ev::SpawnFailed{make_error(Code::ChdirFailed, "chdir /nope")}, 1001);
    CHECK(h.state.phase == Phase::Restarting);
    CHECK(armed(h.last) == std::vector<Millis>{1101});
    CHECK(h.state.consecutive_failures == 1);
  }
}

TEST_CASE("spawn failures after a long run still reach max_attempts") {
  Harness h = with_policy(RestartPolicyKind::ExponentialBackoff);
  h.spec.restart.initial_delay_ms = 100;
  h.spec.restart.max_delay_ms = 1000;
  h.spec.restart.max_attempts = 3;
  h.start(0);
  h.exit_code(1, 50000);  // a long run: count restarts from 1
  REQUIRE(h.state.consecutive_failures == 1);
  for (int i = 0; i < 2; ++i) {
    h.fire();
    h.feed(ev::SpawnFailed{make_error(Code::SpawnFailed, "fork: EAGAIN")}, h.state.spawned_at + 60000 + i);
  }
  CHECK(h.state.phase == Phase::Failed);
  CHECK(h.state.consecutive_failures == 3);
}

TEST_CASE("stop requested before Spawned: the signal goes out when the pid is known") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.stop_timeout_ms = 1000;
  h.feed(ev::StartRequested{}, 1000);
  h.feed(ev::StopRequested{}, 1001);
  CHECK(h.state.phase == Phase::Stopping);
  CHECK(signals(h.last).empty());
  CHECK(h.state.deadline == 0);
  h.feed(ev::Spawned{77}, 1002);
  CHECK(h.state.pid == 77);
  CHECK(signals(h.last) == std::vector<int>{15});
  CHECK(armed(h.last) == std::vector<Millis>{2002});
  CHECK(publishes(h.last).empty());
  h.exit_signal(15, 1100);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::Spawn>(h.last) == 0);
}

TEST_CASE("ForceKill: SIGKILL the group once, and the run is not restarted") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.ready.kind = ReadyKind::Notify;
  h.start(1000);
  REQUIRE(h.state.deadline != 0);
  h.feed(ev::ForceKill{}, 2000);
  CHECK(signals(h.last) == std::vector<int>{9});
  CHECK(h.state.kill_sent);
  CHECK(h.state.phase == Phase::Stopping);
  CHECK(h.state.want == Want::Down);
  CHECK(count_of<act::CancelTimer>(h.last) == 1);
  const ServiceState before = h.state;
  h.feed(ev::ForceKill{}, 2001);
  CHECK(same_state(before, h.state));
  CHECK(signals(h.last).empty());
  h.exit_signal(9, 2010);
  CHECK(h.state.phase == Phase::Stopped);
  CHECK(count_of<act::Spawn>(h.last) == 0);
}

TEST_CASE("ForceKill with no process is a no-op") {
  Harness h = with_policy(RestartPolicyKind::Always);
  const ServiceState before = h.state;
  h.feed(ev::ForceKill{}, 1000);
  CHECK(same_state(before, h.state));
  CHECK(h.last.size() == 1);
  CHECK(count_of<act::Log>(h.last) == 1);
}

TEST_CASE("stale timers are ignored: none armed, or fired early") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.restart.delay_ms = 1000;
  h.start(1000);
  ServiceState before = h.state;
  h.feed(ev::TimerFired{}, 1500);  // Running, nothing armed
  CHECK(same_state(before, h.state));
  CHECK(h.last.size() == 1);
  CHECK(count_of<act::Log>(h.last) == 1);
  h.exit_code(1, 2000);
  before = h.state;
  h.feed(ev::TimerFired{}, 2999);  // one ms early
  CHECK(same_state(before, h.state));
  CHECK(count_of<act::Spawn>(h.last) == 0);
  h.feed(ev::TimerFired{}, 3000);
  CHECK(count_of<act::Spawn>(h.last) == 1);
}

TEST_CASE("unexpected events yield one Debug log and leave the state unchanged") {
  Harness h = with_policy(RestartPolicyKind::Always);
  auto check_ignored = [&](const Event& e, Millis now) {
    const ServiceState before = h.state;
    h.feed(e, now);
    CHECK(same_state(before, h.state));
    REQUIRE(h.last.size() == 1);
    const auto* log = std::get_if<act::Log>(&h.last[0]);
    REQUIRE(log != nullptr);
    CHECK(log->level == act::Level::Debug);
  };
  // Stopped, nothing running.
  check_ignored(ev::Exited{ExitStatus{0, 0}}, 1000);
  check_ignored(ev::Spawned{5}, 1000);
  check_ignored(ev::SpawnFailed{make_error(Code::SpawnFailed, "x")}, 1000);
  check_ignored(ev::Ready{}, 1000);
  check_ignored(ev::HealthFailed{"x"}, 1000);
  check_ignored(ev::TimerFired{}, 1000);
  // Running.
  h.start(1000);
  check_ignored(ev::Spawned{6}, 1100);
  check_ignored(ev::SpawnFailed{make_error(Code::SpawnFailed, "x")}, 1100);
  check_ignored(ev::Ready{}, 1100);
  // Starting, spawn in flight: a Ready or a bogus pid makes no sense yet.
  Harness s;
  s.feed(ev::StartRequested{}, 1000);
  const ServiceState before = s.state;
  s.feed(ev::Ready{}, 1001);
  CHECK(same_state(before, s.state));
  s.feed(ev::Spawned{0}, 1001);
  CHECK(same_state(before, s.state));
  CHECK(logged(s.last, Code::StateInvalidTransition));
}

TEST_CASE("a full life never publishes the same phase twice in a row") {
  Harness h = with_policy(RestartPolicyKind::OnFailure);
  h.spec.restart.delay_ms = 10;
  h.spec.ready.kind = ReadyKind::Notify;
  h.start(0);
  h.feed(ev::Ready{}, 5);
  h.feed(ev::Ready{}, 6);
  h.feed(ev::StartRequested{}, 7);
  h.feed(ev::HealthFailed{"x"}, 8);
  h.feed(ev::HealthFailed{"x"}, 9);
  h.feed(ev::StopRequested{}, 10);
  h.feed(ev::StopRequested{}, 11);
  h.exit_signal(15, 12);
  h.feed(ev::StopRequested{}, 13);
  h.feed(ev::RestartRequested{}, 14);
  h.spawned(15);
  h.feed(ev::Ready{}, 16);
  CHECK(h.history == std::vector<Phase>{Phase::Starting, Phase::Running, Phase::Stopping, Phase::Stopped,
                                        Phase::Starting, Phase::Running});
}

TEST_CASE("ForceKill during a user stop: SIGKILL, stop deadline cancelled, no second publish") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.start(1000);
  h.feed(ev::StopRequested{}, 2000);
  REQUIRE(h.state.deadline != 0);
  h.feed(ev::ForceKill{}, 2500);
  CHECK(signals(h.last) == std::vector<int>{9});
  CHECK(publishes(h.last).empty());
  CHECK(count_of<act::CancelTimer>(h.last) == 1);
  CHECK(h.state.phase == Phase::Stopping);
  h.exit_signal(9, 2510);
  CHECK(h.state.phase == Phase::Stopped);
}

TEST_CASE("start_limit: the window is judged when the restart would spawn, not at the exit") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.restart.delay_ms = 100;
  h.spec.restart.start_limit_burst = 1;
  h.spec.restart.start_limit_interval_ms = 1000;
  h.start(0);
  h.exit_code(1, 950);  // the restart lands at 1050, after the first start left the window
  CHECK(h.state.phase == Phase::Restarting);
  const Millis now = h.fire();
  h.spawned(now);
  h.exit_code(1, now + 10);  // this one would land inside the window
  CHECK(h.state.phase == Phase::Failed);
  CHECK(logged(h.last, Code::ServiceStartLimit));
}

TEST_CASE("a manual start after the start limit begins a fresh window") {
  Harness h = with_policy(RestartPolicyKind::Always);
  h.spec.restart.delay_ms = 100;
  h.spec.restart.start_limit_burst = 2;
  h.spec.restart.start_limit_interval_ms = 10000;
  h.start(0);
  h.exit_code(1, 10);
  Millis now = h.fire();
  h.spawned(now);
  h.exit_code(1, now + 10);
  REQUIRE(h.state.phase == Phase::Failed);
  h.start(500);
  CHECK(h.state.recent_starts.size() == 1);
  h.exit_code(1, 510);
  CHECK(h.state.phase == Phase::Restarting);
}
