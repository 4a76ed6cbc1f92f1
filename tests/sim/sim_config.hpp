// The simulator's config: a seeded generator of procd.toml texts and of
// random reload diffs (add a service, remove one, re-add one that is still
// stopping, change a command, a restart policy, autostart, a dependency,
// add or drop a health check, change the ready mode).
// Names come from a small pool with look-alikes (web.api / web_api,
// cron-job / cron_job); a service depends only on names earlier in the
// pool, so every config is acyclic, and depends_on never names a service
// the config lacks, so every generated config is valid. Stop signal and
// stop timeout are fixed per name for a whole sequence (the world judges
// SIGKILLs by them).
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sim_world.hpp"

namespace procd::sim {

struct SimService {
  std::string name;
  int version = 1;                    // the command's last argument: a change restarts it
  std::string restart = "never";      // never | always | on-failure
  std::int64_t delay_ms = 100;
  int start_limit_burst = 0;          // 0: none
  bool autostart = true;
  std::int64_t min_uptime_ms = 0;     // ready = { min_uptime_ms } when ready == "min_uptime"
  std::string ready = "started";      // started | min_uptime | health | notify
  bool health = false;                // health = { command = ["sim-health-NAME"], ... }
  std::int64_t health_interval_ms = 500, health_timeout_ms = 200;
  int health_retries = 2;
  std::int64_t watchdog_ms = 0;       // notify services only
  bool log_file = false;              // log = { file = "NAME.log" }
  bool pre_start = false, stop_command = false, post_stop = false;  // hooks: ["sim-hook-KIND-NAME"] (issue 28)
  std::vector<std::pair<std::string, std::string>> depends_on;  // service, condition
  int replicas = 0;                   // issue 28: 0 = no `replicas` key (one service NAME); else NAME@0..N-1
};

class SimConfig {
 public:
  // A first config of a few services; `dir` is where procd.toml lives.
  SimConfig(std::mt19937_64& rng, std::string dir);

  std::string text() const;
  // One line for the trace: every service with what matters to it, e.g.
  // `web{SIGINT 500ms, always 0ms, after db:started}`.
  std::string describe() const;
  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  // Per name: stop signal and timeout (fixed), zero restart delay (current).
  std::map<std::string, ServiceTraits> traits() const;
  std::int64_t graceful_ms() const { return graceful_; }
  std::int64_t kill_ms() const { return kill_; }
  bool health_checks() const { return health_checks_; }
  const std::string& sighup() const { return sighup_; }  // reload | forward | ignore
  bool forwards_usr1() const { return forward_usr1_; }  // [signals].forward has SIGUSR1 (else it reopens logs)
  // The service's current settings (nullptr: not in the config).
  const SimService* find(const std::string& name) const;  // a service, or the group of an instance NAME@i
  // issue 28: the groups whose only change in the last mutate() was their
  // replica count (their kept instances must keep their pids).
  const std::vector<std::string>& replicas_only() const { return replicas_only_; }
  // One to three random changes; `stopping` are services a reload removed
  // that are still being stopped (re-adding them is a case of its own;
  // readd_stopping = false never adds them). Returns what changed, for the trace.
  std::string mutate(std::mt19937_64& rng, const std::vector<std::string>& stopping, bool readd_stopping);

 private:
  SimService make(std::mt19937_64& rng, const std::string& name);
  void randomize_restart(std::mt19937_64& rng, SimService& s);
  void randomize_health(std::mt19937_64& rng, SimService& s);
  void randomize_ready(std::mt19937_64& rng, SimService& s);
  std::string add(std::mt19937_64& rng, const std::vector<std::string>& stopping, bool readd_stopping);
  std::string remove(std::mt19937_64& rng);
  std::string change(std::mt19937_64& rng);

  std::string dir_;
  std::vector<SimService> services_;  // in pool order
  std::vector<std::string> replicas_only_, touched_;
  std::map<std::string, ServiceTraits> traits_;
  std::int64_t graceful_ = 5000, force_ = 7000, kill_ = 9000;
  bool health_checks_ = true;
  std::string sighup_ = "reload";
  bool forward_usr1_ = false;
};

// The names services may have, in dependency order.
const std::vector<std::string>& name_pool();

}  // namespace procd::sim
