// issue 28: rolling restarts in the simulator (sim_invariants.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "../../src/daemon/rolling_restart.hpp"
#include "procd/service.hpp"
#include "sim_invariants.hpp"

namespace procd::sim {

bool sim_roll(Supervisor& sup, const std::string& name, bool coin, std::string& said,
              std::map<std::string, std::uint64_t>& given_up) {
  auto at = name.find('@');
  if (!coin || at == std::string::npos) return false;
  const std::string group = name.substr(0, at);
  Request req;
  req.verb = "restart";
  req.names = {group};
  auto which = sup.select(req, false);
  if (!which.ok() || which->empty()) return false;
  for (Service* s : *which)
    if (s->intent().removing) return false;  // control_verbs.cpp refuses it
  for (Service* s : *which) given_up.erase(s->name());
  auto r = Rolls::of(sup).begin(group, *which, which->front()->config().replica_group.max_unavailable);
  said = r.ok() ? fmt::format("procd restart {} --rolling ({} instances, bound {} ms)", group, which->size(), *r)
                : fmt::format("procd restart {} --rolling: refused: {}", group, r.error().message);
  return true;
}

namespace {

Service* find(Supervisor& sup, const std::string& name) {
  Request req;
  req.names = {name};
  auto which = sup.select(req, false);
  return which.ok() && which->size() == 1 ? which->front() : nullptr;
}

// Start-first (rolling_surge.cpp): an instance's old run is stopped by the
// roll only once its new run (NAME+ / NAME~) is ready, so the roll never
// makes an instance unavailable; and at most max_unavailable instances have
// two runs at once (instances + max_unavailable processes).
void check_start_first(SimWorld& world, Supervisor& sup, const RollView& v) {
  int runs = 0;
  for (const auto& n : v.instances) {
    Service* old = find(sup, n);
    Service* surge = Rolls::of(sup).surge_of(n);
    if (old && old->has_process()) ++runs;
    if (surge && surge != old && surge->has_process()) ++runs;
    if (!old || old == surge || old->intent().removing) continue;
    const ServiceState& st = old->state();
    bool stopped_by_roll = st.phase == Phase::Stopping && st.stop_reason() == StopReason::Rolling;
    // The new run may end on its own after it was ready (its own behaviour, not the roll's).
    bool new_was_ready = surge && (surge->state().phase == Phase::Running || surge->stats().start_seconds.count > 0);
    if (stopped_by_roll && !new_was_ready)
      world.violate("roll-unavailable", fmt::format("start-first roll {}: {} is stopped before its new run is ready", v.name, n));
  }
  if (runs > static_cast<int>(v.instances.size()) + v.max_unavailable)
    world.violate("roll-unavailable", fmt::format("start-first roll {}: {} runs of {} instances, max_unavailable {}", v.name, runs,
                                                  v.instances.size(), v.max_unavailable));
}

// A new run NAME+ / NAME~ lives only for a roll under way: once its roll
// stopped, one whose old run still serves was abandoned (removing) and one
// already retiring that old run is promoted when it is gone; none is started
// (or left) beside an instance that serves on (seed 3259: no roll is left to
// retire or abandon it).
void check_surges_left(SimWorld& world, Supervisor& sup) {
  auto all = sup.select(Request{}, true);
  if (!all.ok()) return;
  std::set<std::string> rolling;
  for (const RollView& v : Rolls::of(sup).views())
    if (!v.over) rolling.insert(v.instances.begin(), v.instances.end());
  for (const Service* s : *all) {
    const std::string& n = s->name();
    const std::string base = !n.empty() && (n.back() == '+' || n.back() == '~') ? n.substr(0, n.size() - 1) : std::string();
    if (base.empty() || s->intent().removing || rolling.count(base)) continue;
    const Service* old = find(sup, base);
    if (!old || old == s || old->intent().removing) continue;
    const Phase p = old->state().phase;
    if (p == Phase::Stopping || p == Phase::Stopped || p == Phase::Failed) continue;  // retiring: promoted once it is gone
    world.violate("surge-left", fmt::format("{} ({}) runs beside {} ({}), but no roll of {} is under way", s->name(),
                                            phase_name(s->state().phase), base, phase_name(p), base));
  }
}

}  // namespace

std::set<std::string> rolled_instances(Supervisor& sup) {
  std::set<std::string> out;
  for (const RollView& v : Rolls::of(sup).views()) {
    if (v.over) continue;
    out.insert(v.pending.begin(), v.pending.end());
    if (v.start_first) out.insert(v.restarting.begin(), v.restarting.end());  // NAME is the old run, retired once NAME+ is ready
  }
  return out;
}

bool stopped_on_its_own(Supervisor& sup, const std::string& name, pid_t pid) {
  Service* s = find(sup, name);
  // Its run, or none since (ended, a restart pending); a later run: why this one stopped is no longer known.
  if (!s || (s->state().pid != pid && s->state().pid != 0)) return false;
  StopReason why = s->state().stop_reason();
  return why == StopReason::Unhealthy || why == StopReason::Watchdog || why == StopReason::Memory ||
         why == StopReason::StartTimeout;
}

std::string pid_holder(Supervisor& sup, pid_t pid) {
  auto all = sup.select(Request{}, true);
  if (!all.ok() || pid <= 0) return {};
  for (const Service* s : *all)
    for (int k = 0; k < kHookKinds; ++k)
      if (s->hook_pid(static_cast<HookKind>(k)) == pid || s->state().pid == pid) return s->name();
  return {};
}

void check_rolls(SimWorld& world, Supervisor& sup, std::map<std::string, std::uint64_t>& given_up, std::set<pid_t>& ready_sent) {
  for (const RollView& v : Rolls::of(sup).views()) {
    if (v.over) {  // its last restarts were requests too (a new run may have given up in the same step)
      for (const auto& n : v.restarting) given_up.erase(n);
      // A roll that stopped within its first step: the old runs it never replaced keep serving under the
      // new config (start-first: the instances, whose new runs were abandoned).
      for (const auto& n : v.pending)
        if (Service* s = find(sup, n); s && s->state().phase == Phase::Running && s->state().pid > 0) ready_sent.insert(s->state().pid);
      if (v.start_first)
        for (const auto& n : v.restarting)
          if (Service* s = find(sup, n); s && s->state().phase == Phase::Running && s->state().pid > 0) ready_sent.insert(s->state().pid);
      continue;
    }
    int down = 0;
    for (const auto& n : v.instances) {
      Request req;
      req.names = {n};
      auto which = sup.select(req, false);
      if (!which.ok() || which->size() != 1) continue;
      const ServiceState& st = which->front()->state();
      bool restarting = std::find(v.restarting.begin(), v.restarting.end(), n) != v.restarting.end();
      bool pending = std::find(v.pending.begin(), v.pending.end(), n) != v.pending.end();
      bool stopped_by_roll = st.phase == Phase::Stopping && st.stop_reason() == StopReason::Rolling;
      // A reload during the roll restarts the group's changed instances by a roll that takes this one
      // over (never all at once): an instance of a roll under way stopping for a reload is down too.
      bool stopped_by_reload = st.phase == Phase::Stopping && st.stop_reason() == StopReason::Reload &&
                               !which->front()->intent().removing;
      if (pending || restarting) given_up.erase(n);  // the roll asked for (or will ask for) its start
      if (pending && st.phase == Phase::Running && st.pid > 0) ready_sent.insert(st.pid);
      // Start-first: the old run keeps serving, under the reload's config, while its new run starts.
      if (v.start_first && restarting && st.phase == Phase::Running && st.pid > 0 && Rolls::of(sup).surge_of(n) != which->front())
        ready_sent.insert(st.pid);
      if (v.start_first) continue;  // check_start_first
      if (pending && stopped_by_roll)
        world.violate("roll-unavailable", fmt::format("roll {}: {} is stopped by the roll before its turn", v.name, n));
      if ((restarting && st.phase != Phase::Running) || (!restarting && (stopped_by_roll || stopped_by_reload))) ++down;
    }
    if (v.start_first) check_start_first(world, sup, v);
    else if (down > v.max_unavailable)
      world.violate("roll-unavailable", fmt::format("roll {}: {} instances not ready by its doing, max_unavailable {}", v.name,
                                                    down, v.max_unavailable));
  }
  check_surges_left(world, sup);
  Rolls::of(sup).forget_finished();
}

}  // namespace procd::sim
