// Reload: parse and validate the file again and apply the difference. An
// invalid file changes nothing (every error is logged and returned); a
// valid one starts added services, stops removed ones, restarts changed
// ones that were up, and leaves the rest running with the same PID.
// Logging, shutdown timeouts, signals and monitoring apply live; the
// control socket, pid_file and name need a restart of procd (reported).
// Reloads are synchronous on the loop, so two can never interleave; one
// arriving during shutdown is ignored. Nothing is erased here: removed
// services are only marked, and settle() forgets them once they are idle.
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "procd/config_load.hpp"
#include "procd/logging.hpp"
#include "procd/self_stats.hpp"
#include "procd/supervisor.hpp"
#include "rolling_restart.hpp"
#include "service_host.hpp"

namespace procd {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "-" : out;
}

}  // namespace

ReloadOutcome Supervisor::reload(const std::string& source, bool only_if_changed) {
  ReloadOutcome out;
  if (ladder_.active()) {
    out.skipped = true;
    Log::write(LogLevel::Info, fmt::format("reload ({}) ignored: shutting down", source));
    return out;
  }
  // A token file removed, emptied or made unsafe revokes its token now,
  // whether or not the rest of this reload is accepted.
  front_->recheck_token(source);
  // Parsed before the "unchanged" check: the hash covers every included
  // file, and which files those are is only known once `include` is read.
  LoadResult loaded = load_config(cfg_.path);
  if (only_if_changed && loaded.content_hash != 0 && loaded.content_hash == applied_hash_) {
    out.skipped = true;
    Log::write(LogLevel::Debug, fmt::format("reload ({}): content unchanged", source));
    if (watcher_) watch_config_files(loaded.read_at_ns);  // e.g. an empty conf.d appeared: watch it now
    release_free_heap();  // the parse's peak does not stay resident
    return out;
  }
  if (!loaded.ok()) {
    ++counters_.reloads_failed;
    out.errors = loaded.errors;
    Log::write(LogLevel::Error, fmt::format("reload ({}) rejected: {} error(s); the running config is kept", source,
                                            out.errors.size()), code_fields(out.errors.empty() ? Code::ConfigSyntax : out.errors.front().code));
    for (const auto& e : out.errors) {
      std::string where = e.where ? fmt::format("{}:{}:{}: ", e.where->file, e.where->line, e.where->column) : "";
      Log::write(LogLevel::Error, where + (e.key_path.empty() ? "" : e.key_path + ": ") + e.message, code_fields(e.code));
    }
    if (loaded.content_hash != 0) applied_hash_ = loaded.content_hash;  // don't re-report the same bad content on every event
    return out;
  }
  out.ok = true;
  out.diff = diff_configs(cfg_, *loaded.config);
  ++counters_.reloads_ok;
  applied_hash_ = loaded.content_hash;
  Log::write(LogLevel::Info, fmt::format("reload ({}): added {}; removed {}; changed {}; kept {}", source, join(out.diff.added),
                                         join(out.diff.removed), join(out.diff.changed), join(out.diff.kept)));
  for (const auto& what : out.diff.needs_procd_restart)
    Log::write(LogLevel::Warn, fmt::format("reload: [{}] changed; it takes effect when procd restarts", what));
  manager_.reloading();
  apply_reload(std::move(*loaded.config), out.diff);
  manager_.reloaded();
  release_free_heap();
  if (watcher_) watch_config_files(loaded.read_at_ns);  // drop-ins may have come or gone
  return out;
}

void Supervisor::watch_config_files(std::int64_t read_at_ns) {
  for (const auto& e : watcher_->watch(cfg_.sources.empty() ? std::vector<std::string>{cfg_.path} : cfg_.sources,
                                       cfg_.include_globs, read_at_ns))
    Log::write(LogLevel::Warn, e.message, code_fields(e.code));
}

