// Lifecycle hooks: the pure decisions (procd/hooks.hpp) and their config keys.
#include <doctest/doctest.h>

#include <algorithm>

#include "procd/config_load.hpp"
#include "procd/hooks.hpp"

using namespace procd;

namespace {

bool has(const std::vector<std::string>& env, const std::string& kv) {
  return std::find(env.begin(), env.end(), kv) != env.end();
}

LoadResult load(const std::string& text) {
  static const std::vector<std::string> no_env;
  LoadOptions opts;
  opts.environment = &no_env;
  return load_config_text(text, "t.toml", opts);
}

}  // namespace

TEST_CASE("hooks: the verdict of a hook's end names the hook and why") {
  CHECK(judge_hook(HookKind::PreStart, HookEnd{}, 100).ok);
  HookVerdict v = judge_hook(HookKind::PreStart, HookEnd{3, 0, false, ""}, 100);
  CHECK_FALSE(v.ok);
  CHECK(v.reason == "pre_start exited 3");
  CHECK(judge_hook(HookKind::PreStart, HookEnd{0, 0, true, ""}, 500).reason == "pre_start timed out after 500 ms");
  CHECK(judge_hook(HookKind::PostStop, HookEnd{0, 9, false, ""}, 500).reason == "post_stop killed by SIGKILL");
  v = judge_hook(HookKind::PreStart, HookEnd{0, 0, false, "command not found: nope (not in PATH=/bin)"}, 1);
  CHECK(v.reason == "pre_start: command not found: nope");
  CHECK(is_pre_start_failure(v.reason));
  CHECK_FALSE(is_pre_start_failure("command not found: x"));
  // A timeout wins over the signal that ended it.
  CHECK(judge_hook(HookKind::Reload, HookEnd{0, 9, true, ""}, 20).reason == "reload_command timed out after 20 ms");
}

TEST_CASE("hooks: pre_start and reload are bounded by the start timeout, the others by the stop timeout") {
  CHECK(hook_timeout(HookKind::PreStart, 900, 50) == 900);
  CHECK(hook_timeout(HookKind::Reload, 900, 50) == 900);
  CHECK(hook_timeout(HookKind::StopCommand, 900, 50) == 50);
  CHECK(hook_timeout(HookKind::PostStop, 900, 50) == 50);
  CHECK(hook_timeout(HookKind::PostStop, 900, 0) == 1);
}

TEST_CASE("hooks: post_stop gets the run's exit code and signal") {
  std::vector<std::string> env{"PATH=/bin", "PROCD_EXIT_CODE=stale"};
  add_hook_env(env, HookKind::PostStop, HookVars{0, ExitStatus{7, 0}, true});
  CHECK(has(env, "PROCD_EXIT_CODE=7"));
  CHECK(has(env, "PROCD_EXIT_SIGNAL="));
  CHECK(has(env, "PROCD_HOOK=post_stop"));
  CHECK(std::count_if(env.begin(), env.end(), [](auto& e) { return e.rfind("PROCD_EXIT_CODE=", 0) == 0; }) == 1);

  std::vector<std::string> killed;
  add_hook_env(killed, HookKind::PostStop, HookVars{0, ExitStatus{0, 15}, true});
  CHECK(has(killed, "PROCD_EXIT_CODE=143"));
  CHECK(has(killed, "PROCD_EXIT_SIGNAL=SIGTERM"));

  std::vector<std::string> never;  // the run never started: both empty
  add_hook_env(never, HookKind::PostStop, HookVars{0, std::nullopt, true});
  CHECK(has(never, "PROCD_EXIT_CODE="));
}

TEST_CASE("hooks: stop_command gets PROCD_MAINPID, pre_start none") {
  std::vector<std::string> env;
  add_hook_env(env, HookKind::StopCommand, HookVars{4242, std::nullopt, false});
  CHECK(has(env, "PROCD_MAINPID=4242"));
  std::vector<std::string> pre;
  add_hook_env(pre, HookKind::PreStart, HookVars{});
  CHECK(pre == std::vector<std::string>{"PROCD_HOOK=pre_start"});
}

TEST_CASE("hooks: procd reload NAME signals, runs the command, or restarts") {
  ServiceConfig svc;
  CHECK(reload_way(svc) == ReloadWay::Restart);
  svc.reload_signal = 1;
  CHECK(reload_way(svc) == ReloadWay::Signal);
  svc.reload_signal = 0;
  svc.reload_command = {"true"};
  CHECK(reload_way(svc) == ReloadWay::Command);
  CHECK(has_hook(svc, HookKind::Reload));
  CHECK_FALSE(has_hook(svc, HookKind::PreStart));
}

TEST_CASE("hooks: config keys are read") {
  auto r = load(
      "[services.web]\ncommand = \"x\"\npre_start = [\"mkdir\", \"-p\", \"/tmp/a\"]\nstop_command = \"kill $PROCD_MAINPID\"\n"
      "post_stop = [\"rm\", \"x\"]\nreload_signal = \"SIGHUP\"\n");
  for (const auto& e : r.errors) MESSAGE(e.format());
  REQUIRE(r.config.has_value());
  const ServiceConfig& svc = r.config->services.at(0);
  CHECK(svc.pre_start == std::vector<std::string>{"mkdir", "-p", "/tmp/a"});
  CHECK(svc.stop_command.size() == 2);
  CHECK(svc.post_stop.size() == 2);
  CHECK(svc.reload_signal == 1);
}

TEST_CASE("hooks: bad hook keys are located errors") {
  auto both = load("[services.web]\ncommand = \"x\"\nreload_command = [\"true\"]\nreload_signal = \"HUP\"\n");
  REQUIRE(both.errors.size() == 1);
  CHECK(both.errors[0].code == Code::ConfigReloadBoth);
  REQUIRE(both.errors[0].where);
  CHECK(both.errors[0].where->line == 4);

  auto empty = load("[services.web]\ncommand = \"x\"\npre_start = []\n");
  REQUIRE(empty.errors.size() == 1);
  CHECK(empty.errors[0].where->line == 3);

  auto number = load("[services.web]\ncommand = \"x\"\npost_stop = [1]\n");
  CHECK(number.errors.size() == 1);
}
