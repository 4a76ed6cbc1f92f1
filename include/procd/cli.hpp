// The command line: CLI11 parsing and one function per command. main()
// only calls cli_main(); every command returns procd's exit code
// (0 ok, 1 runtime error, 2 usage/config error, 3 not running / stragglers).
#pragma once

#include <string>
#include <vector>

namespace procd {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotRunning = 3;

struct GlobalOptions {
  std::string config;  // -c FILE (empty: lookup order of SPEC)
  std::string socket;  // --socket PATH (empty: from the config)
};

int cli_main(int argc, char** argv);

int cmd_check(const GlobalOptions& g);
int cmd_version();
// `procd run [-- CMD ARGS...]`: with a command, a service named "main"
// (main = true) runs it; with no config file anywhere, alone (issue 28).
int cmd_run(const GlobalOptions& g, const std::vector<std::string>& command = {});
int cmd_stop_supervisor(const GlobalOptions& g);
int cmd_start_supervisor(const GlobalOptions& g, bool keep = false);

// `procd exec`: container entrypoint for one child (src/cli/exec.cpp).
struct ExecOptions {
  bool kill_group = false;
  bool wait_all = false;
  std::vector<std::string> rewrites;  // "FROM:TO"
  std::vector<std::string> command;
};
int cmd_exec(const ExecOptions& opts);

// Verbs that talk to a running supervisor over the control socket
// (src/cli/status_commands.cpp, service_commands.cpp, stream_commands.cpp).
// "start" | "stop" | "restart" for names.
int cmd_service_action(const GlobalOptions& g, const std::string& verb, const std::vector<std::string>& names, bool all);
// `procd restart NAME... --rolling` (issue 28): waits for each roll; 1 with the reason when one stopped.
int cmd_rolling_restart(const GlobalOptions& g, const std::vector<std::string>& names);
int cmd_status(const GlobalOptions& g, const std::vector<std::string>& names, bool json, bool wide = false,
               bool watch = false);
int cmd_signal(const GlobalOptions& g, const std::string& signal, const std::vector<std::string>& names);
// raw: print service output byte for byte even on a terminal (else escaped there).
// streams: only items of these streams ("out", "err", "procd"; empty: all),
// since: only lines since then (time_spec.hpp); both filtered by the
// supervisor, so -n counts the lines they keep.
int cmd_logs(const GlobalOptions& g, const std::vector<std::string>& names, int lines, bool follow, bool raw,
             bool as_json = false, const std::vector<std::string>& streams = {}, const std::string& since = "",
             bool no_timestamps = false);
int cmd_events(const GlobalOptions& g, bool json, const std::string& service = {});
int cmd_reload(const GlobalOptions& g, const std::vector<std::string>& names = {});
// `procd reload NAME...` (issue 28): reload_signal, reload_command or a restart, waited for.
int cmd_reload_services(const GlobalOptions& g, const std::vector<std::string>& names);
int cmd_metrics(const GlobalOptions& g);
// `procd top`: the live terminal UI (src/cli/top.cpp; drawing in src/tui/).
// http_url: watch through procd's HTTP endpoint instead of the socket
// (token_file: the bearer token for the verbs).
int cmd_top(const GlobalOptions& g, const std::string& http_url = {}, const std::string& token_file = {});
// GET URL; 0 on a 2xx answer within timeout_ms, else 1 with the reason (probe.cpp).
int cmd_probe(const std::string& url, int timeout_ms);

// The socket path: --socket, else [control].socket of the config.
// Fails (config errors) only when --socket is not given.
struct SocketTarget {
  std::string path;
  std::string config_path;
};
int resolve_socket(const GlobalOptions& g, SocketTarget& out);  // 0 ok, else exit code (errors printed)

}  // namespace procd