void Supervisor::apply_reload(Config next, const ConfigDiff& diff) {
  // What cannot change while running stays as it is; [control].http and
  // http_token_file apply live when they can (a failed rebind keeps the old).
  front_->reload_http(next.control);
  next.control = cfg_.control;
  next.pid_file = cfg_.pid_file;
  next.name = cfg_.name;
  if (diff.logging_changed) {
    if (auto r = Log::setup(next.logging); !r.ok()) {
      Log::error(r.error());
      next.logging = cfg_.logging;
    }
  }
  for (auto& s : services_) s->keep_config();  // their entries go with the old config
  cfg_ = std::move(next);
  if (diff.signals_changed) install_signals();

  std::vector<std::string> wanted_up;
  for (auto& s : services_)
    if (s->intent().wants_up()) wanted_up.push_back(s->name());
  std::map<std::string, std::vector<Service*>> rolled;  // group -> its changed instances that were up
  for (const ReloadAction& a : plan_reload(diff, wanted_up)) {
    if (a.step == ReloadStep::Add) {
      pending_added_.push_back(a.service);  // created by settle(), outside any loop over services
      continue;
    }
    Service* s = index_.find(a.service);
    if (!s) continue;
    // A copy a reload removed is still stopping and a later one added the
    // name again: the new service waits in pending_added_ (made from the
    // config of that time); the old copy keeps its own config (its files,
    // signals, timeouts) until it is forgotten.
    if (s->intent().removing) continue;
    if (a.step == ReloadStep::Remove) {
      s->mark_removing();  // forgotten by settle() once idle
      stop_service(*s, StopReason::Reload);
      rolls_->removed(a.service);  // issue 28: a start-first new run beside it goes too
      continue;
    }
    const ServiceConfig& sc = *cfg_.find_service(a.service);
    s->set_spec(machine_spec_of(sc, cfg_.stop_timeout_of(sc)));  // live settings, e.g. a new default stop timeout
    if (a.step == ReloadStep::Refresh) {
      s->use_config(sc);  // the same content
      continue;
    }
    s->take_config(sc);
    // issue 28: a changed instance whose new run starts beside it (start-first) rolls again too.
    if (!sc.group.empty() && (a.step == ReloadStep::Restart || rolls_->surge_of(a.service, true))) rolled[sc.group].push_back(s);
    else if (a.step == ReloadStep::Restart) restart_service(*s, StopReason::Reload);
  }
  index_.rebuild(services_);  // depends_on may have changed
  // issue 28: the changed instances of a replicated service restart by a
  // roll, which takes over a roll of them under way (rolling_restart.hpp).
  for (auto& [group, instances] : rolled) {
    auto roll = rolls_->begin(group, instances, instances.front()->config().replica_group.max_unavailable, true);
    if (roll.ok()) continue;
    Log::write(LogLevel::Error, fmt::format("{}; restarting its changed instances at once", roll.error().message),
               svc_fields(group, 0, roll.error().code));
    for (Service* s : instances) restart_service(*s, StopReason::Reload);
  }
  dirty_ = true;
}

// settle(): services a reload added (and a later reload did not drop).
void Supervisor::add_pending() {
  if (pending_added_.empty()) return;
  std::vector<std::string> names = std::move(pending_added_);
  pending_added_.clear();
  std::vector<Service*> added;
  for (const auto& name : names) {
    const ServiceConfig* sc = cfg_.find_service(name);
    if (!sc) continue;  // a later reload dropped it again
    if (Service* old = index_.find(name)) {
      // Re-added while its removed copy still stops: created once that copy
      // is forgotten (forget_removed marks the settle dirty), so two copies
      // never share a name, a cgroup or a log file.
      if (old->intent().removing) pending_added_.push_back(name);
      continue;
    }
    services_.push_back(std::make_unique<Service>(*host_, *sc));
    added.push_back(services_.back().get());
  }
  index_.rebuild(services_);
  for (Service* s : added) {
    s->open_files();
    if (s->config().autostart && !ladder_.active()) start_service(*s, StartBy::Fleet);
  }
}

// settle(): services a reload removed are forgotten once idle and stopped.
void Supervisor::forget_removed() {
  auto gone = [](const std::unique_ptr<Service>& s) {
    return s->intent().removing && s->idle() && (s->state().phase == Phase::Stopped || s->state().phase == Phase::Failed);
  };
  if (std::none_of(services_.begin(), services_.end(), gone)) return;
  for (auto& s : services_)
    if (gone(s)) {
      s->release_cgroup();
      Log::write(LogLevel::Info, "removed", svc_fields(s->name()));
    }
  std::erase_if(services_, gone);
  index_.rebuild(services_);
  dirty_ = true;
}

}  // namespace procd
