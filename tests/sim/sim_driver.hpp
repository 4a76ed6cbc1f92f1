// The simulator's driver: one sequence = a seed and a number of steps. The
// seed drives a std::mt19937_64 that picks one event per step (time passes
// to the next deadline or by a random amount, a process ends, a control
// action, a reload with a random diff, a notify message from a run, a
// signal to procd, a quiescence check, procd's own shutdown); after each step the loop runs without blocking (settle()) and
// every invariant (sim_invariants.hpp) is checked. Each step draws from
// an RNG of its own (seeded by the seed and the step's index), so a replay
// that leaves steps out (SimOptions::keep) runs the kept ones as they were
// drawn (the world then differs from the step left out on). After the last step procd
// is shut down and its exit code judged. The same (seed, steps) replays the
// same sequence exactly: nothing reads real time and every choice comes
// from the seed.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "sim_world.hpp"

namespace procd::sim {

struct SimOptions {
  std::uint64_t seed = 1;
  int steps = 200;
  std::vector<int> keep;          // non-empty: only these step indexes run (a shrunk replay), each as in the full run
  std::string dir;                // scratch directory (config, socket, pid file)
  std::set<std::string> allowed;  // invariants tolerated: known defects (known_failures.txt)
  std::set<std::string> avoided;  // triggers of known defects the driver leaves out (kAvoidable)
};

struct SimOutcome {
  bool failed = false;
  Violation violation;            // the first one not allowed
  int step = -1;                  // the step it came in; == steps: the final shutdown
  std::set<std::string> allowed_seen;  // allowed invariants that were violated
  int exit_code = -1;
  std::vector<std::string> trace;
};

SimOutcome run_sequence(const SimOptions& opt);

// What --avoid may name (known defects' triggers, known_failures.txt):
// "readd-while-stopping" (a reload never re-adds a service whose removed
// copy is still stopping), "control-on-removing" (no start or restart of a
// service a reload removed), "broken-command-zero-delay" (a broken command
// spawns after all while its service restarts with no delay).
inline const std::set<std::string> kAvoidable = {"readd-while-stopping", "control-on-removing",
                                                 "broken-command-zero-delay"};

}  // namespace procd::sim
