// Composing the configuration (SPEC Part 2): ${...} in the loaded tree with
// file:line:col, PROCD_ overrides after (and not) interpolated, include
// drop-ins in real temporary files (merge order, only [services.*],
// duplicates naming both files, cycles, errors located in the included
// file), the seed's [performance] warnings, health_check_interval_ms and
// cpu_affinity.
#include <doctest/doctest.h>
#include <sched.h>

#include <fmt/format.h>

#include <fstream>

#include "procd/config_load.hpp"
#include "temp_dir.hpp"

using namespace procd;

namespace {

LoadResult load(const std::string& text, const std::vector<std::string>& env = {}, const std::string& path = "/etc/stack/procd.toml") {
  LoadOptions opts;
  opts.environment = &env;
  opts.as_root = false;
  return load_config_text(text, path, opts);
}

LoadResult load_file(const std::string& path, const std::vector<std::string>& env = {}) {
  LoadOptions opts;
  opts.environment = &env;
  opts.as_root = false;
  return load_config(path, opts);
}

void write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string all(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.format() + "\n";
  return out;
}

}  // namespace

TEST_CASE("compose: ${...} in scalars, arrays and inline tables, before validation") {
  auto r = load(R"(name = "${STACK:-dev}"
[services.web]
command = ["${BIN}", "--port", "${PORT:-8080}"]
env = { HOME_DIR = "${HOME}", LITERAL = "$$HOME" }
stop_timeout_ms = 100
[services.web.health]
http = "http://127.0.0.1:${PORT:-8080}/healthz"
)", {"BIN=/usr/bin/server", "HOME=/root"});
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config->name == "dev");
  const auto& web = r.config->services.at(0);
  CHECK(web.command == std::vector<std::string>{"/usr/bin/server", "--port", "8080"});
  CHECK(web.env.at("HOME_DIR") == "/root");
  CHECK(web.env.at("LITERAL") == "$HOME");
  CHECK(web.health.port == 8080);  // validated after expansion
}

TEST_CASE("compose: every missing variable is reported at once, at file:line:col of its ${") {
  auto r = load("name = \"x\"\n[services.web]\ncommand = \"run --a ${A} --b ${B}\"\nworking_dir = \"${DIR:?set DIR}\"\n");
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].format() ==
        "/etc/stack/procd.toml:3:20: error[1034]: services.web.command: variable A is not set (give a default with ${A:-value})");
  CHECK(r.errors[1].where->column == 29);
  CHECK(r.errors[1].code == Code::ConfigVariableUnset);
  CHECK(r.errors[2].format() == "/etc/stack/procd.toml:4:16: error[1035]: services.web.working_dir: variable DIR is not set: set DIR");
}

TEST_CASE("compose: a string with escapes or on several lines reports at the value") {
  auto r = load("[services.web]\ncommand = \"a\\tb ${A}\"\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].where->line == 2);
  CHECK(r.errors[0].where->column == 11);
  r = load("[services.web]\ncommand = '''\nrun ${A}'''\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigVariableUnset);
}

TEST_CASE("compose: PROCD_ overrides apply after interpolation and are not interpolated") {
  auto r = load("[services.web]\ncommand = \"run\"\nworking_dir = \"${D:-/srv}\"\n",
                {"PROCD_SERVICES__WEB__WORKING_DIR=/opt/${D}", "D=/ignored"});
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config->services.at(0).working_dir == "/opt/${D}");
}

TEST_CASE("compose: include merges [services.*] of the matching files, sorted, after the main file's") {
  TempDir dir;
  write(dir.file("procd.toml"), "include = [\"conf.d/*.toml\"]\n[services.main]\ncommand = \"true\"\n");
  write(dir.file("conf.d/20-b.toml"), "[services.b]\ncommand = \"${CMD:-true}\"\ndepends_on = [\"a\"]\n");
  write(dir.file("conf.d/10-a.toml"), "[services.a]\ncommand = \"true\"\n[services.a2]\ncommand = \"true\"\n");
  write(dir.file("conf.d/ignored.txt"), "not toml");
  auto r = load_file(dir.file("procd.toml"), {"CMD=sleep 1"});
  INFO(all(r));
  REQUIRE(r.ok());
  std::vector<std::string> names;
  for (const auto& s : r.config->services) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"main", "a", "a2", "b"});
  CHECK(r.config->services.back().command == std::vector<std::string>{"sleep", "1"});
  CHECK(r.config->sources ==
        std::vector<std::string>{dir.file("procd.toml"), dir.file("conf.d/10-a.toml"), dir.file("conf.d/20-b.toml")});
  CHECK(r.config->include_globs == std::vector<std::string>{dir.file("conf.d/*.toml")});

  // The hash covers the included files: changing one changes it.
  auto before = r.content_hash;
  write(dir.file("conf.d/10-a.toml"), "[services.a]\ncommand = \"false\"\n[services.a2]\ncommand = \"true\"\n");
  CHECK(load_file(dir.file("procd.toml"), {"CMD=sleep 1"}).content_hash != before);
}

