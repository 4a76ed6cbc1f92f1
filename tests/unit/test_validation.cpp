// Validation: each rule reports its code at the offending value's
// line:col with the dotted key path, and every error in a file is reported.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "procd/config_load.hpp"

using namespace procd;

namespace {
const std::vector<std::string> kNoEnv;

std::vector<Error> errors_of(const std::string& text, bool as_root = false) {
  LoadOptions opts;
  opts.environment = &kNoEnv;
  opts.as_root = as_root;
  auto r = load_config_text(text, "t.toml", opts);
  CHECK(r.config.has_value() == r.errors.empty());
  for (const auto& e : r.errors) MESSAGE(e.format());
  return r.errors;
}

// The only error of `text`, checked for code, line and column.
Error only_error(const std::string& text, Code code, int line, int column, bool as_root = false) {
  auto errors = errors_of(text, as_root);
  REQUIRE(errors.size() == 1);
  const Error& e = errors[0];
  CHECK(e.code == code);
  REQUIRE(e.where);
  CHECK(e.where->file == "t.toml");
  CHECK(e.where->line == line);
  CHECK(e.where->column == column);
  return e;
}

const std::string kWeb = "[services.web]\ncommand = \"x\"\n";
}  // namespace

TEST_CASE("validation: TOML syntax error keeps toml11's line and column") {
  auto e = only_error("name = \"a\"\n[services.web]\ncommand = [\"x\"\nfoo = 1\n", Code::ConfigSyntax, 4, 1);
  CHECK(e.message == "missing `,` between array values, or the `]` that closes the array");
  only_error("a = \n", Code::ConfigSyntax, 1, 5);
}

TEST_CASE("validation: duplicate tables and keys are duplicate names at the second one") {
  only_error("[services.a]\ncommand = \"x\"\n[services.a]\ncommand = \"y\"\n", Code::ConfigDuplicateName, 3, 1);
  only_error("[services.a]\ncommand = \"x\"\ncommand = \"y\"\n", Code::ConfigDuplicateName, 3, 11);
}

