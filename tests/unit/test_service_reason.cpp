// service_reason: one case per cause, the exact text, code and condition.
#include <doctest/doctest.h>

#include "procd/service_reason.hpp"

using namespace procd;

namespace {

ReasonFacts ran(Phase phase, Want want = Want::Up) {
  ReasonFacts f;
  f.phase = phase;
  f.want = want;
  f.ever_ran = true;
  return f;
}

void check_reason(const ReasonFacts& f, const std::string& code, const std::string& text, const std::string& condition) {
  Reason r = service_reason(f);
  CHECK(r.text == text);
  CHECK(r.code == code);
  CHECK(r.condition == condition);
}

}  // namespace

TEST_CASE("service_reason: never started") {
  check_reason(ReasonFacts{}, "not-started", "not started", "stopped");
}

TEST_CASE("service_reason: exited, restart never") {
  ReasonFacts f = ran(Phase::Failed);
  f.last_exit = ExitStatus{1, 0};
  check_reason(f, "exited", "exited 1", "failed");
}

TEST_CASE("service_reason: killed by a signal") {
  ReasonFacts f = ran(Phase::Failed);
  f.last_exit = ExitStatus{0, 11};
  check_reason(f, "killed", "killed by SIGSEGV", "failed");
}

TEST_CASE("service_reason: max_attempts gave up") {
  ReasonFacts f = ran(Phase::Failed);
  f.last_exit = ExitStatus{1, 0};
  f.gave_up = GiveUp::MaxAttempts;
  f.gave_up_starts = 4;
  check_reason(f, "max-attempts", "exited 1; giving up after 4 starts", "failed");
}

TEST_CASE("service_reason: start limit hit") {
  ReasonFacts f = ran(Phase::Failed);
  f.last_exit = ExitStatus{1, 0};
  f.gave_up = GiveUp::StartLimit;
  f.gave_up_starts = 5;
  f.start_limit_interval_ms = 10000;
  check_reason(f, "start-limit", "exited 1; giving up after 5 starts in 10 s", "failed");
}

TEST_CASE("service_reason: command not found (the PATH is left out)") {
  ReasonFacts f = ran(Phase::Failed);
  f.spawn_error = "command not found: slep (No such file or directory; not in PATH=/usr/bin:/bin)";
  check_reason(f, "spawn-failed", "command not found: slep", "failed");
  f.gave_up = GiveUp::StartLimit;
  f.gave_up_starts = 5;
  f.start_limit_interval_ms = 2500;
  check_reason(f, "start-limit", "command not found: slep; giving up after 5 starts in 2500 ms", "failed");
}

TEST_CASE("service_reason: restarting after an exit") {
  ReasonFacts f = ran(Phase::Restarting);
  f.last_exit = ExitStatus{3, 0};
  f.restart_in_ms = 100;
  check_reason(f, "exited", "exited 3; restarting in 100 ms", "restarting");
}

TEST_CASE("service_reason: waiting for a dependency") {
  ReasonFacts f;
  f.waiting = true;
  f.gate = "waiting for migrate (completed)";
  check_reason(f, "waiting", "waiting for migrate (completed)", "waiting");
}

TEST_CASE("service_reason: blocked by a failed dependency") {
  ReasonFacts f;
  f.blocked = true;
  f.gate = "dependency migrate failed";
  check_reason(f, "blocked", "blocked: migrate failed", "blocked");
}

TEST_CASE("service_reason: completed one-shot") {
  ReasonFacts f = ran(Phase::Stopped);
  f.last_exit = ExitStatus{0, 0};
  f.last_exit_ok = true;
  check_reason(f, "completed", "completed", "completed");
}

TEST_CASE("service_reason: stopped by request") {
  ReasonFacts f = ran(Phase::Stopped, Want::Down);
  f.last_exit = ExitStatus{0, 15};
  f.requested_stop = true;
  check_reason(f, "stopped-by-request", "stopped by request", "stopped");
}

