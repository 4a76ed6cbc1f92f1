// What procd says about a config (issue 27): TOML syntax errors in plain
// words, did-you-mean for signal names, the lookup order in 1013, warning
// 1047 for `$$` / `${` in a shell script, and the default file names beside
// the config (.STEM.sock, .STEM.pid, .STEM.log).
#include <doctest/doctest.h>

#include <string>

#include "procd/config_load.hpp"
#include "procd/control_client.hpp"

using namespace procd;

namespace {

LoadResult load(const std::string& text, const std::string& path = "/etc/stack/procd.toml") {
  LoadOptions opts;
  opts.as_root = false;
  static const std::vector<std::string> env = {"HOME=/home/ann"};
  opts.environment = &env;
  return load_config_text(text, path, opts);
}

std::string only_error(const std::string& text) {
  auto r = load(text);
  REQUIRE(r.errors.size() == 1);
  return r.errors[0].format();
}

}  // namespace

TEST_CASE("messages: TOML syntax errors name the mistake in plain words") {
  CHECK(only_error("[services.a]\ncommand = \"sleep 1\n") ==
        "/etc/stack/procd.toml:2:11: error[1001]: unterminated string: no closing `\"` on this line");
  CHECK(only_error("[services.a]\ncommand = 'sleep 1\n").find("unterminated string: no closing `'`") != std::string::npos);
  CHECK(only_error("[services.a]\ncommand = \"\"\"x\n").find("unterminated multi-line string") != std::string::npos);
  CHECK(only_error("[services.a\ncommand = \"x\"\n") ==
        "/etc/stack/procd.toml:1:1: error[1001]: missing `]` at the end of the table header");
  CHECK(only_error("[[services.a]\n").find("missing `]]`") != std::string::npos);
  CHECK(only_error("[services.a]\ncommand = [\"sleep\", \"1\"\nrestart = \"always\"\n")
            .find("missing `,` between array values, or the `]` that closes the array") != std::string::npos);
  // Anything else keeps toml11's words, at its line and column.
  CHECK(only_error("[services.a]\ncommand \"x\"\n").find("2:8: error[1001]: missing key-value separator") != std::string::npos);
}

TEST_CASE("messages: a near-miss signal name gets a did-you-mean, in the form given") {
  CHECK(only_error("[services.a]\ncommand = \"x\"\nstop_signal = \"TREM\"\n")
            .find("unknown signal \"TREM\" (did you mean \"TERM\"?)") != std::string::npos);
  CHECK(only_error("[services.a]\ncommand = \"x\"\nstop_signal = \"SIGINTT\"\n")
            .find("(did you mean \"SIGINT\"?)") != std::string::npos);
  CHECK(only_error("[signals]\nforward = [\"usr3\"]\n").find("did you mean") != std::string::npos);
  CHECK(only_error("[services.a]\ncommand = \"x\"\nstop_signal = \"BANANA\"\n").find("did you mean") == std::string::npos);
}

TEST_CASE("messages: 1013 names the lookup order of the config file") {
  auto r = load_config("/nonexistent-procd-dir/procd.toml");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigFileUnreadable);
  CHECK(r.errors[0].message.find("-c FILE, $PROCD_CONFIG, ./procd.toml, /etc/procd/procd.toml") != std::string::npos);
}

TEST_CASE("messages: warning 1047 for $$ and ${ in a sh -c command, at the value, naming the escape") {
  auto r = load("[services.a]\ncommand = [\"sh\", \"-c\", \"echo $$ ${HOME}\"]\n");
  REQUIRE(r.ok());
  REQUIRE(r.config->warnings.size() == 2);
  CHECK(format_warning(r.config->warnings[0]).find("procd.toml:2:11: warning[1047]: services.a.command:") != std::string::npos);
  CHECK(r.config->warnings[0].message.find("`$$$$`") != std::string::npos);
  CHECK(r.config->warnings[1].message.find("`$${NAME}`") != std::string::npos);
  r = load("[services.a]\ncommand = \"sh -c 'echo $$$$ $${HOME}'\"\n[services.b]\ncommand = [\"echo\", \"$$\"]\n");
  REQUIRE(r.ok());
  CHECK(r.config->warnings.empty());
}

TEST_CASE("messages: socket, PID file and log default to .STEM.* beside the config") {
  CHECK(default_state_file("/etc/stack/procd.toml", "sock") == "/etc/stack/.procd.sock");
  CHECK(default_state_file("/srv/a.toml", "pid") == "/srv/.a.pid");
  CHECK(default_state_file("/srv/web.api.toml", "log") == "/srv/.web.api.log");
  CHECK(default_state_file("/srv/stack", "sock") == "/srv/.stack.sock");
  auto r = load("", "/srv/b.toml");
  REQUIRE(r.ok());
  CHECK(r.config->control.socket == "/srv/.b.sock");
  CHECK(r.config->pid_file == "/srv/.b.pid");
  r = load("pid_file = \"run/b.pid\"\n[control]\nsocket = \"/run/b.sock\"\n", "/srv/b.toml");
  REQUIRE(r.ok());
  CHECK(r.config->pid_file == "/srv/run/b.pid");
  CHECK(r.config->control.socket == "/run/b.sock");
}

TEST_CASE("messages: 6010 (nothing listening) hints `procd start`") {
  ControlClient client;
  auto r = client.connect("/nonexistent-procd-dir/.procd.sock", 100);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::ControlUnreachable);
  CHECK(r.error().message == "no procd is listening on /nonexistent-procd-dir/.procd.sock (start it with `procd start`)");
}
