// Rolling restarts in the daemon (issue 28): the Supervisor's one Rolls
// object drives a pure Roll (procd/rolling.hpp) per rolled service. It is
// event-driven: each phase the Supervisor publishes for an instance of a
// roll re-judges that roll, and a timer armed at the roll's next deadline
// is the only other wake-up (no polling). Restarts go through
// Supervisor::restart_service with StopReason::Rolling. A run counter per
// instance (the Starting phases seen) tells a new run from the old one.
// The outcome (done, or stopped with 4014/4015/4016) is logged and sent to
// `events` subscribers as an item for the rolled NAME with state "rolled"
// or "roll-stopped". A reload during a roll: see begin(take_over); a reload
// that removes an instance of a roll stops it (4016).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "procd/error.hpp"
#include "procd/rolling.hpp"
#include "procd/service_machine.hpp"

namespace procd {

class Service;
class Supervisor;

// What the simulator's invariant sees of one roll under way.
struct RollView {
  std::string name;
  std::vector<std::string> instances;
  int max_unavailable = 1;
  std::vector<std::string> restarting;  // restarted by the roll, new run not yet ready
  std::vector<std::string> pending;     // not yet restarted by the roll
  bool over = false;                    // finished (kept until the next begin or forget_finished)
  bool start_first = false;             // restarting = surging (new run beside the old) or retiring the old
};

class Rolls {
 public:
  explicit Rolls(Supervisor& sup);
  ~Rolls();
  Rolls(const Rolls&) = delete;
  Rolls& operator=(const Rolls&) = delete;

  // Roll `instances` (in this order) under `name`. Returns the bound on how
  // long the roll may take (ms). RollBusy while a roll shares an instance,
  // unless `take_over` (a reload's roll): then such a roll stops (4016,
  // "a reload changed NAME during the roll") and this one adopts the
  // instances it was restarting: one stopping takes the new config at its
  // next start; one already starting again with the old config is
  // restarted once more. No instance is stopped beyond max_unavailable.
  Result<std::int64_t> begin(const std::string& name, const std::vector<Service*>& instances, int max_unavailable,
                             bool take_over = false);
  // Every phase the Supervisor publishes.
  void on_phase(Service& svc, Phase phase);
  std::vector<RollView> views() const;  // under way, and finished ones not yet forgotten
  void forget_finished() { reap(); }
  // Supervisor::settle(), after forget_removed(): start-first surges made
  // and promoted (rolling_surge.cpp). True when services_ changed.
  bool settle();
  // A reload removed `instance`: its surge (start-first) is stopped with it,
  // never promoted (a later reload adding the name again starts a new run).
  void removed(const std::string& instance);
  // The surge running beside `instance` (start-first); null: none.
  // `any`: also one made or asked for but not started yet (then the instance's own Service).
  Service* surge_of(const std::string& instance, bool any = false) const;
  static Rolls& of(Supervisor& sup);  // the Supervisor's (for the front ends and the simulator)

 private:
  struct One;
  // Start-first (rolling_surge.cpp): the new run of an instance is a SURGE,
  // a second Service under the internal name INSTANCE+ (its own cgroup,
  // pid, pipes and machine; the instance's config otherwise), made by
  // settle() beside the old one. Ready: the old instance is stopped along
  // its ladder (StopReason::Rolling); once it is idle it is forgotten and
  // the surge takes the instance's name and config entry (promoted).
  // Failed or late: the surge is stopped and forgotten, the old one serves.
  struct SurgeOf {
    Service* svc = nullptr;  // null until settle() made it
    bool retired = false;    // the old instance was told to stop: promote once it is idle
    bool again = false;      // a later roll (a reload's) started it meanwhile: a new surge once promoted
    bool making = false;     // made by this settle(), started at its end
    bool dropped = false;    // a reload removed the instance: the surge goes too
  };
  void step(One& r);
  void step_rolls_of(const std::string& instance);  // every roll under way of it
  RollObservation observe_start_first(const std::string& n, Service& old);
  void act_start_first(const RollActions& a);
  void abandon(const std::string& instance, bool removed = false);
  std::vector<std::string> adopt_retiring(const std::vector<std::string>& names);
  void finish(One& r, bool ok, Code code, const std::string& text);
  void reap();
  Supervisor& sup_;
  std::vector<std::unique_ptr<One>> rolls_;
  std::map<std::string, std::uint64_t> runs_;  // instance -> Starting phases seen while rolled
  std::map<std::string, SurgeOf> surges_;      // start-first: instance -> its new run beside the old
  bool stepping_ = false;
  bool again_ = false;
};

}  // namespace procd
