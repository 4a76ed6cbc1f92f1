// The configuration model: every section and key of SPEC.md "Configuration
// file", with its documented default. A Config is plain data: built by
// load_config() (procd/config_load.hpp: TOML + PROCD_ env overrides +
// validation) and compared by the reload diff. Paths are already resolved
// against the config file's directory; durations are milliseconds; sizes
// are bytes. The model belongs to the core layer (src/core/config_model.cpp),
// so the pure decisions and the layers below config can take it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procd/error.hpp"

namespace procd {

// The upper bound of every duration key (milliseconds): one year. With it
// `now + duration` in ms or us, and watchdog_ms * 1000 (WATCHDOG_USEC), stay
// far from overflowing 64 bits; validation rejects larger values (1020).
inline constexpr std::int64_t kMaxDurationMs = 31536000000;

enum class LogLevel { Trace, Debug, Info, Warn, Error };

struct LoggingConfig {
  LogLevel level = LogLevel::Info;
  bool json = false;
  bool color = true;              // honoured only when the output is a terminal
  std::string file;               // empty = stderr
  std::uint64_t max_file_size = 104857600;
  int max_files = 5;
};

struct ShutdownConfig {  // milliseconds from the start of shutdown
  std::int64_t graceful = 30000;
  std::int64_t force = 45000;
  std::int64_t kill = 60000;
};

struct MonitoringConfig {
  bool enable_metrics = true;
  std::int64_t metrics_interval_ms = 1000;
  bool track_resources = true;
  bool health_checks = true;
  std::int64_t health_check_interval_ms = 5000;  // default [services.*.health].interval_ms
};

struct ControlConfig {
  std::string socket;             // resolved; default ".STEM.sock" beside the config STEM.toml
  unsigned mode = 0600;
  std::string group;              // empty = none
  std::string http;               // "host:port" or empty
  std::string http_token_file;    // resolved; empty = no mutating HTTP endpoints
  std::vector<std::string> http_allowed_hosts;  // Host names besides loopback and the listener's address

  // The sd_notify socket, made when the first service that uses it starts.
  std::string notify_socket() const { return socket + ".notify"; }
};

enum class SighupAction { Reload, Forward, Ignore };

struct SignalsConfig {
  SighupAction sighup = SighupAction::Reload;
  std::vector<int> forward;       // signal numbers; default USR1, USR2, WINCH
};

enum class RestartPolicyKind { Never, Always, OnFailure, ExponentialBackoff };

inline constexpr int kDefaultStartLimitBurst = 5;  // always / on-failure: starts within start_limit_interval_ms

struct RestartConfig {
  RestartPolicyKind policy = RestartPolicyKind::Never;
  std::int64_t delay_ms = 100;            // always / on-failure
  std::int64_t initial_delay_ms = 1000;   // exponential-backoff
  std::int64_t max_delay_ms = 60000;
  int max_attempts = 5;                   // exponential-backoff; 0 = unlimited
  int start_limit_burst = 0;              // 0 = no start limit; always / on-failure: kDefaultStartLimitBurst unless set
  std::int64_t start_limit_interval_ms = 10000;
};

enum class ReadyKind { Started, Notify, Health, MinUptime, LogMatch };

struct ReadyConfig {
  ReadyKind kind = ReadyKind::Started;
  std::int64_t min_uptime_ms = 0;  // MinUptime
  std::string log_regex;           // LogMatch
};

enum class DependCondition { Started, Ready, Completed };

struct Dependency {
  std::string service;
  DependCondition condition = DependCondition::Ready;
};
bool operator==(const Dependency& a, const Dependency& b);

// depends_on as procd uses it: a replicated service named in it stands for
// each of its instances (web -> web@0, web@1, ...). It compares as written
// in the file, so scaling a dependency does not make its dependents
// "changed" for a reload (they are not restarted; only the start gate's
// list grows). `written` is empty when nothing was expanded.
struct DependencyList : std::vector<Dependency> {
  using std::vector<Dependency>::vector;
  std::vector<Dependency> written;
  const std::vector<Dependency>& as_written() const { return written.empty() ? *this : written; }
  friend bool operator==(const DependencyList& a, const DependencyList& b) { return a.as_written() == b.as_written(); }
};

enum class HealthKind { None, Http, Tcp, Command };

struct HealthConfig {
  HealthKind kind = HealthKind::None;
  std::string target;              // url or host:port, as written
  // Parsed from `target` at load time (procd/health_target.hpp) for Http
  // and Tcp: the host as written (IPv6 without brackets), port 1..65535,
  // and for Http the request path ("/" at least).
  std::string host;
  int port = 0;
  std::string path;
  std::vector<std::string> command;
  std::int64_t interval_ms = 5000;
  std::int64_t timeout_ms = 1000;
  int retries = 3;
};

struct ServiceLogConfig {
  std::string file;                // empty = procd's own log as `NAME | line`
  std::uint64_t max_file_size = 104857600;
  int max_files = 5;
  bool merge_stderr = true;        // stderr = "merge" | "separate"
  std::string stderr_file;         // "separate": where stderr goes; empty = FILE.err
  bool timestamps = false;
};

struct Rlimit {
  std::string name;                // "nofile", "core", ...
  int resource = 0;                // RLIMIT_* value
  std::uint64_t value = 0;         // soft = hard = value; UINT64_MAX = unlimited
};

// Declared before ServiceConfig: its defaulted operator== looks these up where
// it is declared (clang deletes it otherwise; GCC looks later).
bool operator==(const Rlimit& a, const Rlimit& b);
bool operator==(const Dependency& a, const Dependency& b);
bool operator==(const RestartConfig& a, const RestartConfig& b);
bool operator==(const ReadyConfig& a, const ReadyConfig& b);
bool operator==(const HealthConfig& a, const HealthConfig& b);
bool operator==(const ServiceLogConfig& a, const ServiceLogConfig& b);

// issue 28: replicas. What every instance of a replicated service shares:
// the replica count and how a roll goes. Equal for all instances and
// excluded from ServiceConfig's ==, so a reload that only changes
// `replicas` (or the rolling settings) leaves the kept instances unchanged.
struct ReplicaGroup {
  int replicas = 1;              // 1..kMaxReplicas
  bool start_first = false;      // rolling = "start-first" (refused at load: not supported yet)
  int max_unavailable = 1;       // instances a roll may have not ready at once
  friend bool operator==(const ReplicaGroup&, const ReplicaGroup&) { return true; }
};
inline constexpr int kMaxReplicas = 1000;

struct ServiceConfig {
  std::string name;
  std::vector<std::string> command;        // argv, never empty after validation
  std::string working_dir;                 // resolved; empty = config directory
  std::map<std::string, std::string> env;  // from `env` (env_file merged at spawn)
  std::string env_file;                    // resolved; empty = none
  std::string user;
  std::optional<unsigned> umask;
  bool autostart = true;
  DependencyList depends_on;
  int stop_signal = 15;                    // SIGTERM
  std::int64_t stop_timeout_ms = -1;       // -1 = [shutdown].graceful
  std::vector<int> success_exit_codes{0};
  std::uint64_t memory_limit = 0;          // bytes; 0 = none
  // cgroup v2 limits (cgroup.hpp); 0 / empty = none.
  std::uint64_t memory_max = 0;            // bytes
  std::string cpu_max;                     // "50%" or "max"
  std::int64_t pids_max = 0;
  int cpu_weight = 0;                      // 1..10000
  bool critical = false;
  // issue 28: main service (here, in critical's padding: the footprint bound)
  bool main = false;                       // its run's end shuts procd down with its exit code; restart ignored
  int nice = 0;
  std::vector<Rlimit> rlimits;
  RestartConfig restart;
  ReadyConfig ready;
  std::int64_t start_timeout_ms = 90000;
  std::int64_t watchdog_ms = 0;
  HealthConfig health;
  ServiceLogConfig log;
  std::vector<int> cpu_affinity;           // CPU numbers (sched_setaffinity before exec); empty = inherit
  // issue 28: hooks (procd/hooks.hpp); empty = none
  std::vector<std::string> pre_start;      // runs before every start; non-zero = a failed start
  std::vector<std::string> stop_command;   // runs instead of sending stop_signal
  std::vector<std::string> post_stop;      // runs after every run ends
  std::vector<std::string> reload_command; // `procd reload NAME` runs it...
  int reload_signal = 0;                   // ... or sends this signal (0 = none: a restart)

