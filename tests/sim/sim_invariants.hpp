// The invariants the driver checks after every step, on what the world saw
// and what the Supervisor shows (Supervisor::snapshot(), counters()). Each
// reports through SimWorld::violate with the invariant's name; README.md
// lists them.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "procd/supervisor.hpp"
#include "sim_config.hpp"
#include "sim_world.hpp"

namespace procd::sim {

// Every live process (or worker left in a group) belongs to the service of
// its name, whose current run it is (no stray process, never two main
// processes for one service); every run the Supervisor believes in is
// alive in the world.
void check_processes(SimWorld& world, const std::vector<ServiceSnapshot>& services);

// The Supervisor counted every spawn the world saw.
void check_spawn_count(SimWorld& world, const SupervisorCounters& counters);

// At quiescence (no stop in progress): the services are exactly the
// config's, and no process runs for a service outside it.
void check_config(SimWorld& world, const std::vector<ServiceSnapshot>& services, const SimConfig& cfg);

// procd's exit code: the ladder's (`expected`: 0, or the code of the
// critical service that ended procd), or 3 only while a process outlives
// its SIGKILL; and no health command is left behind.
// gave_up: procd exited at its [shutdown].kill ceiling (exit code 3 is then
// the ladder's, whether or not its last SIGKILLs ended everything).
void check_exit(SimWorld& world, int code, const std::set<int>& expected, bool gave_up);

// Every health command alive belongs to a service whose run is alive.
void check_health(SimWorld& world);

// A critical service that failed for good (Failed) has begun shutdown.
void check_critical(SimWorld& world, const std::vector<Service*>& services, bool shutting_down);
// issue 28 (sim_stop_rules.cpp): "main-ended" — once the main service's
// run ended (stopped or failed after a start), procd is shutting down;
// "stop-reason" — every stopping service says why its stop began;
// "stop-order" — a stop by request or for a dependency begins only once the
// dependents that need the service have no process; "stop-held" — a stop
// is held only while such a dependent has one.
void check_main_and_stops(SimWorld& world, const std::vector<Service*>& services, bool shutting_down);

// issue 28 (sim_rolls.cpp): `procd restart GROUP --rolling` instead of a
// restart of an instance (when `coin`; said: what the driver says), and
// "roll-unavailable": a roll never has more than max_unavailable of its
// instances not ready by its doing, and never stops one it has not reached.
bool sim_roll(Supervisor& sup, const std::string& name, bool coin, std::string& said,
              std::map<std::string, std::uint64_t>& given_up);  // a request for every instance: forgotten
// An instance the roll has not reached yet keeps its old run: its start
// limit is forgotten (the roll is a request) and, when it runs, it counts as
// ready under the rule it started with (a reload may have made it notify).
void check_rolls(SimWorld& world, Supervisor& sup, std::map<std::string, std::uint64_t>& given_up, std::set<pid_t>& ready_sent);
// The instances a roll under way has still to replace (pending; start-first:
// restarting, the old run up): a later reload that changes only the group's replicas
// keeps the roll going (their runs are of an older config or were asked to
// restart), so it may stop them (replicas-kept excuses them).
std::set<std::string> rolled_instances(Supervisor& sup);
// replicas-kept: procd stopped `name`'s run `pid` for a reason of the run's own
// (unhealthy, watchdog, memory, start timeout), not the reload's: time a spawn
// blocked inside the reload's step let its health check time out (seed 80174).
bool stopped_on_its_own(Supervisor& sup, const std::string& name, pid_t pid);
// The service whose hook process or run's main process `pid` is, by procd's
// account ("": none): a start-first surge promoted while its hook ran (or
// before its run ended) holds it under the instance's name.
std::string pid_holder(Supervisor& sup, pid_t pid);

// The services whose stop, asked for earlier, is held for their dependents
// (stop order): it may go in a later reload's step, not by the reload's doing.
std::set<std::string> held_stops(Supervisor& sup);

// A notify service is Running only after a READY=1 from its current pid.
void check_notify(SimWorld& world, const std::vector<Service*>& services, const std::set<pid_t>& ready_sent);

// No two services share a cgroup, a log file or a process.
void check_sharing(SimWorld& world, const std::vector<Service*>& services);

// Cgroup mode: an idle service's cgroup is empty; leftovers of an earlier
// procd are killed once procd took their service's cgroup.
void check_cgroups(SimWorld& world, const std::vector<Service*>& services);

// A service that failed by its start limit is not started again without a
// request (`given_up`: its spawn count when it gave up; the driver forgets
// a name on a start / restart of it and on a reload; one waiting for its
// dependencies has a start pending).
void check_start_limit(SimWorld& world, const std::vector<Service*>& services,
                       std::map<std::string, std::uint64_t>& given_up);

// A failed or restarting service says why (a cause is known, never the bare
// state), a waiting or blocked one names its dependency.
void check_reasons(SimWorld& world, const std::vector<Service*>& services, Millis now);

// True while something is still being stopped (quiescence not reached).
bool stop_in_progress(const SimWorld& world, const std::vector<ServiceSnapshot>& services);

}  // namespace procd::sim