TEST_CASE("validation: services differing only in case are duplicates") {
  auto errors = errors_of("[services.web]\ncommand = \"x\"\n[services.WEB]\ncommand = \"y\"\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == Code::ConfigDuplicateName);
  CHECK(errors[0].where->line == 3);
}

TEST_CASE("validation: unknown keys with did-you-mean at every level") {
  auto e = only_error("[services.web]\ncomand = \"x\"\ncommand = \"x\"\n", Code::ConfigUnknownKey, 2, 10);
  CHECK(e.key_path == "services.web.comand");
  CHECK(e.message == "unknown key \"comand\" (did you mean \"command\"?)");
  e = only_error("hot_relod = true\n", Code::ConfigUnknownKey, 1, 13);
  CHECK(e.message == "unknown key \"hot_relod\" (did you mean \"hot_reload\"?)");
  e = only_error("[shutdown]\ngracefull = 1\n", Code::ConfigUnknownKey, 2, 13);
  CHECK(e.key_path == "shutdown.gracefull");
  e = only_error(kWeb + "[services.web.health]\nhttp = \"http://h:1/\"\nretires = 2\n", Code::ConfigUnknownKey, 5, 11);
  CHECK(e.message == "unknown key \"retires\" (did you mean \"retries\"?)");
  e = only_error("[bogus]\nx = 1\n", Code::ConfigUnknownKey, 1, 1);
  CHECK(e.message == "unknown key \"bogus\"");
  e = only_error(kWeb + "rlimits = { nofiles = 5 }\n", Code::ConfigUnknownKey, 3, 23);
  CHECK(e.message == "unknown key \"nofiles\" (did you mean \"nofile\"?)");
}

TEST_CASE("validation: wrong types") {
  auto e = only_error("[shutdown]\ngraceful = \"soon\"\n", Code::ConfigWrongType, 2, 12);
  CHECK(e.key_path == "shutdown.graceful");
  CHECK(e.message == "expected an integer, found a string");
  only_error("hot_reload = \"yes\"\n", Code::ConfigWrongType, 1, 14);
  only_error("logging = 5\n", Code::ConfigWrongType, 1, 11);
  only_error("[services.web]\ncommand = 5\n", Code::ConfigWrongType, 2, 11);
  only_error("[services.web]\ncommand = [\"a\", 1]\n", Code::ConfigWrongType, 2, 17);
  only_error("services = 1\n", Code::ConfigWrongType, 1, 12);
}

TEST_CASE("validation: empty and missing commands") {
  only_error("[services.web]\ncommand = \"\"\n", Code::ConfigEmptyCommand, 2, 11);
  only_error("[services.web]\ncommand = []\n", Code::ConfigEmptyCommand, 2, 11);
  only_error("[services.web]\ncommand = \"   \"\n", Code::ConfigEmptyCommand, 2, 11);
  auto e = only_error("[services.web]\nautostart = true\n", Code::ConfigMissingKey, 1, 1);
  CHECK(e.key_path == "services.web");
  only_error("[services.web]\ncommand = \"echo 'oops\"\n", Code::ConfigCommandSyntax, 2, 11);
}

TEST_CASE("validation: graceful < force < kill") {
  auto e = only_error("[shutdown]\ngraceful = 5000\nforce = 5000\n", Code::ConfigShutdownOrder, 3, 9);
  CHECK(e.key_path == "shutdown.force");
  e = only_error("[shutdown]\nkill = 40000\n", Code::ConfigShutdownOrder, 2, 8);
  CHECK(e.key_path == "shutdown.kill");
  // A key left at its default is reported at its table.
  e = only_error("[shutdown]\ngraceful = 50000\n", Code::ConfigShutdownOrder, 1, 1);
  CHECK(e.key_path == "shutdown.force");
  auto errors = errors_of("[shutdown]\ngraceful = 3\nforce = 2\nkill = 1\n");
  CHECK(errors.size() == 2);
}

TEST_CASE("validation: unknown signals") {
  auto e = only_error(kWeb + "stop_signal = \"SIGTERMINATE\"\n", Code::ConfigUnknownSignal, 3, 15);
  CHECK(e.message == "unknown signal \"SIGTERMINATE\"");
  only_error("[signals]\nforward = [\"USR1\", \"SIGFOO\"]\n", Code::ConfigUnknownSignal, 2, 20);
  only_error("[signals]\nforward = [\"KILL\"]\n", Code::ConfigInvalidValue, 2, 12);
  only_error("[signals]\nsighup = \"restart\"\n", Code::ConfigInvalidValue, 2, 10);
}

TEST_CASE("validation: restart policy") {
  auto e = only_error(kWeb + "[services.web.restart]\npolicy = \"sometimes\"\n", Code::ConfigInvalidValue, 4, 10);
  CHECK(e.format() ==
        "t.toml:4:10: error[1004]: services.web.restart.policy: unknown policy \"sometimes\" (expected never, always, "
        "on-failure, exponential-backoff)");
  e = only_error(kWeb + "restart = \"sometimes\"\n", Code::ConfigInvalidValue, 3, 11);
  CHECK(e.key_path == "services.web.restart");
}

TEST_CASE("validation: restart keys must fit the policy") {
  auto e = only_error(kWeb + "restart = { policy = \"exponential-backoff\", delay_ms = 5 }\n", Code::ConfigUnknownKey, 3, 56);
  CHECK(e.message == "\"delay_ms\" does not apply to policy \"exponential-backoff\"");
  only_error(kWeb + "restart = { policy = \"always\", max_attempts = 5 }\n", Code::ConfigUnknownKey, 3, 47);
  only_error(kWeb + "restart = { delay_ms = 5 }\n", Code::ConfigUnknownKey, 3, 24);
  only_error(kWeb + "restart = { policy = \"exponential-backoff\", initial_delay_ms = 10, max_delay_ms = 5 }\n",
             Code::ConfigInvalidValue, 3, 83);
}

TEST_CASE("validation: dependencies on unknown services and cycles") {
  auto e = only_error(kWeb + "depends_on = [\"dbb\"]\n[services.db]\ncommand = \"d\"\n", Code::ConfigUnknownDependency,
                      3, 14);
  CHECK(e.message == "depends on unknown service \"dbb\" (did you mean \"db\"?)");
  e = only_error(kWeb + "depends_on = { ghost = \"ready\" }\n", Code::ConfigUnknownDependency, 3, 24);
  CHECK(e.key_path == "services.web.depends_on.ghost");
  e = only_error("[services.a]\ncommand = \"a\"\ndepends_on = [\"b\"]\n[services.b]\ncommand = \"b\"\ndepends_on = [\"a\"]\n",
                 Code::ConfigDependencyCycle, 3, 14);
  CHECK(e.message == "dependency cycle: a -> b -> a");
  only_error(kWeb + "depends_on = { x = \"finished\" }\n[services.x]\ncommand = \"x\"\n", Code::ConfigInvalidValue, 3, 20);
  only_error(kWeb + "depends_on = [\"x\", \"x\"]\n[services.x]\ncommand = \"x\"\n", Code::ConfigDuplicateName, 3, 20);
}

TEST_CASE("validation: env_file must be readable") {
  auto e = only_error(kWeb + "env_file = \"/nonexistent/.env\"\n", Code::ConfigEnvFileUnreadable, 3, 12);
  CHECK(e.message.find("No such file") != std::string::npos);
  only_error(kWeb + "env_file = \"/\"\n", Code::ConfigEnvFileUnreadable, 3, 12);
  auto dir = std::filesystem::temp_directory_path() / "procd_unit_envfile";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "good.env") << "A=1\n";
  CHECK(errors_of(kWeb + "env_file = \"" + (dir / "good.env").string() + "\"\n").empty());
  // What the spawn would refuse, check refuses: a symlink (never followed) ...
  std::filesystem::remove(dir / "link.env");
  std::filesystem::create_symlink(dir / "good.env", dir / "link.env");
  e = only_error(kWeb + "env_file = \"" + (dir / "link.env").string() + "\"\n", Code::ConfigEnvFileUnreadable, 3, 12);
  CHECK(e.message.find("symbolic link") != std::string::npos);
  // ... and a malformed line, reported at its own line in the env file.
  std::ofstream(dir / "bad.env") << "A=1\n  not an assignment\n";
  auto errors = errors_of(kWeb + "env_file = \"" + (dir / "bad.env").string() + "\"\n");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == Code::ConfigInvalidValue);
  CHECK(errors[0].key_path == "services.web.env_file");
  REQUIRE(errors[0].where);
  CHECK(errors[0].where->file == (dir / "bad.env").string());
  CHECK(errors[0].where->line == 2);
  CHECK(errors[0].where->column == 3);
  std::filesystem::remove_all(dir);
}

