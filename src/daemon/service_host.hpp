// Supervisor::Host: what every service shares at the edge, and what a
// Service may ask of the Supervisor (ServiceHost, service.hpp). It owns the
// cgroup tree and the group census, the sd_notify socket, the pid index of
// runs and health commands until they are reaped, procd's inherited
// environment and the own-log hold; everything else it asks the Supervisor
// (the event queue, phases published, followers). Nothing here decides
// anything about a service.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "procd/group_census.hpp"
#include "procd/notify.hpp"
#include "procd/supervisor.hpp"

namespace procd {

class Supervisor::Host final : public ServiceHost, public ChildReaper {
 public:
  explicit Host(Supervisor& s);
  ~Host() override;

  // ServiceHost.
  uv_loop_t* loop() override { return &s_.loop_; }
  Millis now() override { return s_.now(); }
  SystemCalls& sys() override { return s_.sys_; }
  ChildReaper& reaper() override { return *this; }
  const Config& config() const override { return s_.cfg_; }
  const std::vector<std::string>& base_env() const override { return base_env_; }
  CgroupTree* cgroups() override { return cgroups_.get(); }
  bool group_alive(pid_t pgid) override;
  std::vector<std::string> service_names() const override;
  std::string notify_socket() override;
  Millis extend_cap() override;
  void dispatch(Service& svc, Event event) override { s_.dispatch(svc, std::move(event)); }
  void spawned(Service& svc, pid_t pid) override;
  void published(Service& svc, Phase phase) override { s_.publish(svc, phase); }
  void health_changed(Service& svc) override { s_.front_->publish_event(svc, svc.state().phase); }
  bool logs_followed() const override;
  void log_line(Service& svc, const LogLine& line) override { s_.front_->publish_log_line(svc, line); }
  bool own_log_held() const override { return log_held_; }
  void own_log_backlogged() override;

  // ChildReaper: health command exits.
  void watch_child(pid_t pid, std::function<void(int code, int signal)> on_exit) override;
  // A health command not reaped yet (a stopped checker SIGKILLed it): the shutdown waits for it.
  bool children_pending() const { return !child_watchers_.empty(); }

  // What the Supervisor drives.
  void setup_cgroups();     // service_cgroup.cpp
  void teardown_cgroups();
  void forget_census() { census_.reset(); }  // the process table may have changed
  // A reaped child: a health command's watcher runs (nullptr, true); a run's
  // main process gives its service (svc, true); an orphan (nullptr, false).
  std::pair<Service*, bool> reaped(pid_t pid, int code, int signal);
  void own_log_drained() { log_drained_ = true; }
  void resume_own_log();    // settle(): the own log drained, read the held services again
  void close_notify();
  void on_notify(pid_t sender, const std::map<std::string, std::string>& fields);

 private:
  Service* service_of_pid(pid_t pid);

  Supervisor& s_;
  std::vector<std::string> base_env_;
  std::unique_ptr<CgroupTree> cgroups_;  // null: the process-group fallback
  // Groups alive after their leader was reaped (group_census.hpp): taken
  // when first asked, dropped at the next loop phase (prepare, check) and at
  // every reap, so every draining service is answered from one /proc pass.
  std::optional<GroupCensus> census_;
  std::unique_ptr<NotifyServer> notify_;
  std::unordered_map<pid_t, Service*> by_pid_;  // every run's main process until reaped
  std::unordered_map<pid_t, std::function<void(int, int)>> child_watchers_;
  bool log_held_ = false;     // procd's own log is backlogged: own-log services are not read
  bool log_drained_ = false;  // Log's on_drained came: settle() resumes them
};

}  // namespace procd
