// PROCD_ environment overrides: nesting with __, case-insensitive service
// names, typing by the schema, validation like file values, error locations.
#include <doctest/doctest.h>

#include "procd/config_load.hpp"

using namespace procd;

namespace {
const std::string kBase = R"(
[shutdown]
graceful = 1000
[services.web]
command = "server"
[services.worker]
command = "work"
)";

LoadResult load_with(const std::vector<std::string>& env, const std::string& text = kBase) {
  LoadOptions opts;
  opts.environment = &env;
  opts.as_root = false;
  auto r = load_config_text(text, "t.toml", opts);
  for (const auto& e : r.errors) MESSAGE(e.format());
  return r;
}
}  // namespace

TEST_CASE("env overrides: SPEC examples, at any depth") {
  auto r = load_with({"PROCD_LOGGING__LEVEL=debug", "PROCD_SHUTDOWN__GRACEFUL=2000",
                      "PROCD_SERVICES__WEB__STOP_TIMEOUT_MS=5", "PROCD_SERVICES__WEB__RESTART__POLICY=always",
                      "PROCD_SERVICES__WORKER__HEALTH__TCP=127.0.0.1:1"});
  REQUIRE(r.ok());
  CHECK(r.config->logging.level == LogLevel::Debug);
  CHECK(r.config->shutdown.graceful == 2000);
  CHECK(r.config->services[0].stop_timeout_ms == 5);
  CHECK(r.config->services[0].restart.policy == RestartPolicyKind::Always);
  CHECK(r.config->services[1].health.kind == HealthKind::Tcp);
}

TEST_CASE("env overrides: typed like the key they override") {
  auto r = load_with({"PROCD_HOT_RELOAD=0", "PROCD_LOGGING__JSON=TRUE", "PROCD_NAME=from-env",
                      "PROCD_LOGGING__MAX_FILE_SIZE=64k", "PROCD_SERVICES__WEB__MEMORY_LIMIT=1048576",
                      "PROCD_SERVICES__WEB__COMMAND=python3 -m http.server", "PROCD_CONTROL__MODE=0660"});
  REQUIRE(r.ok());
  CHECK_FALSE(r.config->hot_reload);
  CHECK(r.config->logging.json);
  CHECK(r.config->name == "from-env");
  CHECK(r.config->logging.max_file_size == 65536);
  CHECK(r.config->services[0].memory_limit == 1048576);
  CHECK(r.config->services[0].command == std::vector<std::string>{"python3", "-m", "http.server"});
  CHECK(r.config->control.mode == 0660);
}

TEST_CASE("env overrides: service names match case-insensitively, keys are lower-cased") {
  auto r = load_with({"PROCD_SERVICES__API__AUTOSTART=false"}, "[services.Api]\ncommand = \"x\"\n");
  REQUIRE(r.ok());
  CHECK_FALSE(r.config->services[0].autostart);
}

TEST_CASE("env overrides: not overrides") {
  auto r = load_with({"PROCD_CONFIG=/x.toml", "PROCD_SERVICE=web", "PROCD_BIN=/usr/bin/procd",
                      "PROCD_SOURCE_ROOT=/src", "OTHER__X=1", "PROCD_NAME"});
  CHECK(r.ok());
}

TEST_CASE("env overrides: unknown keys are errors located at the variable") {
  auto r = load_with({"PROCD_SHUTDOWN__GRACEFULL=5"});
  REQUIRE(r.errors.size() == 1);
  const Error& e = r.errors[0];
  CHECK(e.code == Code::ConfigOverrideUnknownKey);
  CHECK(e.key_path == "shutdown.gracefull");
  CHECK(e.format() ==
        "env PROCD_SHUTDOWN__GRACEFULL: error[1014]: shutdown.gracefull: unknown key \"gracefull\" (did you mean "
        "\"graceful\"?)");

  for (const char* bad : {"PROCD_SERVICES__NEW__COMMAND=x", "PROCD_BOGUS__KEY=1", "PROCD_SERVICES__WEB__ENV=x",
                          "PROCD_SERVICES__WEB__COMMAND__X=1", "PROCD_LOGGING____LEVEL=x"}) {
    auto bad_r = load_with({bad});
    REQUIRE(bad_r.errors.size() == 1);
    CHECK(bad_r.errors[0].code == Code::ConfigOverrideUnknownKey);
  }
}

TEST_CASE("env overrides: unparsable values") {
  for (const char* bad : {"PROCD_SHUTDOWN__FORCE=soon", "PROCD_HOT_RELOAD=maybe", "PROCD_SERVICES__WEB__NICE=1.5"}) {
    auto r = load_with({bad});
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == Code::ConfigOverrideBadValue);
    REQUIRE(r.errors[0].where);
    CHECK(r.errors[0].where->file.rfind("env PROCD_", 0) == 0);
  }
}

TEST_CASE("env overrides: validated the same, errors point at the variable") {
  auto r = load_with({"PROCD_SHUTDOWN__FORCE=500"});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigShutdownOrder);
  CHECK(r.errors[0].where->file == "env PROCD_SHUTDOWN__FORCE");
  CHECK(r.errors[0].where->line == 0);

  r = load_with({"PROCD_SERVICES__WEB__STOP_SIGNAL=SIGNOPE"});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigUnknownSignal);
  CHECK(r.errors[0].format().rfind("env PROCD_SERVICES__WEB__STOP_SIGNAL: error[1007]: services.web.stop_signal:", 0) == 0);
}

TEST_CASE("env overrides: a later file value is replaced, not duplicated") {
  auto r = load_with({"PROCD_SERVICES__WEB__RESTART=on-failure"},
                     "[services.web]\ncommand = \"x\"\nrestart = \"always\"\n");
  REQUIRE(r.ok());
  CHECK(r.config->services[0].restart.policy == RestartPolicyKind::OnFailure);
}