TEST_CASE("validation: user needs root") {
  auto e = only_error(kWeb + "user = \"www-data\"\n", Code::ConfigUserNotRoot, 3, 8, /*as_root=*/false);
  CHECK(e.key_path == "services.web.user");
  CHECK(errors_of(kWeb + "user = \"root\"\n", /*as_root=*/true).empty());
  only_error(kWeb + "user = \"no-such-user-procd\"\n", Code::ConfigUnknownUser, 3, 8, /*as_root=*/true);
}

TEST_CASE("validation: ready values") {
  only_error(kWeb + "ready = \"soon\"\n", Code::ConfigInvalidValue, 3, 9);
  only_error(kWeb + "ready = { min_uptime_ms = 5, log = \"x\" }\n", Code::ConfigInvalidValue, 3, 9);
  only_error(kWeb + "ready = { log = \"([a-z\" }\n", Code::ConfigInvalidRegex, 3, 17);
  only_error(kWeb + "ready = { min_uptime_ms = -5 }\n", Code::ConfigOutOfRange, 3, 27);
  auto errors = errors_of(kWeb + "ready = { uptime = 5 }\n");
  REQUIRE(errors.size() == 2);  // the unknown key, and the missing one it was meant to be
  CHECK(errors[0].code == Code::ConfigInvalidValue);  // sorted by column: the table comes first
  CHECK(errors[1].code == Code::ConfigUnknownKey);
  CHECK(errors[1].where->column == 20);
  only_error(kWeb + "ready = \"health\"\n", Code::ConfigMissingKey, 3, 9);
  only_error(kWeb + "watchdog_ms = 1000\n", Code::ConfigInvalidValue, 3, 15);
}

