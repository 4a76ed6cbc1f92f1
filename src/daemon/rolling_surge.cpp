// Start-first rolls (rolling = "start-first", rolling_restart.hpp): the
// design. One Service object owns one run, so the new run of an instance
// is a SURGE: a second Service, under the internal name INSTANCE+ (or
// INSTANCE~ when the instance's cgroup already carries the + name), with
// the instance's config (command, env, ports, readiness: the same), its
// own cgroup, pid, pipes and machine. It is made by settle() (never inside
// a loop over the services) and started at once; the old instance is not
// touched. The pure Roll (procd/rolling.hpp, RollMode::StartFirst) sees
// the surge as the instance's new run and the old instance as its old run:
//  - surge ready: the old instance is stopped along its ladder
//    (StopReason::Rolling); once idle it is forgotten (as a service a
//    reload removed) and the surge is PROMOTED: it takes the instance's
//    name and config entry, and status shows it as the instance again;
//  - surge failed or not ready within start_timeout_ms: it is stopped and
//    forgotten (abandoned); the old instance keeps serving, same pid.
// While both run, status lists INSTANCE+ beside INSTANCE, and the new
// run's output goes to procd's own log as INSTANCE+ (two writers never
// share a log file); promoted, it writes the instance's file. The old run's
// exit is a requested stop: no failure, no restart policy.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "procd/logging.hpp"
#include "procd/supervisor.hpp"
#include "rolling_restart.hpp"
#include "service_host.hpp"

namespace procd {

Service* Rolls::surge_of(const std::string& instance, bool any) const {
  auto it = surges_.find(instance);
  if (it == surges_.end()) return nullptr;
  return it->second.svc || !any ? it->second.svc : sup_.index_.find(instance);
}

RollObservation Rolls::observe_start_first(const std::string& n, Service& old) {
  auto it = surges_.find(n);
  Service* made = it == surges_.end() ? nullptr : it->second.svc;
  Service& cur = made ? *made : old;  // the new side once the surge is made; after a promotion, the instance
  const Phase p = cur.state().phase;
  RollSeen how = RollSeen::NotReady;
  if (p == Phase::Running) how = RollSeen::Ready;
  else if (p == Phase::Failed || p == Phase::Restarting || (p == Phase::Stopped && !cur.intent().wants_up()))
    how = RollSeen::Failed;
  // The old run counts as running until the surge is promoted (the old instance forgotten).
  return RollObservation{how, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&cur)),
                         cur.reason(sup_.now()).text, made != nullptr};
}

// A roll taking over (a reload's): the instances whose old run already
// stops for a ready surge stay in flight; once promoted they surge again
// (while that roll is under way: finish() drops the "again").
std::vector<std::string> Rolls::adopt_retiring(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (auto it = surges_.find(n); it != surges_.end() && it->second.retired && it->second.svc && sup_.index_.find(n)) {
      it->second.again = true;
      out.push_back(n);
    }
  return out;
}

void Rolls::act_start_first(const RollActions& a) {
  for (const auto& n : a.start) {
    // An earlier roll's surge (a reload took that roll over): one not yet
    // ready goes; one whose old run already stops is promoted first, then
    // surged again with the new config (never both runs of it down).
    if (auto it = surges_.find(n); it != surges_.end() && it->second.retired && it->second.svc) {
      it->second.again = true;
      continue;
    }
    if (surges_.count(n)) abandon(n);
    surges_[n] = SurgeOf{};
    sup_.dirty_ = true;  // settle() makes it
  }
  for (const auto& n : a.retire) {
    surges_[n].retired = true;
    if (Service* old = sup_.index_.find(n)) {
      Log::write(LogLevel::Info, "its new run is ready; stopping the old one (start-first roll)", svc_fields(n, old->state().pid));
      sup_.stop_service(*old, StopReason::Rolling);
    }
  }
  for (const auto& n : a.abandon) abandon(n);
}

void Rolls::removed(const std::string& instance) {
  if (auto it = surges_.find(instance); it != surges_.end()) {
    it->second.dropped = true;
    sup_.dirty_ = true;  // settle() stops it
  }
}

void Rolls::abandon(const std::string& instance, bool removed) {
  auto it = surges_.find(instance);
  if (it == surges_.end()) return;
  Service* s = it->second.svc;
  surges_.erase(it);  // before the stop: its phases are no longer the instance's
  if (!s) return;
  Log::write(LogLevel::Warn,
             removed ? fmt::format("stopping its new run {}: a reload removed the instance", s->name())
                     : fmt::format("stopping its new run {}; the old one keeps serving", s->name()),
             svc_fields(instance));
  s->mark_removing();  // forgotten by settle() once idle
  sup_.stop_service(*s, removed ? StopReason::Reload : StopReason::Rolling);
  sup_.dirty_ = true;
}

