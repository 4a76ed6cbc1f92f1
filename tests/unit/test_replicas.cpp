// issue 28: replicas expanded at load (config_replicas.cpp): instance names,
// PROCD_INSTANCE / PROCD_PORT in env and in the service's own strings, the
// bounds, shared log files, dependencies on a group, and the reload diff of
// a replica count change (only the difference is added / removed).
#include <algorithm>
#include <doctest/doctest.h>

#include <string>

#include "procd/config.hpp"
#include "procd/config_load.hpp"
#include "procd/reload_diff.hpp"

using namespace procd;

namespace {
const std::vector<std::string> kEnv = {"PROCD_INSTANCE=outer", "HOME=/home/x"};

LoadResult load(const std::string& text) {
  LoadOptions opts;
  opts.environment = &kEnv;
  auto r = load_config_text(text, "/etc/app/procd.toml", opts);
  for (const auto& e : r.errors) MESSAGE(e.format());
  return r;
}

Config ok(const std::string& text) {
  auto r = load(text);
  REQUIRE(r.config);
  return *r.config;
}

Code first_code(const std::string& text) {
  auto r = load(text);
  REQUIRE(!r.errors.empty());
  return r.errors.front().code;
}

std::string web(int replicas, const std::string& extra = "") {
  return "[services.web]\ncommand = [\"srv\", \"--port=${PROCD_PORT}\", \"--id=${PROCD_INSTANCE}\"]\nport = 8000\n"
         "replicas = " + std::to_string(replicas) + "\n" + extra;
}
}  // namespace

TEST_CASE("replicas: NAME@i instances with their own env, ports and strings") {
  Config c = ok(web(3, "working_dir = \"/srv/${PROCD_INSTANCE}\"\nenv = { ID = \"i${PROCD_INSTANCE}\" }\n"
                       "health = { http = \"http://127.0.0.1:${PROCD_PORT}/up\" }\n"
                       "log = { file = \"/var/log/web.${PROCD_INSTANCE}.log\" }\n"));
  REQUIRE(c.services.size() == 3);
  for (int i = 0; i < 3; ++i) {
    const auto& s = c.services[static_cast<std::size_t>(i)];
    CHECK(s.name == "web@" + std::to_string(i));
    CHECK(s.group == "web");
    CHECK(s.instance == i);
    CHECK(s.replica_group.replicas == 3);
    CHECK(s.env.at("PROCD_INSTANCE") == std::to_string(i));
    CHECK(s.env.at("PROCD_PORT") == std::to_string(8000 + i));
    CHECK(s.env.at("ID") == "i" + std::to_string(i));
    CHECK(s.command[1] == "--port=" + std::to_string(8000 + i));
    CHECK(s.command[2] == "--id=" + std::to_string(i));
    CHECK(s.working_dir == "/srv/" + std::to_string(i));
    CHECK(s.health.port == 8000 + i);
    CHECK(s.health.path == "/up");
    CHECK(s.log.file == "/var/log/web." + std::to_string(i) + ".log");
  }
}

TEST_CASE("replicas: without the key the service keeps its name and is instance 0, procd's own PROCD_INSTANCE unused") {
  Config c = ok("[services.one]\ncommand = \"run ${PROCD_INSTANCE}\"\n");
  REQUIRE(c.services.size() == 1);
  CHECK(c.services[0].name == "one");
  CHECK(c.services[0].group.empty());
  CHECK(c.services[0].command[1] == "0");
  CHECK(c.services[0].env.count("PROCD_INSTANCE") == 0);
  Config one = ok(web(1));
  REQUIRE(one.services.size() == 1);
  CHECK(one.services[0].name == "web@0");
}