TEST_CASE("validation: health needs exactly one check") {
  only_error(kWeb + "[services.web.health]\ninterval_ms = 5\n", Code::ConfigMissingKey, 3, 1);
  only_error(kWeb + "health = { http = \"http://a:1/\", tcp = \"a:1\" }\n", Code::ConfigInvalidValue, 3, 10);
  only_error(kWeb + "health = { http = \"ftp://a/\" }\n", Code::ConfigInvalidValue, 3, 19);
  only_error(kWeb + "health = { tcp = \"localhost\" }\n", Code::ConfigInvalidValue, 3, 18);
  only_error(kWeb + "health = { command = [] }\n", Code::ConfigEmptyCommand, 3, 22);
  only_error(kWeb + "health = { tcp = \"a:1\", retries = 0 }\n", Code::ConfigOutOfRange, 3, 35);
}

// The runtime (src/daemon/health.cpp) uses the target parsed here, so every
// target the runtime could not use is rejected by `procd check`.
TEST_CASE("validation: health targets are parsed at load time") {
  for (std::string bad : {"::1:5432", "host:0", "host:99999", "host", "[::1]", "[host]:80", "a b:80"}) {
    CAPTURE(bad);
    only_error(kWeb + "health = { tcp = \"" + bad + "\" }\n", Code::ConfigInvalidValue, 3, 18);
  }
  for (std::string bad : {"https://127.0.0.1/healthz", "http://127.0.0.1:0/", "http://host:99999/", "http://::1:8080/",
                          "http://[::1/", "http://u:p@host/", "http://host/a b", "http://host:/", "http://"}) {
    CAPTURE(bad);
    only_error(kWeb + "health = { http = \"" + bad + "\" }\n", Code::ConfigInvalidValue, 3, 19);
  }
  auto e = only_error(kWeb + "[services.web.health]\ntcp = \"::1:5432\"\n", Code::ConfigInvalidValue, 4, 7);
  CHECK(e.key_path == "services.web.health.tcp");
  CHECK(e.message.find("brackets") != std::string::npos);
  e = only_error(kWeb + "[services.web.health]\nhttp = \"https://a/\"\n", Code::ConfigInvalidValue, 4, 8);
  CHECK(e.message.find("https is not supported") != std::string::npos);
  CHECK(errors_of(kWeb + "health = { tcp = \"[::1]:5432\" }\n").empty());
  CHECK(errors_of(kWeb + "health = { http = \"http://[::1]:8080/ready\" }\n").empty());
}

TEST_CASE("validation: a parsed health target is kept in the model beside the text") {
  LoadOptions opts;
  opts.environment = &kNoEnv;
  auto r = load_config_text(kWeb + "health = { tcp = \"[::1]:5432\" }\n"
                                   "[services.api]\ncommand = \"x\"\nhealth = { http = \"http://localhost\" }\n",
                            "t.toml", opts);
  REQUIRE(r.ok());
  const auto& tcp = r.config->services[0].health;
  CHECK(tcp.target == "[::1]:5432");
  CHECK(tcp.host == "::1");
  CHECK(tcp.port == 5432);
  const auto& http = r.config->services[1].health;
  CHECK(http.host == "localhost");
  CHECK(http.port == 80);
  CHECK(http.path == "/");
}

// [control] http is checked by the same host:port parser as health tcp.
TEST_CASE("validation: control http listener address") {
  only_error("[control]\nhttp = \"::1:9100\"\n", Code::ConfigInvalidValue, 2, 8);
  only_error("[control]\nhttp = \"[::1]\"\n", Code::ConfigInvalidValue, 2, 8);
  for (std::string good : {"127.0.0.1:9100", "[::1]:9100", "0.0.0.0:9100", "localhost:9100"}) {
    CAPTURE(good);
    CHECK(errors_of("[control]\nhttp = \"" + good + "\"\n").empty());
  }
}

