// Rolls (rolling_restart.hpp): the daemon's side of rolling restarts.
// Order of a step: observe every instance of the roll (phase, run counter),
// let the pure Roll decide, restart what it returns, then arm the timer at
// its next deadline. Restarting publishes phases synchronously; those
// re-entrant calls only count runs and ask for one more step.
#include "rolling_restart.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "procd/front_ends.hpp"
#include "procd/logging.hpp"
#include "procd/protocol.hpp"
#include "procd/supervisor.hpp"
#include "procd/timer.hpp"

namespace procd {

struct Rolls::One {
  std::string name;
  std::vector<std::string> instances;
  int max_unavailable = 1;
  Roll roll;
  Timer timer;
  bool over = false;
  bool start_first = false;
};

namespace {
bool start_first_of(const std::vector<Service*>& instances) {
  return !instances.empty() && instances.front()->config().replica_group.start_first;
}
}  // namespace

Rolls::Rolls(Supervisor& sup) : sup_(sup) {}
Rolls::~Rolls() = default;

Result<std::int64_t> Rolls::begin(const std::string& name, const std::vector<Service*>& instances, int max_unavailable,
                                  bool take_over) {
  std::vector<std::string> names;
  for (Service* s : instances) names.push_back(s->name());
  std::vector<std::string> adopted;  // restarting in a roll this one takes over
  // A reload's roll also takes over the instances a roll this reload already
  // stopped (it removed some of its instances) was restarting: still not
  // ready, they count against this roll's max_unavailable.
  if (take_over && !start_first_of(instances))
    for (auto& r : rolls_)
      if (r->over)
        for (const auto& n : r->roll.restarting())
          if (Service* s = sup_.index_.find(n); s && s->intent().wants_up() && s->state().phase != Phase::Running &&
                                                s->state().phase != Phase::Failed &&
                                                std::find(names.begin(), names.end(), n) != names.end())
            adopted.push_back(n);
  reap();
  if (sup_.shutting_down()) return make_error(Code::RollBusy, "procd is shutting down");
  std::int64_t per = 0;
  const bool start_first = start_first_of(instances);
  for (Service* s : instances) {
    // Start-first: the new run must be ready within start_timeout_ms (the old one serves meanwhile).
    per = std::max<std::int64_t>(per, (start_first ? 0 : s->spec().stop_timeout_ms) + s->spec().start_timeout_ms);
  }
  for (auto& r : rolls_) {
    bool shares = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      return std::find(r->instances.begin(), r->instances.end(), n) != r->instances.end();
    });
    if (!shares || r->over) continue;
    if (!take_over) return make_error(Code::RollBusy, fmt::format("a rolling restart of \"{}\" is already under way", r->name));
    for (const auto& n : r->roll.restarting())
      if (std::find(names.begin(), names.end(), n) != names.end() &&
          std::find(adopted.begin(), adopted.end(), n) == adopted.end())
        adopted.push_back(n);
    finish(*r, false, Code::RollBusy,
           fmt::format("a reload changed {} during the roll; the reload's roll takes over", name));
  }
  // Start-first: the surges not yet ready were abandoned (finish()); one whose old run already
  // stops is in flight: adopted, promoted, then surged again with this config (rolling_surge.cpp).
  if (start_first) adopted = adopt_retiring(names);
  int bound = std::max({1, max_unavailable, static_cast<int>(adopted.size())});  // what the views (the simulator) check
  auto r = std::make_unique<One>(One{name, names, bound, Roll(names, max_unavailable, per, start_first ? RollMode::StartFirst : RollMode::StopFirst),
                                     {}, false, start_first});
  One& one = *r;
  rolls_.push_back(std::move(r));
  one.timer.init(sup_.loop(), [this, &one] { step(one); });
  Log::write(LogLevel::Info,
             fmt::format("rolling restart of {}: {} instance(s), at most {} not ready at once{}", name, names.size(),
                         std::max(1, max_unavailable),
                         adopted.empty() ? std::string() : fmt::format(" ({} already restarting)", adopted.size())),
             svc_fields(name));
  for (const auto& n : adopted)
    one.roll.adopt(n, start_first ? observe_start_first(n, *sup_.index_.find(n)).run_id : runs_[n] + 1, sup_.now());
  stepping_ = true;  // the restarts below publish phases: one step after them
  for (const auto& n : start_first ? std::vector<std::string>{} : adopted) {
    Service* s = sup_.index_.find(n);
    Phase p = s ? s->state().phase : Phase::Stopped;
    if (s && (p == Phase::Starting || p == Phase::Running)) sup_.restart_service(*s, StopReason::Rolling);  // the old config
  }
  stepping_ = false;
  step(one);
  // Every instance in turn (at most max_unavailable at once), each within its deadline.
  auto waves = static_cast<std::int64_t>((names.size() + static_cast<std::size_t>(one.max_unavailable) - 1) /
                                         static_cast<std::size_t>(one.max_unavailable));
  return waves * (start_first ? per + 2 * instances.front()->spec().stop_timeout_ms : per);  // + retiring the old
}

