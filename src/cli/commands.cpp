// Command-line parsing (CLI11) and the commands that need no running
// supervisor: check, version, run (hands over to the Supervisor) and the
// not-yet-available stubs. Every SPEC command is registered with its
// options so that `procd --help` / `procd help CMD` describe the whole tool.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <iostream>
#include <memory>

#include "procd/cli.hpp"
#include "procd/config_load.hpp"
#include "procd/error.hpp"
#include "procd/logging.hpp"
#include "procd/signal_state.hpp"
#include "procd/supervisor.hpp"
#include "procd_build_info.h"

namespace procd {
namespace {

void print_error(const Error& e) { fmt::print(stderr, "{}\n", e.format()); }

LoadResult load(const GlobalOptions& g, std::string* path_out = nullptr) {
  std::string path = find_config_path(g.config);
  if (path_out) *path_out = path;
  return load_config(path);
}

// `procd [GLOBAL...] exec [OPTIONS...] [--] CMD ARGS...`: exec's options
// come only before CMD; from CMD on every word is the child's, so
// `procd exec sh -c 'x'` runs `sh -c 'x'` (CLI11 would take -c as procd's
// --config). Returns where CMD starts and how many words CLI11 gets (the
// `--` before CMD dropped); nullopt when the command is not exec.
struct ExecSplit {
  int cli_argc;
  int command_start;
};
std::optional<ExecSplit> split_exec(int argc, char** argv) {
  auto is = [](const char* a, std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (std::strcmp(a, n) == 0) return true;
    return false;
  };
  int i = 1;
  while (i < argc && argv[i][0] == '-' && !is(argv[i], {"--"})) i += is(argv[i], {"-c", "--config", "--socket"}) ? 2 : 1;
  if (i >= argc || !is(argv[i], {"exec"})) return std::nullopt;
  for (int j = i + 1; j < argc; ++j) {
    if (is(argv[j], {"--"})) return ExecSplit{j, j + 1};
    if (argv[j][0] != '-' || argv[j][1] == '\0') return ExecSplit{j, j};
    if (is(argv[j], {"--rewrite"})) ++j;  // its FROM:TO
  }
  return ExecSplit{argc, argc};
}

// `procd [GLOBAL...] run [GLOBAL...] -- CMD ARGS...` (issue 28): everything
// after the first `--` is the main service's command; CLI11 gets what is
// before it. nullopt when the command is not `run` or has no `--`.
std::optional<ExecSplit> split_run(int argc, char** argv) {
  int i = 1;
  auto takes_value = [](const char* a) { return !std::strcmp(a, "-c") || !std::strcmp(a, "--config") || !std::strcmp(a, "--socket"); };
  while (i < argc && argv[i][0] == '-' && std::strcmp(argv[i], "--") != 0) i += takes_value(argv[i]) ? 2 : 1;
  if (i >= argc || std::strcmp(argv[i], "run") != 0) return std::nullopt;
  for (int j = i + 1; j < argc; ++j) {
    if (std::strcmp(argv[j], "--") == 0) return ExecSplit{j, j + 1};
    if (takes_value(argv[j])) ++j;
  }
  return std::nullopt;
}

}  // namespace

int cmd_check(const GlobalOptions& g) {
  std::string path;
  auto r = load(g, &path);
  if (!r.ok()) {
    for (const auto& e : r.errors) print_error(e);
    fmt::print(stderr, "{}: {} error{}\n", path, r.errors.size(), r.errors.size() == 1 ? "" : "s");
    return kExitUsage;
  }
  for (const auto& w : r.config->warnings) fmt::print(stderr, "{}\n", format_warning(w));
  fmt::print("{}: ok ({} service{})\n", path, r.config->services.size(), r.config->services.size() == 1 ? "" : "s");
  return kExitOk;
}

int cmd_version() {
  fmt::print("procd {}\n", PROCD_VERSION);
  fmt::print("build: {} ({})\n", PROCD_BUILD_TYPE, PROCD_COMPILER);
  return kExitOk;
}

int cmd_run(const GlobalOptions& g, const std::vector<std::string>& command) {
  // Nothing a parent blocked or ignored survives (a blocked SIGCHLD would
  // stop all reaping, an ignored SIGTERM the shutdown); before any thread.
  reset_signal_state();
  Log::setup_default();
  // `procd run -- CMD` with no config file anywhere: an empty config (its
  // files named after DIR/procd.toml in the run directory, config_load.hpp),
  // the command alone under the supervisor.
  const bool bare = !command.empty() && no_config_anywhere(g.config);
  if (bare)
    if (auto made = make_bare_run_dir(); !made.ok()) {
      print_error(made.error());
      return kExitUsage;
    }
  auto r = bare ? load_config_text("", bare_config_path()) : load(g);
  if (!r.ok()) {
    for (const auto& e : r.errors) print_error(e);
    return kExitUsage;
  }
  Config cfg = std::move(*r.config);
  if (bare) cfg.hot_reload = false;  // no file to watch
  if (!command.empty())
    if (auto added = add_run_command(cfg, command); !added.ok()) {
      print_error(added.error());
      return kExitUsage;
    }
  std::error_code ec;
  if (bare) cfg.services.back().working_dir = std::filesystem::current_path(ec).string();  // the caller's, not the run dir
  if (!g.socket.empty()) cfg.control.socket = g.socket;
  if (auto too_long = notify_socket_too_long(cfg)) {  // --socket bypasses validation
    print_error(make_error(Code::ConfigSocketPathTooLong, "--socket: " + *too_long));
    return kExitUsage;
  }
  return run_supervisor(std::move(cfg));
}

int cli_main(int argc, char** argv) {
  // On the heap: `run` lets it go before the supervisor starts (~50 KiB of
  // option tables kept for procd's whole life otherwise).
  auto owned = std::make_unique<CLI::App>(
      "procd: a process supervisor. Starts the programs declared in a TOML file, restarts them by policy,\n"
      "forwards signals, reloads its config, and shuts down along a graceful -> force -> kill ladder.",
      "procd");
  CLI::App& app = *owned;
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.require_subcommand(0, 1);
  // Global options may also follow the command: `procd run -c FILE`.
  app.fallthrough();
  GlobalOptions g;
  app.add_option("-c,--config", g.config, "Config file (default: $PROCD_CONFIG, ./procd.toml, /etc/procd/procd.toml)");
  app.add_option("--socket", g.socket, "Control socket path (default: [control].socket of the config)");

  auto* run = app.add_subcommand("run", "Run the supervisor in the foreground until shut down");
  auto* start = app.add_subcommand("start", "Start the supervisor in the background, or start services by name");
  std::vector<std::string> names;
  start->add_option("names", names, "Services to start in the running supervisor");
  bool keep = false;
  start->add_flag("--keep", keep, "Leave the supervisor running when a service fails to start");
  auto* stop = app.add_subcommand("stop", "Stop services by name; with no names shut the supervisor down");
  stop->add_option("names", names, "Services to stop");
  auto* restart = app.add_subcommand("restart", "Stop then start services");
  bool all = false;
  restart->add_option("names", names, "Services to restart");
  restart->add_flag("--all", all, "Restart every service");
  bool rolling = false;
  restart->add_flag("--rolling", rolling, "Restart the instances one at a time, each once the previous new one is ready");
  auto* status = app.add_subcommand("status", "Show services: state, pid, uptime, restarts, last exit, cpu, rss, health");
  bool json = false;
  status->add_option("names", names, "Services to show (default: all)");
  status->add_flag("--json", json, "One JSON document");
  bool wide = false;
  status->add_flag("--wide", wide, "Every column, uncut, however wide the terminal");
  bool watch = false;
  status->add_flag("--watch,-w", watch, "Redraw in place on every change until interrupted")->excludes("--json");
  auto* reload = app.add_subcommand("reload", "Re-read the config file and apply the difference; with names, reload those services");
  std::vector<std::string> reload_names;
  reload->add_option("names", reload_names, "Services to reload (reload_signal, reload_command, or a restart)");
  auto* signal = app.add_subcommand("signal", "Send a signal to services' process groups");
  std::string sig;
  signal->add_option("signal", sig, "Signal name or number (TERM, SIGHUP, 9)")->required();
  signal->add_option("names", names, "Services")->required();
  auto* logs = app.add_subcommand("logs", "Recent output lines of services");
  bool follow = false;
  int lines = 100;
  logs->add_option("names", names, "Services (default: all)");
  logs->add_flag("-f,--follow", follow, "Keep printing new lines");
  bool raw_logs = false;
  logs->add_flag("--raw", raw_logs, "Print control characters as they are, even on a terminal");
  logs->add_option("-n,--lines", lines, "How many recent lines")->capture_default_str();
  logs->add_flag("--json", json, "One JSON object per line, as the server sends it");
  std::vector<std::string> log_streams;
  logs->add_option("--stream", log_streams, "Only these streams: out, err, procd, hook (comma list)")
      ->delimiter(',')
      ->allow_extra_args(false)  // one list per --stream; the names after it stay names
      ->check(CLI::IsMember({"out", "err", "procd", "hook"}));
  std::string log_since;
  logs->add_option("--since", log_since, "Only lines since WHEN: 90s, 10m, 2h, 1d, or a UTC time 2026-12-06T21:57:23Z");
  bool no_timestamps = false;
  logs->add_flag("--no-timestamps", no_timestamps, "Leave the time out of each line");
  auto* events = app.add_subcommand("events", "Stream state changes until interrupted");
  events->add_flag("--json", json, "One JSON object per line");
  std::string event_service;
  events->add_option("--service", event_service, "Only this service's events");
  auto* top = app.add_subcommand("top", "Live terminal UI: services, the selected one's logs, keys to start/stop/restart/reload (? lists them)");
  std::string top_http, top_token_file;
  top->add_option("--http", top_http, "Watch through procd's HTTP endpoint, http://HOST:PORT, instead of the control socket");
  top->add_option("--token-file", top_token_file, "With --http: a file holding the bearer token for start/stop/restart/reload");
  auto* check = app.add_subcommand("check", "Validate the config file; print every error with file:line:col and code");
  auto* metrics = app.add_subcommand("metrics", "Prometheus text exposition of the running supervisor");
  auto* exec = app.add_subcommand("exec", "Container entrypoint with no config: run one child with PID 1 duties");
  ExecOptions exec_opts;
  exec->add_flag("--kill-group", exec_opts.kill_group, "Forward signals to the child's process group");
  exec->add_option("--rewrite", exec_opts.rewrites, "Rewrite a signal on its way to the child, FROM:TO (e.g. TERM:QUIT)")
      ->allow_extra_args(false);  // one FROM:TO per --rewrite; otherwise it would swallow `-- CMD`
  exec->add_flag("--wait-all", exec_opts.wait_all, "After the child exits, wait for its remaining descendants");
  exec->add_option("command", exec_opts.command, "CMD ARGS...: everything from CMD on is the command's, never procd's");
  auto* probe = app.add_subcommand("probe", "GET a URL: exit 0 on a 2xx answer (container HEALTHCHECK, no curl needed)");
  std::string probe_url;
  int probe_timeout_ms = 5000;
  probe->add_option("url", probe_url, "http://HOST:PORT/PATH")->required();
  probe->add_option("--timeout", probe_timeout_ms, "Milliseconds for the whole request")->capture_default_str()->check(CLI::Range(1, 600000));
  auto* version = app.add_subcommand("version", "Version and build information");
  auto* help = app.add_subcommand("help", "Help for a command: procd help CMD");
  std::string help_topic;
  help->add_option("command", help_topic, "Command name");

  auto exec_split = split_exec(argc, argv);
  auto run_split = exec_split ? std::nullopt : split_run(argc, argv);
  try {
    app.parse(exec_split ? exec_split->cli_argc : run_split ? run_split->cli_argc : argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    fmt::print(stderr, "error[{}]: {}\n", static_cast<int>(Code::RuntimeUsage), e.what());
    fmt::print(stderr, "Run `procd --help` for usage.\n");
    return kExitUsage;
  }

  if (*help || app.get_subcommands().empty()) {
    if (help_topic.empty()) {
      std::cout << app.help();
      return app.get_subcommands().empty() ? kExitUsage : kExitOk;
    }
    try {
      std::cout << app.get_subcommand(help_topic)->help();
      return kExitOk;
    } catch (const CLI::OptionNotFound&) {
      fmt::print(stderr, "error[{}]: no command named \"{}\"\n", static_cast<int>(Code::RuntimeUsage), help_topic);
      return kExitUsage;
    }
  }
  if (*check) return cmd_check(g);
  if (*probe) return cmd_probe(probe_url, probe_timeout_ms);
  if (*version) return cmd_version();
  if (*run) {
    owned.reset();  // `app` is not used past this point
    std::vector<std::string> command;
    if (run_split) command.assign(argv + run_split->command_start, argv + argc);
    if (run_split && command.empty()) {
      fmt::print(stderr, "error[{}]: procd run --: no command after --\n", static_cast<int>(Code::RuntimeUsage));
      return kExitUsage;
    }
    return cmd_run(g, command);
  }
  if (*start) return names.empty() ? cmd_start_supervisor(g, keep) : cmd_service_action(g, "start", names, false);
  if (*stop) return names.empty() ? cmd_stop_supervisor(g) : cmd_service_action(g, "stop", names, false);
  if (*restart) {
    if (names.empty() && !all) {
      fmt::print(stderr, "error[{}]: restart needs service names or --all\n", static_cast<int>(Code::RuntimeUsage));
      return kExitUsage;
    }
    if (rolling && all) {
      fmt::print(stderr, "error[{}]: restart --rolling needs service names, not --all\n", static_cast<int>(Code::RuntimeUsage));
      return kExitUsage;
    }
    return rolling ? cmd_rolling_restart(g, names) : cmd_service_action(g, "restart", names, all);
  }
  if (*status) return cmd_status(g, names, json, wide, watch);
  if (*reload) return cmd_reload(g, reload_names);
  if (*signal) return cmd_signal(g, sig, names);
  if (*logs) return cmd_logs(g, names, lines, follow, raw_logs, json, log_streams, log_since, no_timestamps);
  if (*events) return cmd_events(g, json, event_service);
  if (*metrics) return cmd_metrics(g);
  if (*top) return cmd_top(g, top_http, top_token_file);
  if (*exec) {
    if (exec_split) exec_opts.command.assign(argv + exec_split->command_start, argv + argc);
    return cmd_exec(exec_opts);
  }
  return kExitUsage;
}

}  // namespace procd