TEST_CASE("service_reason: unhealthy, restarting") {
  ReasonFacts f = ran(Phase::Restarting);
  f.last_exit = ExitStatus{0, 15};
  f.failure = FailKind::Unhealthy;
  f.failure_detail = "tcp 127.0.0.1:5432 refused";
  f.failure_checks = 3;
  f.restart_in_ms = 2000;
  check_reason(f, "unhealthy", "unhealthy: tcp 127.0.0.1:5432 refused (3 checks); restarting in 2 s", "restarting");
}

TEST_CASE("service_reason: unhealthy while still running") {
  ReasonFacts f = ran(Phase::Running);
  f.unhealthy = true;
  f.health_detail = "health command exited 1";
  check_reason(f, "unhealthy", "unhealthy: health command exited 1", "running");
}

TEST_CASE("service_reason: killed by the OOM killer") {
  ReasonFacts f = ran(Phase::Failed);
  f.last_exit = ExitStatus{0, 9};
  f.oom_killed = true;
  check_reason(f, "oom", "killed by OOM (memory_max)", "failed");
}

TEST_CASE("service_reason: memory_limit, watchdog, start timeout") {
  ReasonFacts f = ran(Phase::Failed);
  f.last_exit = ExitStatus{0, 15};
  f.failure = FailKind::MemoryLimit;
  check_reason(f, "memory-limit", "over memory_limit", "failed");
  f.failure = FailKind::Watchdog;
  check_reason(f, "watchdog", "watchdog timeout", "failed");
  f.failure = FailKind::StartTimeout;
  f.failure_detail = "not ready after 500 ms";
  check_reason(f, "start-timeout", "not ready after 500 ms", "failed");
}

TEST_CASE("service_reason: running, starting, stopping") {
  check_reason(ran(Phase::Running), "running", "running", "running");
  check_reason(ran(Phase::Starting), "starting", "starting", "starting");
  ReasonFacts f = ran(Phase::Stopping, Want::Down);
  check_reason(f, "stop-requested", "stopping by request", "stopping");
  f = ran(Phase::Stopping);
  f.stop_cause = StopCause::Restart;
  check_reason(f, "restart-requested", "stopping to restart", "stopping");
  f.stop_cause = StopCause::Failure;
  f.failure = FailKind::Watchdog;
  check_reason(f, "watchdog", "stopping: watchdog timeout", "stopping");
}

TEST_CASE("human_millis") {
  CHECK(human_millis(10000) == "10 s");
  CHECK(human_millis(100) == "100 ms");
  CHECK(human_millis(0) == "0 ms");
}

// --- LogRepeat: the repeated identical error is logged once, then counted.

#include "procd/log_repeat.hpp"

namespace {

act::Log err(std::string m) { return act::Log{act::Level::Error, Code::ExecFailed, std::move(m)}; }

std::vector<std::string> texts(const std::vector<act::Log>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.message);
  return out;
}

}  // namespace

TEST_CASE("log_repeat: once, then counted until another message") {
  LogRepeat r;
  CHECK(texts(r.feed(err("command not found: slep"))) == std::vector<std::string>{"command not found: slep"});
  for (int i = 0; i < 8; ++i) CHECK(r.feed(err("command not found: slep")).empty());
  CHECK(texts(r.feed(err("5 starts within 10000 ms; not restarting"))) ==
        std::vector<std::string>{"command not found: slep (repeated 8 times)", "5 starts within 10000 ms; not restarting"});
}

TEST_CASE("log_repeat: summaries at 10, 100, ... and on flush; info lines pass") {
  LogRepeat r;
  r.feed(err("x"));
  std::vector<std::string> seen;
  for (int i = 0; i < 120; ++i) {
    for (auto& s : texts(r.feed(err("x")))) seen.push_back(s);
    CHECK(r.feed(act::Log{act::Level::Info, std::nullopt, "state restarting"}).size() == 1);
  }
  CHECK(seen == std::vector<std::string>{"x (repeated 10 times)", "x (repeated 100 times)"});
  auto last = r.flush();
  REQUIRE(last);
  CHECK(last->message == "x (repeated 120 times)");
  CHECK(last->code == Code::ExecFailed);
  CHECK_FALSE(r.flush());
}