  // issue 28: replicas (config_replicas.cpp expands one table into instances)
  std::string group;                       // [services.GROUP] of an instance GROUP@i; empty = no `replicas` key
  int instance = 0;                        // i: PROCD_INSTANCE
  int port = 0;                            // `port` of the group (instance i gets PROCD_PORT = port + i); 0 = none
  ReplicaGroup replica_group;              // not compared

  bool operator==(const ServiceConfig&) const = default;
  // The [services.X] table this service came from: its group or its own name.
  const std::string& table_name() const { return group.empty() ? name : group; }
  // ready = "notify" or a watchdog: the service is given procd's notify socket.
  bool uses_notify() const { return ready.kind == ReadyKind::Notify || watchdog_ms > 0; }
};

struct Config {
  std::string path;                 // absolute path of the file read
  std::string dir;                  // its directory
  std::string name = "procd";
  std::string pid_file;             // resolved; default ".STEM.pid" beside the config STEM.toml
  bool hot_reload = true;
  LoggingConfig logging;
  ShutdownConfig shutdown;
  MonitoringConfig monitoring;
  ControlConfig control;
  SignalsConfig signals;
  std::vector<ServiceConfig> services;  // in file order (included files after this one, in include order)
  // Every file the config was read from (this one first, then the included
  // ones), the include globs (absolute) and a hash of all their contents:
  // what the file watch watches and the reload's "unchanged" check compares.
  std::vector<std::string> sources;
  std::vector<std::string> include_globs;
  std::size_t content_hash = 0;
  std::int64_t read_at_ns = 0;      // CLOCK_REALTIME when load_config began reading (0: built in memory)
  std::vector<Error> warnings;      // accepted but without effect (e.g. [performance]); logged, not fatal
  // issue 28: `procd run -- CMD ARGS...` adds a service named "main" with this
  // command (config_main.cpp); kept so that a reload adds it again.
  std::vector<std::string> run_command;

  const ServiceConfig* find_service(const std::string& name) const;
  // Effective stop timeout of a service (its own or [shutdown].graceful).
  std::int64_t stop_timeout_of(const ServiceConfig& svc) const;
};

// issue 28: a name given to a verb selects the service of that name, or
// every instance GROUP@i of a replicated GROUP.
bool name_selects(std::string_view selector, std::string_view service);

// Shared with the CLI and the tests.
Result<std::uint64_t> parse_size(const std::string& text);  // "512M", "1G", "4096"
const char* log_level_name(LogLevel level);
const char* restart_policy_name(RestartPolicyKind kind);
// A Config warning as `FILE:LINE:COL: warning[CODE]: key: message`.
std::string format_warning(const Error& warning);

}  // namespace procd
