// Supervisor::Host (service_host.hpp): the edges every service shares.
#include "service_host.hpp"

#include <fmt/core.h>

#include "procd/logging.hpp"
#include "procd/proc_reader.hpp"

extern char** environ;

namespace procd {

Supervisor::Host::Host(Supervisor& s) : s_(s) {
  for (char** e = environ; e && *e; ++e) base_env_.emplace_back(*e);
}

Supervisor::Host::~Host() { close_notify(); }

bool Supervisor::Host::group_alive(pid_t pgid) {
  if (!s_.sys_.group_exists(pgid)) return false;  // no member at all: no /proc pass
  if (!census_) census_ = s_.sys_.group_census();
  return census_->alive(pgid);
}

std::vector<std::string> Supervisor::Host::service_names() const {
  std::vector<std::string> names;
  names.reserve(s_.services_.size());
  for (const auto& svc : s_.services_) names.push_back(svc->name());
  return names;
}

void Supervisor::Host::spawned(Service& svc, pid_t pid) {
  ++s_.counters_.spawns_total;
  by_pid_[pid] = &svc;
}

bool Supervisor::Host::logs_followed() const {
  return s_.front_->logs_followed();
}

void Supervisor::Host::watch_child(pid_t pid, std::function<void(int, int)> on_exit) {
  child_watchers_[pid] = std::move(on_exit);
}

std::pair<Service*, bool> Supervisor::Host::reaped(pid_t pid, int code, int signal) {
  census_.reset();  // the process table changed
  if (auto w = child_watchers_.find(pid); w != child_watchers_.end()) {
    auto cb = std::move(w->second);
    child_watchers_.erase(w);
    cb(code, signal);
    return {nullptr, true};
  }
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return {nullptr, false};
  Service* svc = it->second;
  by_pid_.erase(it);
  svc->reaped(ExitStatus{code, signal});
  return {svc, true};
}

// ---- procd's own log ----------------------------------------------------------

void Supervisor::Host::own_log_backlogged() {
  log_held_ = true;
  for (auto& s : s_.services_)
    if (!s->to_file()) s->update_reading();
}

void Supervisor::Host::resume_own_log() {
  if (!log_drained_) return;
  log_drained_ = false;
  if (!log_held_ || Log::backlogged()) return;
  log_held_ = false;
  for (auto& s : s_.services_)
    if (!s->to_file()) s->update_reading();
}

// ---- the sd_notify socket -----------------------------------------------------

std::string Supervisor::Host::notify_socket() {
  if (!notify_) {
    notify_ = std::make_unique<NotifyServer>(&s_.loop_, [this](pid_t pid, const std::map<std::string, std::string>& f) {
      on_notify(pid, f);
    });
    if (auto r = notify_->listen(s_.cfg_.control.notify_socket()); !r.ok()) {
      Log::error(r.error());
      notify_.reset();
      return {};
    }
  }
  return notify_->path();
}

void Supervisor::Host::close_notify() {
  if (notify_) notify_->close();
}

Service* Supervisor::Host::service_of_pid(pid_t pid) {
  if (auto it = by_pid_.find(pid); it != by_pid_.end()) return it->second;
  auto st = read_proc_stat(pid);  // a helper process of the service, e.g. a forked worker
  pid_t pgid = st ? st->pgid : -1;
  if (pgid <= 1) return nullptr;
  for (auto& s : s_.services_)
    if (s->state().pid > 0 && s->pgid() == pgid) return s.get();
  return nullptr;
}

void Supervisor::Host::on_notify(pid_t sender, const std::map<std::string, std::string>& fields) {
  Service* svc = service_of_pid(sender);
  if (!svc || !svc->config().uses_notify()) {
    Log::write(LogLevel::Debug, fmt::format("notify message from pid {} ignored: no notify service owns it", sender));
    return;
  }
  svc->on_notify(fields);
}

}  // namespace procd
