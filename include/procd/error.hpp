// The one table of stable error codes (SPEC ranges) and the small Error /
// Result types that carry them. Codes are only ever appended, never reused
// or renumbered; man/procd.1 lists every one (a unit test checks it).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace procd {

// X(enum name, code, short summary)
#define PROCD_ERROR_TABLE(X)                                                              \
  /* 1000-1999 config */                                                                 \
  X(ConfigSyntax, 1001, "TOML syntax error")                                              \
  X(ConfigUnknownKey, 1002, "unknown key")                                                \
  X(ConfigWrongType, 1003, "value has the wrong type")                                   \
  X(ConfigInvalidValue, 1004, "invalid value")                                            \
  X(ConfigEmptyCommand, 1005, "empty command")                                            \
  X(ConfigShutdownOrder, 1006, "shutdown timeouts must satisfy graceful < force < kill") \
  X(ConfigUnknownSignal, 1007, "unknown signal name")                                     \
  X(ConfigUnknownDependency, 1008, "dependency on an unknown service")                    \
  X(ConfigDependencyCycle, 1009, "dependency cycle")                                      \
  X(ConfigDuplicateName, 1010, "duplicate name")                                          \
  X(ConfigEnvFileUnreadable, 1011, "env_file cannot be read")                             \
  X(ConfigUserNotRoot, 1012, "user is set but procd is not running as root")              \
  X(ConfigFileUnreadable, 1013, "config file not found or unreadable")                    \
  X(ConfigOverrideUnknownKey, 1014, "environment override names an unknown key")          \
  X(ConfigOverrideBadValue, 1015, "environment override value cannot be parsed")          \
  X(ConfigInvalidSize, 1016, "invalid size")                                              \
  X(ConfigCommandSyntax, 1017, "command string cannot be split")                          \
  X(ConfigMissingKey, 1018, "required key missing")                                       \
  X(ConfigInvalidRegex, 1019, "invalid regular expression")                               \
  X(ConfigOutOfRange, 1020, "value out of range")                                         \
  X(ConfigUnknownUser, 1021, "unknown user or group")                                     \
  X(ConfigTokenFile, 1022, "http_token_file is not a readable regular file")                \
  X(ConfigInvalidCpuMax, 1028, "invalid cpu_max")                                        \
  X(ConfigVariableUnset, 1034, "variable in ${...} is not set and has no default")       \
  X(ConfigVariableRequired, 1035, "variable required by ${VAR:?message} is unset or empty") \
  X(ConfigInterpolationSyntax, 1036, "malformed ${...} interpolation")                   \
  X(ConfigIncludeUnreadable, 1037, "included file cannot be read")                       \
  X(ConfigIncludeCycle, 1038, "include cycle")                                           \
  X(ConfigIncludeNotServices, 1039, "included file holds more than [services.*]")        \
  X(ConfigUnknownCpu, 1040, "cpu_affinity names a CPU that does not exist")              \
  X(ConfigNoEffect, 1041, "key accepted but has no effect (warning)")                    \
  X(ConfigHealthChecksOff, 1042, "ready = \"health\" while [monitoring] health_checks = false") \
  X(ConfigSocketPathTooLong, 1043, "socket path longer than a unix socket address holds")   \
  X(ConfigLogFileShared, 1044, "one log file named by two services (or by a service and procd)") \
  X(ConfigTokenFileUnsafe, 1045, "http_token_file is not owned by procd's user or others may read it") \
  X(ConfigKeyTooDeep, 1046, "dotted key with more than 32 parts")                          \
  X(ConfigShellDollar, 1047, "`$$` or `${` in a `sh -c` script consumed by interpolation (warning)") \
  X(ConfigReplicasOutOfRange, 1048, "replicas, port or max_unavailable out of range")      \
  X(ConfigReplicaLogShared, 1049, "instances of a replicated service would share a log file") \
  X(ConfigRollingUnsupported, 1050, "rolling = \"start-first\" is not supported yet")      \
  X(ConfigPortUnset, 1051, "${PROCD_PORT} used by a service without port")               \
  X(ConfigReloadBoth, 1053, "reload_command and reload_signal both set")                 \
  X(ConfigMainTwice, 1058, "main = true on more than one service")                      \
  X(ConfigMainNameTaken, 1059, "procd run -- CMD: the config already has a service named main") \
  X(ConfigMainRestartIgnored, 1060, "restart policy of the main service is ignored (warning)") \
  X(ConfigMainNotAutostart, 1061, "the main service cannot have autostart = false")      \
  X(ConfigRunDirUnsafe, 1065, "procd run -- CMD: the run directory is not a private directory of procd's user") \
  /* 2000-2999 signal */                                                                 \
  X(SignalInstallFailed, 2001, "cannot install signal handler")                           \
  X(SignalSendFailed, 2002, "cannot send signal")                                         \
  X(SignalUnknown, 2003, "unknown signal")                                                \
  /* 3000-3999 shutdown */                                                               \
  X(ShutdownStragglers, 3001, "shutdown ceiling reached with processes still alive")      \
  X(ShutdownForced, 3002, "graceful shutdown timed out; processes killed")                \
  X(ShutdownCriticalFailed, 3003, "critical service failed; shutting down")               \
  /* 4000-4999 service */                                                                \
  X(SpawnFailed, 4001, "cannot create the service process")                               \
  X(ExecFailed, 4002, "cannot execute the service command")                               \
  X(ChdirFailed, 4003, "cannot change to the working directory")                          \
  X(CredentialsFailed, 4004, "cannot switch user or group")                               \
  X(ServiceExitFailure, 4005, "service exited with a failure code")                       \
  X(ServiceKilledBySignal, 4006, "service died by a signal")                              \
  X(ServiceGaveUp, 4007, "restart policy gave up; service failed")                        \
  X(ServiceSetupFailed, 4008, "cannot apply rlimits, nice or umask")                      \
  X(ServiceUnknown, 4009, "no such service")                                              \
  X(ServiceStartLimit, 4010, "start limit hit")                                           \
  X(ServiceDependencyFailed, 4011, "a dependency failed; service not started")             \
  X(ServiceCgroupLeftover, 4012, "processes of an earlier procd left in the service cgroup; killed") \
  X(ServiceCgroupFailed, 4013, "cannot place the service in its cgroup")                  \
  X(RollStopped, 4014, "a rolling restart stopped: a new instance failed; the remaining old ones keep running") \
  X(RollTimeout, 4015, "a rolling restart stopped: a new instance was not ready within its timeouts") \
  X(RollBusy, 4016, "a rolling restart could not go on: one of this service is under way, a reload changed or removed it, or procd is shutting down") \
  X(ServiceHookFailed, 4017, "a hook (pre_start, stop_command, post_stop) failed or timed out") \
  X(ServiceReloadFailed, 4018, "procd reload NAME failed: reload_command failed, or the service is not up") \
  X(ServiceMainDependencyFailed, 4021, "the main service cannot run: a dependency it needs went down for good; procd exits 4") \
  /* 5000-5999 I/O */                                                                    \
  X(IoOpen, 5001, "cannot open file")                                                     \
  X(IoWrite, 5002, "cannot write")                                                        \
  X(IoRead, 5003, "cannot read")                                                          \
  X(IoPipe, 5004, "cannot create pipe")                                                   \
  X(IoRotate, 5005, "cannot rotate log file")                                             \
  X(IoSocket, 5006, "socket error")                                                       \
  X(IoHttpListen, 5007, "cannot listen on the HTTP address")                              \
  /* 6000-6999 runtime */                                                                \
  X(RuntimeLoop, 6001, "event loop error")                                                \
  X(RuntimeInternal, 6002, "internal error")                                              \
  X(RuntimeNotAvailable, 6003, "not available yet")                                       \
  X(RuntimeUsage, 6004, "invalid command-line usage")                                     \
  X(ProtocolMalformed, 6005, "malformed control request")                                 \
  X(ProtocolUnknownVerb, 6006, "unknown control verb")                                    \
  X(ProtocolTooLarge, 6007, "control request too large")                                  \
  X(ProtocolPermission, 6008, "control peer not permitted")                               \
  X(ControlSocketUnsafe, 6009, "control socket path is not a socket")                     \
  X(ControlUnreachable, 6010, "supervisor not reachable")                                 \
  X(HttpBadRequest, 6011, "bad HTTP request")                                              \
  X(MetricsDisabled, 6012, "metrics are disabled ([monitoring].enable_metrics = false)") \
  X(ProbeFailed, 6013, "HTTP probe failed")                                                \
  X(ControlReplyRefused, 6014, "control reply too large or nested too deep")              \
  X(ControlServerUntrusted, 6015, "control socket served by neither root nor the caller's user") \
  X(HttpUnreachable, 6016, "HTTP endpoint not reachable")                                 \
  X(HttpStatus, 6017, "HTTP endpoint answered with an error status")                      \
  X(HttpReplyMalformed, 6018, "HTTP reply malformed or too large")                        \
  /* 7000-7999 resource exhaustion */                                                    \
  X(ResourceMemoryLimit, 7001, "service above its memory limit")                          \
  X(ResourceFds, 7002, "out of file descriptors")                                         \
  X(ResourceDiskFull, 7003, "disk full")                                                  \
  X(ResourceProcesses, 7004, "out of processes")                                          \
  X(ResourceControlConnections, 7005, "too many control connections")                     \
  X(ResourceHttpConnections, 7006, "too many HTTP connections")                           \
  X(ResourceOomKilled, 7007, "killed by its cgroup memory limit (OOM)")                    \
  /* 8000-8999 timeout */                                                                \
  X(TimeoutStart, 8001, "service not ready before start_timeout_ms")                      \
  X(TimeoutStop, 8002, "service did not stop in time; killed")                            \
  X(TimeoutWatchdog, 8003, "watchdog ping missed")                                        \
  X(TimeoutHealth, 8004, "health check timed out")                                        \
  X(TimeoutReady, 8005, "supervisor not ready in time")                                   \
  /* 9000-9999 state */                                                                  \
  X(StateAlreadyRunning, 9001, "another procd holds the PID lock")                        \
  X(StateNotRunning, 9002, "procd is not running")                                        \
  X(StateInvalidTransition, 9003, "event not valid in this state")                        \
  X(StateShuttingDown, 9004, "supervisor is shutting down")                               \
  /* 10000-10999 platform */                                                             \
  X(PlatformSubreaper, 10001, "cannot become child subreaper")                            \
  X(PlatformCgroup, 10002, "cgroup v2 not usable")                                        \
  X(PlatformUnsupported, 10003, "not supported on this platform")                         \
  X(PlatformCgroupLimit, 10004, "resource limit not applied (no cgroup or controller)")   \
  X(PlatformCgroupFailed, 10005, "cgroup operation failed")

enum class Code : int {
#define PROCD_X(name, num, summary) name = num,
  PROCD_ERROR_TABLE(PROCD_X)
#undef PROCD_X
};

// Stable summary of a code ("unknown key"); "unknown error" for values not in the table.
std::string_view code_summary(Code code);
// Enum spelling ("ConfigUnknownKey").
std::string_view code_name(Code code);
// Every code in table order (for the man-page test and `procd help codes`).
const std::initializer_list<Code>& all_codes();

struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based; 0 = unknown
};

struct Error {
  Code code;
  std::string message;
  std::optional<Location> where;
  std::string key_path;  // "services.web.restart.policy", may be empty

  // `FILE:LINE:COL: error[CODE]: key.path: message` (parts omitted when unknown).
  std::string format() const;
};

inline Error make_error(Code code, std::string message) { return Error{code, std::move(message), std::nullopt, {}}; }

// Minimal expected<T, Error> (g++ 12 has no std::expected under C++20).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error err) : v_(std::move(err)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error err) : err_(std::move(err)) {}
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *err_; }

 private:
  std::optional<Error> err_;
};

}  // namespace procd
