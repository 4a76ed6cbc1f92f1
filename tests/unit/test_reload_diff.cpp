// diff_configs: each kind of change, and what is applied live vs needs a restart of procd.
#include <doctest/doctest.h>

#include "procd/reload_diff.hpp"

using namespace procd;

namespace {

ServiceConfig svc(const std::string& name, std::vector<std::string> cmd) {
  ServiceConfig s;
  s.name = name;
  s.command = std::move(cmd);
  return s;
}

Config base() {
  Config c;
  c.path = "/etc/procd/procd.toml";
  c.services = {svc("db", {"postgres"}), svc("web", {"./server"}), svc("worker", {"./work"})};
  return c;
}

}  // namespace

TEST_CASE("reload_diff: identical configs keep everything") {
  auto d = diff_configs(base(), base());
  CHECK(d.kept == std::vector<std::string>{"db", "web", "worker"});
  CHECK(d.added.empty());
  CHECK(d.removed.empty());
  CHECK(d.changed.empty());
  CHECK(d.empty());
}

TEST_CASE("reload_diff: added, removed, changed and kept by name") {
  Config after = base();
  after.services.erase(after.services.begin());            // db removed
  after.services[0].env["RUST_LOG"] = "debug";             // web changed
  after.services.push_back(svc("cache", {"redis-server"}));  // cache added
  auto d = diff_configs(base(), after);
  CHECK(d.added == std::vector<std::string>{"cache"});
  CHECK(d.removed == std::vector<std::string>{"db"});
  CHECK(d.changed == std::vector<std::string>{"web"});
  CHECK(d.kept == std::vector<std::string>{"worker"});
  CHECK_FALSE(d.empty());
}

TEST_CASE("reload_diff: reordering services changes nothing") {
  Config after = base();
  std::swap(after.services[0], after.services[2]);
  auto d = diff_configs(base(), after);
  CHECK(d.changed.empty());
  CHECK(d.kept.size() == 3);
}

TEST_CASE("reload_diff: every behavioural key counts as a change") {
  auto changed_by = [](auto mutate) {
    Config after = base();
    mutate(after.services[1]);
    return diff_configs(base(), after).changed == std::vector<std::string>{"web"};
  };
  CHECK(changed_by([](ServiceConfig& s) { s.command.push_back("--port=1"); }));
  CHECK(changed_by([](ServiceConfig& s) { s.restart.policy = RestartPolicyKind::Always; }));
  CHECK(changed_by([](ServiceConfig& s) { s.stop_signal = 2; }));
  CHECK(changed_by([](ServiceConfig& s) { s.working_dir = "/srv"; }));
  CHECK(changed_by([](ServiceConfig& s) { s.ready.kind = ReadyKind::Notify; }));
  CHECK(changed_by([](ServiceConfig& s) { s.log.file = "/var/log/web.log"; }));
  CHECK(changed_by([](ServiceConfig& s) { s.health.kind = HealthKind::Tcp; }));
  CHECK(changed_by([](ServiceConfig& s) { s.depends_on.push_back({"db", DependCondition::Ready}); }));
}

TEST_CASE("reload_diff: live settings and settings that need a restart of procd") {
  Config after = base();
  after.logging.level = LogLevel::Debug;
  after.shutdown.graceful = 1000;
  auto d = diff_configs(base(), after);
  CHECK(d.logging_changed);
  CHECK(d.shutdown_changed);
  CHECK(d.needs_procd_restart.empty());
  after.control.socket = "/run/other.sock";
  after.pid_file = "/run/other.pid";
  d = diff_configs(base(), after);
  CHECK(d.needs_procd_restart == std::vector<std::string>{"control", "pid_file"});
}

TEST_CASE("plan_reload: what each service gets") {
  Config before = base();
  Config after = base();
  after.services[1].command = {"./server", "--new"};  // web changed
  after.services[2].command = {"./work", "--new"};    // worker changed
  after.services.erase(after.services.begin());        // db removed
  after.services.push_back(svc("cache", {"redis"}));   // cache added
  auto plan = plan_reload(diff_configs(before, after), {"web"});  // worker is down
  auto step_of = [&](const std::string& n) {
    for (const auto& a : plan)
      if (a.service == n) return a.step;
    FAIL("no step for " << n);
    return ReloadStep::Refresh;
  };
  CHECK(plan.size() == 4);
  CHECK(step_of("db") == ReloadStep::Remove);
  CHECK(step_of("web") == ReloadStep::Restart);
  CHECK(step_of("worker") == ReloadStep::Reconfigure);
  CHECK(step_of("cache") == ReloadStep::Add);
  auto same = plan_reload(diff_configs(before, before), {"db", "web", "worker"});
  for (const auto& a : same) CHECK(a.step == ReloadStep::Refresh);
}