// --- The machine keeps the facts the reason reads.

TEST_CASE("machine: spawn failures count toward the start limit; the failed state keeps why") {
  MachineSpec spec;
  spec.restart.policy = RestartPolicyKind::OnFailure;
  spec.restart.delay_ms = 100;
  spec.restart.start_limit_burst = 3;
  spec.restart.start_limit_interval_ms = 10000;
  ServiceState st = step(ServiceState{}, ev::StartRequested{}, 1000, spec).state;
  Millis now = 1000;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(st.phase == Phase::Starting);
    st = step(st, ev::SpawnFailed{make_error(Code::ExecFailed, "command not found: slep (No such file; not in PATH=/bin)")},
              now, spec).state;
    if (st.phase == Phase::Restarting) {
      now = st.deadline;
      st = step(st, ev::TimerFired{}, now, spec).state;
    }
  }
  REQUIRE(st.phase == Phase::Failed);
  CHECK(st.gave_up == GiveUp::StartLimit);
  CHECK(st.gave_up_starts() == 3);
  ReasonFacts f;
  f.phase = st.phase;
  f.ever_ran = true;
  f.spawn_error = st.spawn_error();
  f.gave_up = st.gave_up;
  f.gave_up_starts = st.gave_up_starts();
  f.start_limit_interval_ms = spec.restart.start_limit_interval_ms;
  CHECK(service_reason(f).text == "command not found: slep; giving up after 3 starts in 10 s");
  // A start asked for by a person begins afresh: the old reason is gone.
  st = step(st, ev::StartRequested{}, now + 1, spec).state;
  CHECK(st.phase == Phase::Starting);
  CHECK(st.gave_up == GiveUp::None);
  CHECK(st.spawn_error().empty());
}

TEST_CASE("machine: a stop on request is remembered; a health failure keeps its detail") {
  MachineSpec spec;
  spec.restart.policy = RestartPolicyKind::Always;
  ServiceState st = step(ServiceState{}, ev::StartRequested{}, 1, spec).state;
  st = step(st, ev::Spawned{42}, 2, spec).state;
  REQUIRE(st.phase == Phase::Running);
  st = step(st, ev::HealthFailed{"tcp 127.0.0.1:5432 refused", FailKind::Unhealthy, 3}, 3, spec).state;
  CHECK(st.failure == FailKind::Unhealthy);
  CHECK(st.failure_detail() == "tcp 127.0.0.1:5432 refused");
  CHECK(st.failure_checks() == 3);
  st = step(st, ev::Exited{ExitStatus{0, 15}}, 4, spec).state;
  REQUIRE(st.phase == Phase::Restarting);
  CHECK_FALSE(st.requested_stop);
  st = step(st, ev::StopRequested{}, 5, spec).state;
  CHECK(st.phase == Phase::Stopped);
  CHECK(st.requested_stop);
}

TEST_CASE("service_reason: a failed pre_start has its own code (issue 28)") {
  ReasonFacts f = ran(Phase::Failed);
  f.spawn_error = "pre_start exited 3";
  check_reason(f, "pre-start-failed", "pre_start exited 3", "failed");
}

TEST_CASE("service_reason: a stop held for its dependents says what it waits for, until it is stopping") {
  ReasonFacts f = ran(Phase::Running);
  f.held_stop = StopReason::Requested;
  f.held_for = "web@0, web@1";
  check_reason(f, "stop-held", "stop requested; waiting for web@0, web@1 to stop first", "stopping");
  f.held_stop = StopReason::Dependency;
  f.held_for = "web";
  check_reason(f, "stop-held", "stopping: dependency; waiting for web to stop first", "stopping");
  f.phase = Phase::Restarting;
  check_reason(f, "stop-held", "stopping: dependency; waiting for web to stop first", "stopping");
  f.phase = Phase::Stopped;  // a stale mark never hides where it is
  CHECK(service_reason(f).code != "stop-held");
  f.phase = Phase::Stopping;
  CHECK(service_reason(f).code != "stop-held");
}
