// The end of one run, as a small pure helper of the service runner. The
// main process's exit (reaped) and the EOF of its output pipes arrive in
// any order, and other processes of its group may linger. The run is over
// when the exit has been seen, every stream is closed and the group is
// empty — or when the drain deadline after the exit passes: then whatever
// is left of the group is killed and the streams are closed, so the last
// lines are read when they can be and a stuck grandchild never holds the
// service. Phases: Idle (no run) → Running (spawned) → Draining (exit seen,
// output or group not done) → Idle. At most one deadline, set once per run.
// A run in a cgroup has a third condition: the cgroup must be empty
// (cgroup.events `populated 0`). When the drain deadline finds it still
// populated, the verdict is Kill (kill the cgroup, close the streams) and
// the run waits for `populated 0` until a second deadline (kill_wait).
#pragma once

#include "procd/service_machine.hpp"

namespace procd {

enum class DrainPhase { Idle, Running, Draining };

struct DrainVerdict {
  enum class Kind {
    Wait,           // nothing to do yet
    Arm,            // arm the drain deadline; signal what is left of the group (gently) first
    Finish,         // the run is over: hand `status` to the machine
    KillAndFinish,  // deadline passed: SIGKILL the group, close the streams, then as Finish
    Kill,           // deadline passed, the cgroup is populated: kill it, close the streams, wait for empty
  };
  Kind kind = Kind::Wait;
  Millis deadline = 0;
  ExitStatus status{};
};

class RunDrain {
 public:
  // A run was spawned with this many output streams being read.
  void started(int open_streams);
  // The main process was reaped. Judge with check() once the reap pass is over.
  void exited(const ExitStatus& status);
  // One output stream reached EOF (or failed). Judge with check().
  void stream_closed();
  // Decide after any fact changed; `group_alive` is judged after reaping.
  // `budget` is how long output may drain after the exit.
  DrainVerdict check(bool group_alive, Millis now, Millis budget);
  // The deadline passed (or a timer fired early: then Wait). With
  // `cgroup_populated`, the first deadline kills and waits `kill_wait` more.
  DrainVerdict deadline_passed(Millis now, bool cgroup_populated = false, Millis kill_wait = 0);

  DrainPhase phase() const { return phase_; }
  Millis deadline() const { return deadline_; }  // 0 = none
  int open_streams() const { return open_; }
  bool exit_pending() const { return phase_ == DrainPhase::Draining; }
  bool killed() const { return killed_; }  // Kill was returned: waiting for the cgroup to empty

 private:
  DrainVerdict finish(DrainVerdict::Kind kind);

  DrainPhase phase_ = DrainPhase::Idle;
  int open_ = 0;
  ExitStatus status_{};
  Millis deadline_ = 0;
  bool killed_ = false;
};

// How long a run's output may drain after its exit: up to 1 s, never more
// than the stop timeout (at least 1 ms).
Millis drain_budget(Millis stop_timeout_ms);
// How long a killed cgroup may take to report `populated 0` before the run
// is declared over anyway (a process stuck in the kernel).
constexpr Millis kCgroupKillWaitMs = 5000;

}  // namespace procd