TEST_CASE("compose: an empty glob is fine, a missing literal file is not") {
  TempDir dir;
  write(dir.file("procd.toml"), "include = [\"conf.d/*.toml\"]\n");
  CHECK(load_file(dir.file("procd.toml")).ok());
  write(dir.file("procd.toml"), "include = [\"extra.toml\"]\n");
  auto r = load_file(dir.file("procd.toml"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigIncludeUnreadable);
  CHECK(r.errors[0].where->line == 1);
}

TEST_CASE("compose: an included file may hold only [services.*]; errors name the included file") {
  TempDir dir;
  write(dir.file("procd.toml"), "include = [\"conf.d/*.toml\"]\n");
  write(dir.file("conf.d/x.toml"), "[services.a]\ncommand = \"true\"\ncomand = 1\n\n[logging]\nlevel = \"debug\"\n");
  auto r = load_file(dir.file("procd.toml"));
  INFO(all(r));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigIncludeNotServices);
  CHECK(r.errors[0].where->file == dir.file("conf.d/x.toml"));
  CHECK(r.errors[0].where->line == 5);
  // Without the [logging] table, the unknown key is reported in the included file, with did-you-mean.
  write(dir.file("conf.d/x.toml"), "[services.a]\ncommand = \"true\"\ncomand = 1\n");
  r = load_file(dir.file("procd.toml"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].format() == dir.file("conf.d/x.toml") +
                                    ":3:10: error[1002]: services.a.comand: unknown key \"comand\" (did you mean \"command\"?)");
  // A syntax error in an included file is located there too.
  write(dir.file("conf.d/x.toml"), "[services.a]\ncommand = \n");
  r = load_file(dir.file("procd.toml"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigSyntax);
  CHECK(r.errors[0].where->file == dir.file("conf.d/x.toml"));
}

TEST_CASE("compose: a service defined twice names both files and lines") {
  TempDir dir;
  write(dir.file("procd.toml"), "include = [\"conf.d/*.toml\"]\n\n[services.web]\ncommand = \"true\"\n");
  write(dir.file("conf.d/a.toml"), "\n[services.web]\ncommand = \"false\"\n");
  auto r = load_file(dir.file("procd.toml"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigDuplicateName);
  CHECK(r.errors[0].where->file == dir.file("conf.d/a.toml"));
  CHECK(r.errors[0].where->line == 2);
  CHECK(r.errors[0].message.find(dir.file("procd.toml") + ":3:") != std::string::npos);
}

TEST_CASE("compose: nested includes resolve against the including file; cycles are errors") {
  TempDir dir;
  write(dir.file("procd.toml"), "include = [\"a/one.toml\"]\n");
  write(dir.file("a/one.toml"), "include = [\"sub/*.toml\"]\n[services.one]\ncommand = \"true\"\n");
  write(dir.file("a/sub/two.toml"), "[services.two]\ncommand = \"true\"\n");
  auto r = load_file(dir.file("procd.toml"));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config->services.size() == 2);

  write(dir.file("a/sub/two.toml"), "include = [\"../one.toml\"]\n[services.two]\ncommand = \"true\"\n");
  r = load_file(dir.file("procd.toml"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigIncludeCycle);
  CHECK(r.errors[0].where->file == dir.file("a/sub/two.toml"));
  // Including the main file from itself is a cycle too.
  write(dir.file("procd.toml"), "include = [\"*.toml\"]\n");
  r = load_file(dir.file("procd.toml"));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigIncludeCycle);
}

TEST_CASE("compose: the seed's [performance] is accepted and typed; each key given is one warning") {
  auto r = load("[performance]\nworker_threads = 0\nthread_pinning = false\nmemory_pool_size = 1048576\n"
                "numa_aware = false\nlock_free = true\n");
  INFO(all(r));
  REQUIRE(r.ok());
  REQUIRE(r.config->warnings.size() == 5);
  CHECK(r.config->warnings[0].code == Code::ConfigNoEffect);
  CHECK(r.config->warnings[0].key_path == "performance.worker_threads");
  CHECK(r.config->warnings[0].where->line == 2);
  r = load("[performance]\nworker_threads = \"many\"\nlock_fre = true\n");
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].code == Code::ConfigWrongType);
  CHECK(r.errors[1].message.find("did you mean \"lock_free\"") != std::string::npos);
}

TEST_CASE("compose: [monitoring] health_check_interval_ms is the default health interval") {
  auto r = load("[monitoring]\nhealth_check_interval_ms = 2500\n"
                "[services.a]\ncommand = \"true\"\nhealth = { tcp = \"127.0.0.1:1\" }\n"
                "[services.b]\ncommand = \"true\"\nhealth = { tcp = \"127.0.0.1:1\", interval_ms = 700 }\n");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config->monitoring.health_check_interval_ms == 2500);
  CHECK(r.config->services[0].health.interval_ms == 2500);
  CHECK(r.config->services[1].health.interval_ms == 700);
  CHECK(load("[services.a]\ncommand = \"true\"\nhealth = { tcp = \"127.0.0.1:1\" }\n").config->services[0].health.interval_ms == 5000);
}

TEST_CASE("compose: cpu_affinity is read and checked against the CPUs procd may use") {
  cpu_set_t mine;
  REQUIRE(sched_getaffinity(0, sizeof mine, &mine) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &mine)) ++first;
  auto r = load(fmt::format("[services.a]\ncommand = \"true\"\ncpu_affinity = [{}, {}]\n", first, first));
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.config->services[0].cpu_affinity == std::vector<int>{first});

  r = load("[services.a]\ncommand = \"true\"\ncpu_affinity = [0, 1023, -1, \"x\"]\n");
  std::vector<Code> codes;
  for (const auto& e : r.errors) codes.push_back(e.code);
  CHECK(codes == std::vector<Code>{Code::ConfigUnknownCpu, Code::ConfigUnknownCpu, Code::ConfigWrongType});
  CHECK(r.errors[0].where->column == 20);
  CHECK(r.errors[0].message.find("CPU 1023 does not exist") != std::string::npos);
  CHECK(load("[services.a]\ncommand = \"true\"\ncpu_affinity = []\n").errors.size() == 1);
}