bool Rolls::settle() {
  bool changed = false;
  std::vector<std::string> promoted;
  std::vector<std::pair<std::string, Service*>> made;
  std::vector<Service*> dropped;
  std::vector<std::pair<std::string, bool>> gone;  // instance, removed by a reload
  // Nothing below publishes a phase (starts and steps come after the loop):
  // the map is not changed under the iterator.
  for (auto it = surges_.begin(); it != surges_.end();) {
    const std::string n = it->first;
    SurgeOf& sg = it->second;
    Service* old = sup_.index_.find(n);
    if (!sg.svc) {  // make the surge
      if (!old || sup_.shutting_down() || sg.dropped) {
        it = surges_.erase(it);
        continue;
      }
      std::string name = n + "+";
      if (CgroupTree* t = sup_.host_->cgroups(); t && !old->cgroup().empty() && old->cgroup() == t->dir_of(name)) name = n + "~";
      if (sup_.index_.find(name) || sg.making) {  // an abandoned one still stops: made once it is forgotten
        ++it;
        continue;
      }
      ServiceConfig sc = old->config();
      sc.name = name;
      sc.log.file.clear();  // two writers never share a file: procd's own log until it is promoted
      sc.log.stderr_file.clear();
      sc.critical = false;  // its failure abandons the roll's step, never procd (the instance keeps serving)
      sup_.services_.push_back(std::make_unique<Service>(*sup_.host_, sc));
      Service* s = sup_.services_.back().get();
      s->keep_config();  // its own copy: `sc` goes out of scope
      sup_.index_.rebuild(sup_.services_);
      s->open_files();
      changed = true;
      sg.making = true;
      made.emplace_back(n, s);  // the roll sees it once it is started (below): never as a new run that failed to start
    } else if (sg.dropped || (!sg.retired && !old)) {  // a reload removed the instance (no phase of it may follow): its surge goes
      gone.emplace_back(n, true);
    } else if (sg.retired && old && old != sg.svc && old->intent().wants_up() &&
               (old->state().phase == Phase::Running || old->state().phase == Phase::Starting ||
                old->state().phase == Phase::Restarting)) {
      gone.emplace_back(n, false);  // (re)started by hand while it stopped (a failed spawn: restarting): it runs again, the surge goes
    } else if (sg.retired && old && old != sg.svc) {  // the old one stops: forgotten once idle
      if (!old->intent().removing && old->idle() &&
          (old->state().phase == Phase::Stopped || old->state().phase == Phase::Failed)) {
        old->mark_removing();
        changed = true;
      }
    } else if (sg.retired && !old) {  // forgotten: the surge becomes the instance
      Service* s = sg.svc;
      if (const ServiceConfig* sc = sup_.cfg_.find_service(n)) {
        Log::write(LogLevel::Info, fmt::format("{} replaced the old run; it is {} again", s->name(), n), svc_fields(n, s->state().pid));
        s->take_config(*sc);  // the instance's name, log file and readiness
      } else {
        s->mark_removing();  // a reload dropped the instance meanwhile: stopped below
        dropped.push_back(s);
      }
      promoted.push_back(n);
      if (sg.again && sup_.cfg_.find_service(n)) {  // surged again (made in the next round)
        sg = SurgeOf{};
        sup_.dirty_ = true;
        ++it;
        changed = true;
        sup_.index_.rebuild(sup_.services_);
        continue;
      }
      it = surges_.erase(it);
      changed = true;
      sup_.index_.rebuild(sup_.services_);
      continue;
    }
    ++it;
  }
  for (Service* s : dropped) sup_.stop_service(*s, StopReason::Reload);  // erased only by forget_removed: still here
  for (const auto& [n, s] : made) {  // each still wanted: a start may have stopped an earlier one's roll
    auto it = surges_.find(n);
    if (it == surges_.end() || it->second.svc) {
      s->mark_removing();  // never started: forgotten at once
      continue;
    }
    it->second.svc = s;
    it->second.making = false;
    Log::write(LogLevel::Info, fmt::format("start-first roll: starting a new run as {} beside the old one", s->name()), svc_fields(n));
    sup_.start_service(*s, Supervisor::StartBy::Fleet);
  }
  for (const auto& [n, removed] : gone) {
    abandon(n, removed);
    step_rolls_of(n);  // its roll stops: the instance was removed
  }
  for (const auto& n : promoted) {
    // A new run that failed for good after it was ready is the instance's failure now (critical: procd stops).
    if (Service* s = sup_.index_.find(n); s && s->state().phase == Phase::Failed) sup_.publish(*s, Phase::Failed);
    // Promoted with a config whose dependency went down for good meanwhile: it stops as the instance would have.
    if (Service* s = sup_.index_.find(n)) sup_.dependencies_down(*s);
    step_rolls_of(n);  // the instance's phases again: its roll may go on
  }
  return changed;
}

}  // namespace procd
