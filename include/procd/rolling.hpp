// issue 28: the decisions of a rolling restart of one replicated service,
// as a pure object on fake time (no I/O, no loop): given what the daemon
// sees of each instance, which instances to restart next, and whether the
// roll is done or has stopped. Stop-first: an instance is restarted, and
// counts as unavailable until a NEW run of it (another run id than the one
// it had when the roll restarted it) is ready. At most max_unavailable
// instances are unavailable by the roll's doing at once. A new run that
// fails, gives up, or is not ready within stop + start timeouts of its
// restart stops the roll: nothing further is restarted, the remaining old
// instances keep running, and reason() says which instance and why (its
// own reason, RollObservation::why, as status shows it).
//
// Start-first (rolling = "start-first", for services sharing a port with
// SO_REUSEPORT): the roll STARTS a new run of an instance beside its old
// one (the daemon's Service keeps the old run as its predecessor, still
// supervised along the stop ladder; its exit is no failure and no restart).
// Once the new run is ready the roll RETIRES the old one (stop ladder,
// StopReason::Rolling); the instance is replaced when the old run is gone.
// A new run that fails or is not ready within deadline_ms (the daemon
// passes start_timeout_ms) is ABANDONED (stopped), the old one keeps
// serving, and the roll stops. At most max_unavailable instances have two
// runs at once, so the service never has more than replicas +
// max_unavailable processes and never fewer ready than before the roll.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace procd {

using RollMillis = std::int64_t;

enum class RollSeen { Ready, NotReady, Failed };  // Failed: failed or gave up

enum class RollMode { StopFirst, StartFirst };

struct RollObservation {
  RollSeen seen = RollSeen::NotReady;
  std::uint64_t run_id = 0;  // changes with every new run (e.g. the pid)
  std::string why;           // the instance's own reason as status shows it ("exited 3"); may be empty
  bool old_running = false;  // start-first: the instance's old run (its predecessor) still runs
};

// What the daemon does after a step. Stop-first uses `start` only.
struct RollActions {
  std::vector<std::string> start;    // stop-first: restart; start-first: start a new run beside the old
  std::vector<std::string> retire;   // start-first: the new run is ready: stop the old one
  std::vector<std::string> abandon;  // start-first: the new run failed or is late: stop it, keep the old
};

class Roll {
 public:
  // `instances` in roll order; `deadline_ms`: how long one restarted
  // instance may take to be ready again (its stop + start timeouts).
  Roll(std::vector<std::string> instances, int max_unavailable, RollMillis deadline_ms,
       RollMode mode = RollMode::StopFirst);

  // Before the first step: `name` is already restarting (a roll this one
  // takes over had restarted it): it counts as unavailable from the start
  // and is replaced once a run other than `run_now` is ready. More adopted
  // than max_unavailable: none is stopped, none more restarted until fewer.
  void adopt(const std::string& name, std::uint64_t run_now, RollMillis now);

  // `seen[i]` is instances[i] now. Returns the instances to restart now
  // (the daemon restarts exactly these, then calls again on any change).
  std::vector<std::string> step(RollMillis now, const std::vector<RollObservation>& seen) { return decide(now, seen).start; }
  // Either mode: every action of this step.
  RollActions decide(RollMillis now, const std::vector<RollObservation>& seen);
  RollMode mode() const { return mode_; }

  bool done() const { return state_ == State::Done; }
  bool failed() const { return state_ == State::Failed; }
  const std::string& reason() const { return reason_; }
  bool timed_out() const { return timed_out_; }  // failed: a deadline passed (else a new run failed)
  // Instances unavailable by the roll's doing (restarted, not yet seen
  // ready); start-first: those with two runs (new starting, old retiring).
  int unavailable() const;
  // Instances restarted and not yet seen ready in a new run; not yet restarted.
  std::vector<std::string> restarting() const;
  std::vector<std::string> pending() const;
  // The earliest deadline still pending (for the daemon's timer); -1 none.
  RollMillis next_deadline() const;

 private:
  enum class State { Rolling, Done, Failed };
  enum class Slot { Pending, Restarting, Retiring, Replaced };  // Retiring: start-first, old run stopping
  struct Item {
    std::string name;
    Slot slot = Slot::Pending;
    std::uint64_t old_run = 0;
    RollMillis deadline = 0;
  };
  std::vector<Item> items_;
  int max_unavailable_;
  RollMillis deadline_ms_;
  RollMode mode_;
  State state_ = State::Rolling;
  std::string reason_;
  bool timed_out_ = false;
};

}  // namespace procd
