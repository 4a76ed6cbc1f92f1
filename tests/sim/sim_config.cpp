// SimConfig: see sim_config.hpp.
#include "sim_config.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace procd::sim {
namespace {

int pct(std::mt19937_64& rng) { return std::uniform_int_distribution<int>(0, 99)(rng); }

template <class T>
const T& pick(std::mt19937_64& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

std::size_t pool_index(const std::string& name) {
  const auto& pool = name_pool();
  return static_cast<std::size_t>(std::find(pool.begin(), pool.end(), name) - pool.begin());
}

}  // namespace

const std::vector<std::string>& name_pool() {
  static const std::vector<std::string> pool = {"db", "cache", "web", "web.api", "web_api", "worker", "cron-job", "cron_job"};
  return pool;
}

SimConfig::SimConfig(std::mt19937_64& rng, std::string dir) : dir_(std::move(dir)) {
  static const std::vector<int> signals = {SIGTERM, SIGTERM, SIGTERM, SIGINT, SIGQUIT};
  static const std::vector<std::int64_t> timeouts = {50, 500, 2000, 10000};
  for (const auto& name : name_pool()) traits_[name] = ServiceTraits{pick(rng, signals), pick(rng, timeouts)};
  // One critical service in some sequences (more would end most of them early).
  if (pct(rng) < 30) traits_[pick(rng, name_pool())].critical = true;
  // issue 28: one main service in some sequences (its end ends procd).
  if (pct(rng) < 20) traits_[pick(rng, name_pool())].main = true;
  health_checks_ = pct(rng) < 80;
  sighup_ = pick(rng, std::vector<std::string>{"reload", "reload", "forward", "ignore"});
  forward_usr1_ = pct(rng) < 30;
  graceful_ = pick(rng, std::vector<std::int64_t>{1000, 3000, 8000});
  force_ = graceful_ + pick(rng, std::vector<std::int64_t>{500, 2000});
  kill_ = force_ + pick(rng, std::vector<std::int64_t>{500, 3000});
  int n = std::uniform_int_distribution<int>(3, 6)(rng);
  for (const auto& name : name_pool())
    if (pct(rng) < n * 100 / 8) services_.push_back(make(rng, name));
  if (services_.empty()) services_.push_back(make(rng, "web"));
}

void SimConfig::randomize_restart(std::mt19937_64& rng, SimService& s) {
  s.restart = pick(rng, std::vector<std::string>{"never", "always", "always", "on-failure"});
  s.delay_ms = pick(rng, std::vector<std::int64_t>{0, 10, 100, 1000, 5000});
  s.start_limit_burst = pct(rng) < 20 ? 3 : 0;
}

void SimConfig::randomize_health(std::mt19937_64& rng, SimService& s) {
  s.health = true;
  s.health_interval_ms = pick(rng, std::vector<std::int64_t>{100, 500, 2000});
  s.health_timeout_ms = pick(rng, std::vector<std::int64_t>{50, 200, 1000});
  s.health_retries = static_cast<int>(pick(rng, std::vector<std::int64_t>{1, 2, 3}));
}

void SimConfig::randomize_ready(std::mt19937_64& rng, SimService& s) {
  int ready = pct(rng);
  s.ready = "started";
  s.watchdog_ms = 0;
  if (ready < 15) s.ready = "min_uptime", s.min_uptime_ms = pick(rng, std::vector<std::int64_t>{100, 1000, 3000});
  else if (ready < 35 && s.health && health_checks_) s.ready = "health";
  else if (ready < 55) s.ready = "notify", s.watchdog_ms = pct(rng) < 25 ? pick(rng, std::vector<std::int64_t>{500, 3000}) : 0;
}

SimService SimConfig::make(std::mt19937_64& rng, const std::string& name) {
  SimService s;
  s.name = name;
  randomize_restart(rng, s);
  s.autostart = pct(rng) < 90;
  if (pct(rng) < 30) randomize_health(rng, s);
  randomize_ready(rng, s);
  s.log_file = pct(rng) < 25;
  if (pct(rng) < 20) s.replicas = std::uniform_int_distribution<int>(1, 3)(rng);
  s.pre_start = pct(rng) < 20;
  s.stop_command = pct(rng) < 15;
  s.post_stop = pct(rng) < 20;
  for (const auto& other : services_)
    if (pool_index(other.name) < pool_index(name) && pct(rng) < 25)
      s.depends_on.emplace_back(other.name, pick(rng, std::vector<std::string>{"started", "started", "ready", "completed"}));
  return s;
}

std::map<std::string, ServiceTraits> SimConfig::traits() const {
  std::map<std::string, ServiceTraits> out = traits_;
  for (const auto& s : services_) out[s.name].zero_restart_delay = s.restart != "never" && s.delay_ms == 0;
  // Every instance a group may have had (up to 4), so a removed one still stopping keeps its traits.
  for (const auto& name : name_pool())
    for (int i = 0; i < 4; ++i) out[fmt::format("{}@{}", name, i)] = out[name];
  return out;
}

std::vector<std::string> SimConfig::names() const {
  std::vector<std::string> out;
  for (const auto& s : services_) {
    if (s.replicas == 0) out.push_back(s.name);
    for (int i = 0; i < s.replicas; ++i) out.push_back(fmt::format("{}@{}", s.name, i));
  }
  return out;
}

const SimService* SimConfig::find(const std::string& name) const {
  for (const auto& s : services_) {
    if (s.name == name && s.replicas == 0) return &s;
    for (int i = 0; i < s.replicas; ++i)
      if (name == fmt::format("{}@{}", s.name, i)) return &s;
  }
  return nullptr;
}

// A service or instance name of this config.
bool SimConfig::has(const std::string& name) const { return find(name) != nullptr; }

// A group (or plain service) by its table name, for mutations.
static bool has_table(const std::vector<SimService>& services, const std::string& name) {
  return std::any_of(services.begin(), services.end(), [&](const SimService& s) { return s.name == name; });
}

// Bare keys where the name allows (toml11 parses quoted keys and table
// headers slowly, and the simulator parses a config at every reload).
std::string SimConfig::text() const {
  auto key = [](const std::string& name) { return name.find('.') == std::string::npos ? name : "\"" + name + "\""; };
  std::string out = fmt::format(
      "name = \"sim\"\nhot_reload = false\nlogging = {{ level = \"error\", file = \"procd.log\" }}\n"
      "monitoring = {{ track_resources = false, health_checks = {} }}\n"
      "signals = {{ sighup = \"{}\", forward = [{}\"SIGUSR2\"] }}\n"
      "shutdown = {{ graceful = {}, force = {}, kill = {} }}\n[services]\n",
      health_checks_, sighup_, forward_usr1_ ? "\"SIGUSR1\", " : "", graceful_, force_, kill_);
  for (const auto& s : services_) {
    const ServiceTraits& tr = traits_.at(s.name);
    std::string k = key(s.name);
    out += fmt::format("{}.command = [\"sim-{}\", \"v{}\"]\n{}.stop_signal = \"{}\"\n{}.stop_timeout_ms = {}\n", k, s.name,
                       s.version, k, sig_name(tr.stop_signal), k, tr.stop_timeout_ms);
    const bool main = tr.main && s.replicas == 0;  // a replicated service is never the main (error 1058)
    if (!s.autostart && !main) out += k + ".autostart = false\n";  // a main always starts (error 1061)
    if (main) out += k + ".main = true\n";
    if (s.log_file) out += fmt::format("{}.log = {{ file = \"{}{}.log\" }}\n", k, s.name, s.replicas > 0 ? ".${PROCD_INSTANCE}" : "");
    if (s.replicas > 0) out += fmt::format("{}.replicas = {}\n", k, s.replicas);
    if (s.replicas == 3 && s.name.size() % 2 == 0) out += k + ".max_unavailable = 2\n";  // issue 28: rolls 2 at once
    if (s.replicas > 0 && s.name.size() % 3 != 1)  // a group's mode never changes (the invariants differ)
      out += k + ".rolling = \"start-first\"\n";  // issue 28: a new run beside the old one (rolling_surge.cpp)
    if (tr.critical) out += k + ".critical = true\n";
    if (s.ready == "min_uptime") out += fmt::format("{}.ready = {{ min_uptime_ms = {} }}\n", k, s.min_uptime_ms);
    else if (s.ready != "started") out += fmt::format("{}.ready = \"{}\"\n", k, s.ready);
    if (s.watchdog_ms > 0) out += fmt::format("{}.watchdog_ms = {}\n", k, s.watchdog_ms);
    if (s.health)
      out += fmt::format("{}.health = {{ command = [\"sim-health-{}\"], interval_ms = {}, timeout_ms = {}, retries = {} }}\n", k,
                         s.name, s.health_interval_ms, s.health_timeout_ms, s.health_retries);
    for (auto [on, kind] : {std::pair{s.pre_start, "pre_start"}, std::pair{s.stop_command, "stop_command"},
                            std::pair{s.post_stop, "post_stop"}})
      if (on) out += fmt::format("{}.{} = [\"sim-hook-{}-{}\"]\n", k, kind, kind, s.name);
    if (!s.depends_on.empty()) {
      std::string deps;
      for (const auto& [name, cond] : s.depends_on) deps += fmt::format("{}{} = \"{}\"", deps.empty() ? "" : ", ", key(name), cond);
      out += fmt::format("{}.depends_on = {{ {} }}\n", k, deps);
    }
    if (s.restart == "never") out += k + ".restart = \"never\"\n";
    else if (s.start_limit_burst > 0)
      out += fmt::format("{}.restart = {{ policy = \"{}\", delay_ms = {}, start_limit = {{ burst = {}, interval_ms = 10000 }} }}\n", k,
                         s.restart, s.delay_ms, s.start_limit_burst);
    else out += fmt::format("{}.restart = {{ policy = \"{}\", delay_ms = {} }}\n", k, s.restart, s.delay_ms);
  }
  return out;
}

std::string SimConfig::describe() const {
  std::string out = fmt::format("shutdown {}/{}/{} ms, health checks {}, sighup {}{};", graceful_, force_, kill_,
                                health_checks_ ? "on" : "off", sighup_, forward_usr1_ ? ", forward SIGUSR1" : "");
  for (const auto& s : services_) {
    const ServiceTraits& tr = traits_.at(s.name);
    out += fmt::format(" {}{{{} {}ms, {}", s.name, sig_name(tr.stop_signal), tr.stop_timeout_ms, s.restart);
    if (s.restart != "never") out += fmt::format(" {}ms", s.delay_ms);
    if (s.restart != "never" && s.start_limit_burst > 0) out += fmt::format(" limit {}", s.start_limit_burst);
    if (tr.critical) out += ", critical";
    if (tr.main) out += ", main";
    if (s.ready == "min_uptime") out += fmt::format(", ready after {}ms", s.min_uptime_ms);
    else if (s.ready != "started") out += ", ready " + s.ready;
    if (s.watchdog_ms > 0) out += fmt::format(", watchdog {}ms", s.watchdog_ms);
    if (s.health)
      out += fmt::format(", health every {}ms timeout {}ms retries {}", s.health_interval_ms, s.health_timeout_ms, s.health_retries);
    if (!s.autostart) out += ", no autostart";
    if (s.log_file) out += ", log file";
    if (s.replicas > 0) out += fmt::format(", replicas {}", s.replicas);
    for (const auto& [dep, cond] : s.depends_on) out += fmt::format(", after {}:{}", dep, cond);
    out += "}";
  }
  return out;
}

std::string SimConfig::add(std::mt19937_64& rng, const std::vector<std::string>& stopping_runs, bool readd_stopping) {
  std::vector<std::string> stopping;  // by table name: web@1 is of web
  for (const auto& n : stopping_runs)
    if (auto table = n.substr(0, n.find('@')); std::find(stopping.begin(), stopping.end(), table) == stopping.end())
      stopping.push_back(table);
  auto is_stopping = [&](const std::string& n) { return std::find(stopping.begin(), stopping.end(), n) != stopping.end(); };
  std::vector<std::string> absent;
  for (const auto& name : name_pool())
    if (!has_table(services_, name) && (readd_stopping || !is_stopping(name))) absent.push_back(name);
  if (absent.empty()) return "";
  std::vector<std::string> readd;
  for (const auto& name : stopping)
    if (!has_table(services_, name) && readd_stopping) readd.push_back(name);
  const std::string& name = !readd.empty() && pct(rng) < 70 ? pick(rng, readd) : pick(rng, absent);
  bool again = is_stopping(name);
  SimService s = make(rng, name);
  auto at = std::find_if(services_.begin(), services_.end(), [&](const SimService& o) { return pool_index(o.name) > pool_index(name); });
  services_.insert(at, std::move(s));
  return fmt::format("+{}{}", name, again ? " (still stopping)" : "");
}

std::string SimConfig::remove(std::mt19937_64& rng) {
  if (services_.size() <= 1) return "";
  std::string name = pick(rng, services_).name;
  std::erase_if(services_, [&](const SimService& s) { return s.name == name; });
  for (auto& s : services_)
    if (std::erase_if(s.depends_on, [&](const auto& d) { return d.first == name; }) > 0) touched_.push_back(s.name);
  touched_.push_back(name);
  return "-" + name;
}

std::string SimConfig::change(std::mt19937_64& rng) {
  SimService& s = services_[std::uniform_int_distribution<std::size_t>(0, services_.size() - 1)(rng)];
  int what = pct(rng);
  if (s.replicas > 0 && pct(rng) < 30) {
    s.replicas = std::uniform_int_distribution<int>(1, 4)(rng);
    replicas_only_.push_back(s.name);
    return fmt::format("~{} replicas {}", s.name, s.replicas);
  }
  touched_.push_back(s.name);  // any other change of it counts (cleared from replicas_only_ by mutate)
  if (what < 40) {
    ++s.version;
    return fmt::format("~{} command v{}", s.name, s.version);
  }
  if (what < 60) {
    randomize_restart(rng, s);
    return fmt::format("~{} restart {} {} ms", s.name, s.restart, s.delay_ms);
  }
  if (what < 68) {
    s.autostart = !s.autostart;
    return fmt::format("~{} autostart {}", s.name, s.autostart);
  }
  if (what < 78) {  // a health check added or dropped (ready = "health" goes with it)
    if (!s.health) {
      randomize_health(rng, s);
      return fmt::format("~{} health every {}ms", s.name, s.health_interval_ms);
    }
    s.health = false;
    if (s.ready == "health") s.ready = "started";
    return fmt::format("~{} no health{}", s.name, s.ready == "started" ? " (ready started)" : "");
  }
  if (what < 88) {
    randomize_ready(rng, s);
    return fmt::format("~{} ready {}{}", s.name, s.ready, s.watchdog_ms > 0 ? fmt::format(" watchdog {}ms", s.watchdog_ms) : "");
  }
  std::vector<std::string> earlier;
  for (const auto& o : services_)
    if (pool_index(o.name) < pool_index(s.name)) earlier.push_back(o.name);
  if (!s.depends_on.empty() && (earlier.empty() || pct(rng) < 50)) {
    s.depends_on.clear();
    return fmt::format("~{} no depends_on", s.name);
  }
  if (earlier.empty()) return "";
  const std::string& dep = pick(rng, earlier);
  if (std::none_of(s.depends_on.begin(), s.depends_on.end(), [&](const auto& d) { return d.first == dep; }))
    s.depends_on.emplace_back(dep, "started");
  return fmt::format("~{} depends on {}", s.name, dep);
}

std::string SimConfig::mutate(std::mt19937_64& rng, const std::vector<std::string>& stopping, bool readd_stopping) {
  std::string out;
  replicas_only_.clear();
  touched_.clear();
  int n = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int i = 0; i < n; ++i) {
    int what = pct(rng);
    std::string d = what < 35 ? add(rng, stopping, readd_stopping) : what < 65 ? remove(rng) : change(rng);
    if (!d.empty()) out += (out.empty() ? "" : " ") + d;
  }
  for (const auto& t : touched_) std::erase(replicas_only_, t);
  return out.empty() ? "(no change)" : out;
}

}  // namespace procd::sim