TEST_CASE("replicas: bounds, ports and names with @ are located errors; start-first loads") {
  CHECK(first_code(web(0)) == Code::ConfigReplicasOutOfRange);
  CHECK(first_code(web(1001)) == Code::ConfigReplicasOutOfRange);
  CHECK(first_code("[services.w]\ncommand = \"x\"\nreplicas = 3\nport = 65534\n") == Code::ConfigReplicasOutOfRange);
  CHECK(first_code("[services.w]\ncommand = \"x\"\nport = 0\n") == Code::ConfigReplicasOutOfRange);
  CHECK(first_code("[services.w]\ncommand = \"x ${PROCD_PORT}\"\n") == Code::ConfigPortUnset);
  auto sf = load(web(2, "rolling = \"start-first\"\n"));  // 1050 (not supported yet) is no longer emitted
  REQUIRE(sf.config);
  CHECK(sf.config->services[0].replica_group.start_first);
  CHECK(first_code(web(2, "max_unavailable = 3\n")) == Code::ConfigReplicasOutOfRange);
  CHECK(first_code("[services.\"a@1\"]\ncommand = \"x\"\n") == Code::ConfigInvalidValue);
  auto r = load(web(2, "rolling = \"stop-first\"\nmax_unavailable = 2\n"));
  REQUIRE(r.config);
  CHECK(r.config->services[1].replica_group.max_unavailable == 2);
}

TEST_CASE("replicas: instances never share a log file") {
  auto r = load(web(2, "log = { file = \"/var/log/web.log\" }\n"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigReplicaLogShared);
  CHECK(r.errors[0].where->line == 5);
  CHECK(r.errors[0].message.find("${PROCD_INSTANCE}") != std::string::npos);
  CHECK(load(web(1, "log = { file = \"/var/log/web.log\" }\n")).config);
  CHECK(load(web(2, "log = { file = \"/var/log/web-${PROCD_PORT}.log\" }\n")).config);
}

TEST_CASE("replicas: depends_on a group means every instance") {
  Config c = ok(web(2) + "[services.proxy]\ncommand = \"p\"\ndepends_on = { web = \"started\" }\n"
                         "[services.one]\ncommand = \"p\"\ndepends_on = [\"web@1\"]\n");
  const ServiceConfig* proxy = c.find_service("proxy");
  REQUIRE(proxy);
  REQUIRE(proxy->depends_on.size() == 2);
  CHECK(proxy->depends_on[0].service == "web@0");
  CHECK(proxy->depends_on[1].service == "web@1");
  CHECK(proxy->depends_on[1].condition == DependCondition::Started);
  CHECK(c.find_service("one")->depends_on[0].service == "web@1");
}

TEST_CASE("replicas: a count change by reload adds or removes only the difference, highest index first") {
  Config two = ok(web(2)), four = ok(web(4)), one = ok(web(1));
  auto up = diff_configs(two, four);
  CHECK(up.kept == std::vector<std::string>{"web@0", "web@1"});
  CHECK(up.added == std::vector<std::string>{"web@2", "web@3"});
  CHECK(up.changed.empty());
  auto down = diff_configs(four, one);
  CHECK(down.kept == std::vector<std::string>{"web@0"});
  CHECK(down.removed == std::vector<std::string>{"web@3", "web@2", "web@1"});
  auto edit = diff_configs(two, ok(web(2, "env = { A = \"1\" }\n")));
  CHECK(edit.changed == std::vector<std::string>{"web@0", "web@1"});
}

TEST_CASE("replicas: scaling a dependency keeps its dependents (they compare as written)") {
  const std::string proxy = "[services.proxy]\ncommand = \"p\"\ndepends_on = { web = \"ready\" }\n";
  Config two = ok(web(2) + proxy), three = ok(web(3) + proxy);
  REQUIRE(three.find_service("proxy")->depends_on.size() == 3);  // the gate waits for every instance
  auto up = diff_configs(two, three);
  CHECK(up.added == std::vector<std::string>{"web@2"});
  CHECK(up.changed.empty());
  CHECK(std::find(up.kept.begin(), up.kept.end(), "proxy") != up.kept.end());
  // a real change of the dependency (another condition) still changes it
  auto cond = diff_configs(two, ok(web(2) + "[services.proxy]\ncommand = \"p\"\ndepends_on = { web = \"started\" }\n"));
  CHECK(cond.changed == std::vector<std::string>{"proxy"});
}

TEST_CASE("name_selects: a group name selects its instances only") {
  CHECK(name_selects("web", "web"));
  CHECK(name_selects("web", "web@0"));
  CHECK(name_selects("web", "web@12"));
  CHECK(name_selects("web@1", "web@1"));
  CHECK(!name_selects("web@1", "web@12"));
  CHECK(!name_selects("web", "webx@0"));
  CHECK(!name_selects("web", "web@"));
  CHECK(!name_selects("web", "web@a"));
  CHECK(!name_selects("we", "web@0"));
}