TEST_CASE("validation: sizes, modes, ranges, enums") {
  only_error(kWeb + "memory_limit = \"lots\"\n", Code::ConfigInvalidSize, 3, 16);
  only_error("[logging]\nmax_file_size = -1\n", Code::ConfigInvalidSize, 2, 17);
  only_error(kWeb + "umask = \"089\"\n", Code::ConfigInvalidValue, 3, 9);
  only_error(kWeb + "umask = \"1777\"\n", Code::ConfigOutOfRange, 3, 9);
  only_error("[control]\nmode = \"rw\"\n", Code::ConfigInvalidValue, 2, 8);
  only_error(kWeb + "[services.web.log]\nstderr = \"both\"\n", Code::ConfigInvalidValue, 4, 10);
  only_error("[logging]\nlevel = \"verbose\"\n", Code::ConfigInvalidValue, 2, 9);
  only_error(kWeb + "nice = 40\n", Code::ConfigOutOfRange, 3, 8);
  only_error(kWeb + "stop_timeout_ms = -1\n", Code::ConfigOutOfRange, 3, 19);
  only_error("[shutdown]\ngraceful = -5\n", Code::ConfigOutOfRange, 2, 12);
  only_error(kWeb + "rlimits = { nofile = -1 }\n", Code::ConfigInvalidValue, 3, 22);
  only_error(kWeb + "success_exit_codes = [0, 300]\n", Code::ConfigInvalidValue, 3, 26);
  only_error("[control]\nhttp = \"9100\"\n", Code::ConfigInvalidValue, 2, 8);
  only_error("[services.\"bad name\"]\ncommand = \"x\"\n", Code::ConfigInvalidValue, 1, 1);
}

TEST_CASE("validation: every error in a file is reported, top to bottom") {
  auto errors = errors_of(R"([shutdown]
graceful = 50000
[services.web]
comand = "x"
stop_signal = "SIGNOPE"
depends_on = ["ghost"]
user = "nobody"
[services.web.restart]
policy = "sometimes"
)");
  std::vector<Code> codes;
  for (const auto& e : errors) codes.push_back(e.code);
  CHECK(std::count(codes.begin(), codes.end(), Code::ConfigShutdownOrder) == 1);
  CHECK(std::count(codes.begin(), codes.end(), Code::ConfigUnknownKey) == 1);
  CHECK(std::count(codes.begin(), codes.end(), Code::ConfigMissingKey) == 1);
  CHECK(std::count(codes.begin(), codes.end(), Code::ConfigUnknownSignal) == 1);
  CHECK(std::count(codes.begin(), codes.end(), Code::ConfigUnknownDependency) == 1);
  CHECK(std::count(codes.begin(), codes.end(), Code::ConfigUserNotRoot) == 1);
  CHECK(std::count(codes.begin(), codes.end(), Code::ConfigInvalidValue) == 1);
  CHECK(errors.size() == 7);
  for (std::size_t i = 1; i < errors.size(); ++i) CHECK(errors[i - 1].where->line <= errors[i].where->line);
}