void Rolls::on_phase(Service& svc, Phase phase) {
  if (rolls_.empty()) return;
  std::string n = svc.name();
  for (const auto& [inst, surge] : surges_)
    if (surge.svc == &svc) n = inst;  // a surge's phases are its instance's
  bool mine = false;
  for (auto& r : rolls_)
    if (!r->over && std::find(r->instances.begin(), r->instances.end(), n) != r->instances.end()) mine = true;
  if (!mine) return;
  if (phase == Phase::Starting) ++runs_[n];
  if (stepping_) {
    again_ = true;
    return;
  }
  step_rolls_of(n);
}

void Rolls::step_rolls_of(const std::string& n) {
  for (std::size_t k = 0; k < rolls_.size(); ++k) {  // finish() never erases: reap() does, outside
    One& r = *rolls_[k];
    if (!r.over && std::find(r.instances.begin(), r.instances.end(), n) != r.instances.end()) step(r);
  }
}

void Rolls::step(One& r) {
  if (r.over) return;
  if (sup_.shutting_down()) return finish(r, false, Code::RollBusy, fmt::format("{}: procd began shutting down; the roll stopped", r.name));
  stepping_ = true;
  do {
    again_ = false;
    std::vector<RollObservation> seen;
    for (const auto& n : r.instances) {
      Service* s = sup_.index_.find(n);
      auto sg = surges_.find(n);
      bool retiring = sg != surges_.end() && sg->second.retired;  // the old one, stopped by the roll itself
      if (!s && retiring) s = sg->second.svc;                     // forgotten, its surge not yet promoted
      if (!s || (s->intent().removing && !retiring)) {
        stepping_ = false;
        return finish(r, false, Code::RollBusy, fmt::format("{} was removed by a reload; the roll stopped", n));
      }
      if (r.start_first) {
        seen.push_back(observe_start_first(n, *s));
        continue;
      }
      Phase p = s->state().phase;
      RollSeen how = p == Phase::Running ? RollSeen::Ready
                     : (p == Phase::Failed || p == Phase::Stopped || p == Phase::Restarting) ? RollSeen::Failed
                                                                                              : RollSeen::NotReady;
      seen.push_back(RollObservation{how, runs_[n] + 1, s->reason(sup_.now()).text});
    }
    RollActions acts = r.roll.decide(sup_.now(), seen);
    if (r.start_first) act_start_first(acts);
    else
      for (const auto& n : acts.start)
        if (Service* s = sup_.index_.find(n)) sup_.restart_service(*s, StopReason::Rolling);
  } while (again_ && !r.roll.done() && !r.roll.failed());
  stepping_ = false;
  if (r.roll.done())
    return finish(r, true, Code::RollStopped,
                  r.start_first ? fmt::format("{}: {} instance(s) replaced, each old run stopped once its new one was ready", r.name,
                                              r.instances.size())
                                : fmt::format("{}: {} instance(s) restarted one at a time", r.name, r.instances.size()));
  if (r.roll.failed()) return finish(r, false, r.roll.timed_out() ? Code::RollTimeout : Code::RollStopped, r.roll.reason());
  Millis due = r.roll.next_deadline();
  if (due >= 0) r.timer.schedule(std::max<Millis>(0, due - sup_.now()));
}

void Rolls::finish(One& r, bool ok, Code code, const std::string& text) {
  r.over = true;
  r.timer.cancel();
  // A new run whose old one still serves goes; one already retiring is promoted and then keeps
  // serving, as the old runs a stopped roll leaves do: no roll is left to surge it again (a roll
  // taking this one over adopts it afresh: begin()).
  for (const auto& n : r.instances)
    if (auto it = surges_.find(n); it != surges_.end() && !it->second.retired) abandon(n);
    else if (it != surges_.end()) it->second.again = false;
  if (ok) Log::write(LogLevel::Info, "rolling restart done: " + text, svc_fields(r.name));
  else Log::write(LogLevel::Error, "rolling restart stopped: " + text, svc_fields(r.name, 0, code));
  ServiceEventView ev{wall_clock_ms(), r.name, ok ? "rolled" : "roll-stopped", 0, {}};
  ev.condition = "roll";
  ev.reason = text;
  if (!ok) ev.reason_code = std::to_string(static_cast<int>(code));
  sup_.front_->publish_item(r.name, event_item(ev));
}

void Rolls::reap() {
  rolls_.erase(std::remove_if(rolls_.begin(), rolls_.end(), [](const auto& r) { return r->over; }), rolls_.end());
  if (rolls_.empty()) runs_.clear();
}

std::vector<RollView> Rolls::views() const {
  std::vector<RollView> out;
  for (const auto& r : rolls_)
    out.push_back(RollView{r->name, r->instances, r->max_unavailable, r->roll.restarting(), r->roll.pending(), r->over,
                           r->start_first});
  return out;
}

Rolls& Rolls::of(Supervisor& sup) { return *sup.rolls_; }
Rolls& FrontEnds::rolls() { return Rolls::of(sup_); }

}  // namespace procd
