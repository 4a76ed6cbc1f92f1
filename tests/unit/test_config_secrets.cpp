// Secrets: no config error or warning echoes an env_file line, a value
// substituted for ${VAR}, or a PROCD_ override's value; each names the key
// and the place (file:line:col, or the variable) instead.
#include <doctest/doctest.h>

#include <string>

#include "procd/config.hpp"
#include "procd/config_load.hpp"
#include "procd/env_file.hpp"

using namespace procd;

namespace {
const std::string kSecret = "s3cr3t-XYZ";
const std::vector<std::string> kEnv = {"SECRET=" + kSecret, "HOME=/home/ann"};

std::vector<Error> errors_of(const std::string& text, const std::vector<std::string>& env = kEnv) {
  LoadOptions opts;
  opts.environment = &env;
  auto r = load_config_text(text, "t.toml", opts);
  for (const auto& e : r.errors) MESSAGE(e.format());
  return r.errors;
}

void no_secret_in(const std::vector<Error>& errors, Code code) {
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code == code);
  CHECK(errors[0].format().find(kSecret) == std::string::npos);
  CHECK(errors[0].format().find("s3cr3t") == std::string::npos);
}
}  // namespace

TEST_CASE("secrets: a malformed env_file line is located, not quoted") {
  auto r = parse_env_file_text("OK=1\nTOKEN " + kSecret + "\n", "/etc/app.env");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find(kSecret) == std::string::npos);
  CHECK(r.error().format().find("/etc/app.env:2:1") != std::string::npos);
}

TEST_CASE("secrets: a ${VAR:?message} error shows the message as written, not expanded") {
  auto errors = errors_of("[services.web]\ncommand = \"x\"\nworking_dir = \"${UNSET:?token ${SECRET} missing}\"\n");
  no_secret_in(errors, Code::ConfigVariableRequired);
  CHECK(errors[0].message.find("token ${SECRET} missing") != std::string::npos);
}

TEST_CASE("secrets: a value error on an interpolated value names the variable, not its value") {
  auto errors = errors_of("[services.web]\ncommand = \"x\"\nstop_signal = \"${SECRET}\"\n");
  no_secret_in(errors, Code::ConfigUnknownSignal);
  CHECK(errors[0].message.find("${SECRET}") != std::string::npos);
  CHECK(errors[0].where->line == 3);
  // Also inside a longer string, and from a default's variable.
  errors = errors_of("[services.web]\ncommand = \"x\"\nstop_signal = \"SIG${UNSET:-${SECRET}}\"\n");
  no_secret_in(errors, Code::ConfigUnknownSignal);
}

TEST_CASE("secrets: a bad PROCD_ override value is not echoed") {
  const std::vector<std::string> env = {"PROCD_SERVICES__WEB__START_TIMEOUT_MS=" + kSecret};
  auto errors = errors_of("[services.web]\ncommand = \"x\"\n", env);
  no_secret_in(errors, Code::ConfigOverrideBadValue);
  CHECK(errors[0].message.find("PROCD_SERVICES__WEB__START_TIMEOUT_MS") != std::string::npos);
  const std::vector<std::string> signal_env = {"PROCD_SERVICES__WEB__STOP_SIGNAL=" + kSecret};
  errors = errors_of("[services.web]\ncommand = \"x\"\n", signal_env);
  no_secret_in(errors, Code::ConfigUnknownSignal);
  CHECK(errors[0].message.find("${PROCD_SERVICES__WEB__STOP_SIGNAL}") != std::string::npos);
}
