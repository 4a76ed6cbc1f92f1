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
int cmd_run(const GlobalOptions& g);
int cmd_stop_supervisor(const GlobalOptions& g);

}  // namespace procd