// SPEC Part 2 "Time values": every duration has an upper bound (a year in
// milliseconds), so `now + value` and `watchdog_ms * 1000` cannot overflow.
TEST_CASE("validation: durations are at most a year, in the file and from the environment") {
  const std::string over = std::to_string(kMaxDurationMs + 1);
  const std::string huge = "9223372036854775807";
  const std::string max = std::to_string(kMaxDurationMs);
  struct Case { std::string text; int line; int column; };
  const std::vector<Case> cases = {
      {"[shutdown]\ngraceful = " + over + "\n", 2, 12},
      {"[shutdown]\nforce = " + over + "\n", 2, 9},
      {"[shutdown]\nkill = " + huge + "\n", 2, 8},
      {"[monitoring]\nmetrics_interval_ms = " + over + "\n", 2, 23},
      {kWeb + "stop_timeout_ms = " + huge + "\n", 3, 19},
      {kWeb + "start_timeout_ms = " + over + "\n", 3, 20},
      {kWeb + "ready = \"notify\"\nwatchdog_ms = " + huge + "\n", 4, 15},
      {kWeb + "ready = { min_uptime_ms = " + over + " }\n", 3, 27},
      {kWeb + "restart = { policy = \"always\", delay_ms = " + huge + " }\n", 3, 43},
      {kWeb + "restart = { policy = \"exponential-backoff\", initial_delay_ms = 1, max_delay_ms = " + over + " }\n", 3,
       82},
      {kWeb + "[services.web.restart]\npolicy = \"on-failure\"\nstart_limit = { burst = 2, interval_ms = " + over +
           " }\n",
       5, 42},
      {kWeb + "health = { tcp = \"a:1\", interval_ms = " + over + " }\n", 3, 39},
      {kWeb + "health = { tcp = \"a:1\", timeout_ms = " + huge + " }\n", 3, 38},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto e = only_error(c.text, Code::ConfigOutOfRange, c.line, c.column);
    CHECK(e.message.find("at most a year") != std::string::npos);
  }
  CHECK(errors_of(kWeb + "ready = \"notify\"\nwatchdog_ms = " + max + "\nstop_timeout_ms = " + max + "\n").empty());
  // Int overrides are typed as TOML integers, then bounded by the same rule.
  const std::vector<std::string> env = {"PROCD_SERVICES__WEB__START_TIMEOUT_MS=" + huge};
  LoadOptions opts;
  opts.environment = &env;
  opts.as_root = false;
  auto r = load_config_text(kWeb, "t.toml", opts);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigOutOfRange);
  CHECK(r.errors[0].where->file == "env PROCD_SERVICES__WEB__START_TIMEOUT_MS");
}

// toml11 parses arrays and inline tables recursively: without a depth limit
// a deep file overflows the stack, and reload parses in the supervisor.
TEST_CASE("validation: nesting deeper than 64 is a syntax error at the bracket, before toml11 sees it") {
  const std::string deep(100000, '[');
  auto e = only_error("x = 1\na = " + deep + "\n", Code::ConfigSyntax, 2, 5 + 64);
  CHECK(e.message.find("64") != std::string::npos);
  std::string inline_tables = "a = ";
  for (int i = 0; i < 100000; ++i) inline_tables += "{b=";
  only_error(inline_tables + "\n", Code::ConfigSyntax, 1, 5 + 64 * 3);
  // 64 levels are fine; brackets in strings and comments are not nesting.
  // (The keys are unknown, 1002: what matters is that the file parsed.)
  auto parsed = [](const std::string& text) {
    auto errors = errors_of(text);
    return !errors.empty() && std::all_of(errors.begin(), errors.end(),
                                          [](const Error& e) { return e.code == Code::ConfigUnknownKey; });
  };
  CHECK(parsed("a = " + std::string(64, '[') + std::string(64, ']') + "\n"));
  const std::string many = std::string(200, '[') + "{";
  CHECK(parsed("a = \"" + many + "\"\nb = '" + many + "'\n# " + many + "\nc = \"\"\"\n" + many + "\n\"\"\"\n" +
               "d = '''" + many + "'''\ne = \"\\\"" + many + "\"\n[\"" + many + "\"]\n"));
}

TEST_CASE("validation: cgroup limits memory_max, cpu_max, pids_max, cpu_weight") {
  LoadOptions opts;
  opts.environment = &kNoEnv;
  auto ok = load_config_text(kWeb + "memory_max = \"256M\"\ncpu_max = \"50%\"\npids_max = 100\ncpu_weight = 200\n", "t.toml", opts);
  REQUIRE(ok.config);
  const ServiceConfig& s = ok.config->services[0];
  CHECK(s.memory_max == 256u * 1024 * 1024);
  CHECK(s.cpu_max == "50%");
  CHECK(s.pids_max == 100);
  CHECK(s.cpu_weight == 200);
  only_error(kWeb + "cpu_max = \"50\"\n", Code::ConfigInvalidCpuMax, 3, 11);
  only_error(kWeb + "cpu_max = \"0%\"\n", Code::ConfigInvalidCpuMax, 3, 11);
  only_error(kWeb + "cpu_weight = 0\n", Code::ConfigOutOfRange, 3, 14);
  only_error(kWeb + "pids_max = 0\n", Code::ConfigOutOfRange, 3, 12);
  only_error(kWeb + "memory_max = \"lots\"\n", Code::ConfigInvalidSize, 3, 14);
}
