// cgroup v2: the pure layout/parsers (cgroup_layout.hpp) on captured kernel
// text, and CgroupTree (cgroup.hpp) on a fake cgroupfs: a temp directory
// holding the files the kernel would, so the controller paths this machine
// cannot exercise (memory.max, cpu.max, oom_kill, freeze fallback) are covered.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "procd/cgroup.hpp"
#include "procd/cgroup_layout.hpp"
#include "temp_dir.hpp"

using namespace procd;
namespace fs = std::filesystem;

namespace {

const char* kHybridMountinfo =
    "24 29 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "33 24 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "34 33 0:28 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "35 33 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:11 - cgroup cgroup rw,memory\n";

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string get(const std::string& path) { return read_small_file(path).value_or("<absent>"); }

// A fake cgroupfs at `root` where procd's cgroup is the root, shared with pid 1.
struct FakeTree {
  TempDir tmp;
  std::string root = tmp.path.string();
  CgroupTree::Options opt{"web-app", "/run/procd/app.pid", "", 4242};
  CgroupLayout layout = choose_layout(root, "/", false, opt.instance, opt.pid_file);
  FakeTree(const std::string& controllers = "") {
    put(root + "/cgroup.procs", "1\n4242\n");
    put(root + "/cgroup.controllers", controllers);
    put(root + "/cgroup.subtree_control", "");
    put(layout.base + "/supervisor/cgroup.procs", "");
    put(layout.base + "/cgroup.controllers", controllers);
    put(layout.base + "/cgroup.subtree_control", "");
  }
  std::string svc(const std::string& name, const std::string& events = "populated 0\nfrozen 0\n") {
    std::string dir = service_cgroup(layout.base, name);
    put(dir + "/cgroup.events", events);
    put(dir + "/cgroup.procs", "");
    return dir;
  }
};

}  // namespace

TEST_CASE("cgroup: the cgroup2 mount from mountinfo, hybrid and unified hosts, escapes") {
  CHECK(cgroup2_mount(kHybridMountinfo) == "/sys/fs/cgroup/unified");
  CHECK(cgroup2_mount("30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n") == "/sys/fs/cgroup");
  CHECK(cgroup2_mount("30 1 0:26 / /mnt/my\\040cg rw - cgroup2 none rw\n") == "/mnt/my cg");
  CHECK_FALSE(cgroup2_mount("35 33 0:29 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n"));
  CHECK_FALSE(cgroup2_mount(""));
}

TEST_CASE("cgroup: procd's own cgroup from /proc/self/cgroup") {
  CHECK(own_cgroup("12:memory:/user.slice\n0::/\n") == "/");
  CHECK(own_cgroup("0::/system.slice/procd.service\n") == "/system.slice/procd.service");
  CHECK_FALSE(own_cgroup("12:memory:/user.slice\n"));  // v1 only
  CHECK_FALSE(own_cgroup("0::/../outside\n"));         // not in our namespace
}

TEST_CASE("cgroup: layout: a dedicated subtree per instance when shared, own cgroup when alone") {
  auto root = choose_layout("/sys/fs/cgroup/unified", "/", false, "my app", "/run/a.pid");
  CHECK(root.mode == CgroupMode::Shared);  // the host's root, shared with the whole system
  CHECK(root.base == "/sys/fs/cgroup/unified/procd-my_app-" + short_hash("/run/a.pid"));
  CHECK(root.why.find("root") != std::string::npos);
  auto other = choose_layout("/sys/fs/cgroup/unified", "/", false, "my app", "/run/b.pid");
  CHECK(other.base != root.base);  // two instances never share
  CHECK(choose_layout("/sys/fs/cgroup/unified", "/", false, "my app", "/run/a.pid").base == root.base);  // stable
  auto login = choose_layout("/sys/fs/cgroup", "/user.slice/session-1.scope", false, "x", "/p");
  CHECK(login.mode == CgroupMode::Shared);
  CHECK(login.base.starts_with("/sys/fs/cgroup/user.slice/session-1.scope/procd-x-"));
  auto container = choose_layout("/sys/fs/cgroup", "/", true, "x", "/p");  // PID 1 of a cgroup namespace
  CHECK(container.mode == CgroupMode::Dedicated);
  CHECK(container.base == "/sys/fs/cgroup");
  auto unit = choose_layout("/sys/fs/cgroup", "/system.slice/procd.service", true, "x", "/p");
  CHECK(unit.mode == CgroupMode::Dedicated);
  CHECK(unit.base == "/sys/fs/cgroup/system.slice/procd.service");
  CHECK(service_cgroup(unit.base, "web.1") == "/sys/fs/cgroup/system.slice/procd.service/svc-web.1");
  CHECK(short_hash("/run/a.pid").size() == 8);
}

// Every valid service name of up to `len` characters over letters `a` and
// the punctuation a name may hold (. @ _ -): names differing only there.
std::vector<std::string> punctuation_names(std::size_t len) {
  const std::string alphabet = "a.@_-";
  std::vector<std::string> out, level = {""};
  for (std::size_t n = 1; n <= len; ++n) {
    std::vector<std::string> next;
    for (const auto& prefix : level)
      for (char c : alphabet) next.push_back(prefix + c);
    for (const auto& name : next)
      if (name[0] == 'a' || name[0] == '_') out.push_back(name);  // a name starts with [A-Za-z0-9_]
    level = std::move(next);
  }
  return out;
}

TEST_CASE("cgroup: service name -> cgroup directory is injective; decode(encode(name)) == name") {
  auto names = punctuation_names(5);
  for (const char* n : {"web.api", "web_api", "web@api", "web-api", "webapi"}) names.push_back(n);
  names.push_back(std::string(64, '_'));
  names.push_back("a" + std::string(63, '.'));
  names.push_back("a" + std::string(63, '@'));
  std::set<std::string> dirs;
  for (const auto& name : names) {
    std::string dir = service_cgroup_name(name);
    INFO(name << " -> " << dir);
    CHECK(dirs.insert(dir).second);  // pairwise distinct
    CHECK(dir.find('/') == std::string::npos);
    CHECK(dir != ".");
    CHECK(dir != "..");
    CHECK(dir.starts_with("svc-"));  // never a kernel interface file (cgroup.*, cpu.*...) nor `supervisor`
    CHECK(dir.size() <= 68);         // 64 chars of a name + "svc-"
    CHECK(service_of_cgroup_name(dir) == name);
  }
  CHECK(service_cgroup_name("web.api") != service_cgroup_name("web_api"));
  CHECK(service_cgroup_name("web@api") != service_cgroup_name("web_api"));
  // Outside the service-name alphabet (config rejects such names) it stays injective and a valid name.
  CHECK(service_cgroup_name("a/b") != service_cgroup_name("a%2Fb"));
  CHECK(service_cgroup_name("a/b").find('/') == std::string::npos);
  CHECK(service_of_cgroup_name(service_cgroup_name("a/b")) == "a/b");
  CHECK(service_of_cgroup_name(service_cgroup_name("..")) == "..");
  CHECK_FALSE(service_of_cgroup_name("supervisor"));
  CHECK_FALSE(service_of_cgroup_name("svc-"));
  CHECK_FALSE(service_of_cgroup_name("svc-a%zz"));
  CHECK_FALSE(service_of_cgroup_name("svc-%61"));  // not what encoding "a" gives: no second spelling
}

TEST_CASE("cgroup: the old encoding's directory is a leftover unless a configured service owns it") {
  const std::string base = "/sys/fs/cgroup/procd-x-01234567";
  // procd up to this version wrote every byte outside [A-Za-z0-9_-] as '_'.
  CHECK(legacy_service_cgroup_name("web.api") == "svc-web_api");
  CHECK(legacy_service_cgroup_name("web@api") == "svc-web_api");
  CHECK_FALSE(legacy_service_cgroup_name("web_api"));  // the same as today's
  CHECK_FALSE(legacy_service_cgroup_name("web-api"));
  CHECK(legacy_leftover_cgroup(base, "web.api", {"web.api"}) == base + "/svc-web_api");
  CHECK(legacy_leftover_cgroup(base, "web@api", {"web@api", "web.api"}) == base + "/svc-web_api");
  // svc-web_api is web_api's own cgroup now: never killed as web.api's leftover.
  CHECK_FALSE(legacy_leftover_cgroup(base, "web.api", {"web.api", "web_api"}));
  CHECK_FALSE(legacy_leftover_cgroup(base, "web_api", {"web_api", "web.api"}));
  CHECK_FALSE(legacy_leftover_cgroup(base, "plain", {"plain"}));
}

TEST_CASE("cgroup: parsing cgroup.events, cpu.stat, memory.events, cgroup.procs, controllers") {
  CHECK(parse_populated("populated 1\nfrozen 0\n") == true);
  CHECK(parse_populated("populated 0\nfrozen 0\n") == false);
  CHECK_FALSE(parse_populated("frozen 0\n"));
  CHECK(parse_keyed("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n", "usage_usec") == 123456u);
  CHECK(parse_keyed("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n", "oom_kill") == 2u);
  CHECK_FALSE(parse_keyed("oom_kill x\n", "oom_kill"));
  CHECK(parse_pids("12\n345\n\n") == std::vector<int>{12, 345});
  CHECK(has_controller("cpuset cpu io memory pids\n", "memory"));
  CHECK_FALSE(has_controller("cpuset cpu io memory_x\n", "memory"));
}

TEST_CASE("cgroup: alone only when no other process, visible or not, shares the cgroup") {
  CHECK(only_process("1\n", 1));
  CHECK(only_process("4242\n", 4242));
  // A bare PID namespace in the host's cgroup: the others are listed as 0.
  CHECK_FALSE(only_process("0\n0\n1\n0\n", 1));
  CHECK_FALSE(only_process("1\n7\n", 1));
  CHECK_FALSE(only_process("7\n", 1));
  CHECK_FALSE(only_process("", 1));
}

TEST_CASE("cgroup: cpu_max percentages become cpu.max quota and period") {
  CHECK(cpu_max_value("50%") == "50000 100000");
  CHECK(cpu_max_value("150%") == "150000 100000");
  CHECK(cpu_max_value("1%") == "1000 100000");
  CHECK(cpu_max_value("max") == "max 100000");
  CHECK_FALSE(cpu_max_value("0%"));
  CHECK_FALSE(cpu_max_value("50"));
  CHECK_FALSE(cpu_max_value("-5%"));
  CHECK_FALSE(cpu_max_value("%"));
  CHECK_FALSE(cpu_max_value("100001%"));
}

TEST_CASE("cgroup tree: setup moves procd into supervisor and enables offered controllers") {
  FakeTree t("cpu memory pids io\n");
  auto tree = CgroupTree::setup_at(t.root, "/", t.opt);
  REQUIRE(tree.ok());
  CHECK((*tree)->layout().base == t.layout.base);
  CHECK(get(t.layout.base + "/supervisor/cgroup.procs") == "4242");
  // A fake file keeps the last write only: the last controller enabled.
  CHECK(get(t.layout.base + "/cgroup.subtree_control") == "+pids");
}

TEST_CASE("cgroup tree: an absent or unusable hierarchy is PlatformCgroup (the fallback)") {
  CgroupTree::Options opt{"x", "/p", "/nonexistent/procd-cgroup-root", 1};
  auto tree = CgroupTree::setup(opt);
  REQUIRE_FALSE(tree.ok());
  CHECK(tree.error().code == Code::PlatformCgroup);
}

TEST_CASE("cgroup tree: limits are written; a missing controller file is one warning each") {
  FakeTree t;
  auto tree = CgroupTree::setup_at(t.root, "/", t.opt);
  REQUIRE(tree.ok());
  std::string dir = t.svc("web");
  put(dir + "/memory.max", "max\n");
  put(dir + "/memory.oom.group", "0\n");
  put(dir + "/cpu.max", "max 100000\n");
  CgroupLimits lim{256 * 1024 * 1024, "50%", 64, 200};
  auto warnings = (*tree)->apply_limits(dir, lim);
  CHECK(get(dir + "/memory.max") == "268435456");
  CHECK(get(dir + "/memory.oom.group") == "1");
  CHECK(get(dir + "/cpu.max") == "50000 100000");
  REQUIRE(warnings.size() == 2);  // cpu.weight and pids.max are absent: no such controller
  CHECK(warnings[0].code == Code::PlatformCgroupLimit);
  CHECK(warnings[0].message.find("cpu_weight") != std::string::npos);
  CHECK(warnings[1].message.find("pids_max") != std::string::npos);
}

TEST_CASE("cgroup tree: figures and OOM kills from cpu.stat, memory.current, memory.events") {
  FakeTree t;
  auto tree = CgroupTree::setup_at(t.root, "/", t.opt);
  REQUIRE(tree.ok());
  std::string dir = t.svc("db", "populated 1\nfrozen 0\n");
  CHECK((*tree)->populated(dir) == true);
  CHECK_FALSE((*tree)->usage(dir).memory_bytes);  // no memory controller: /proc sampling instead
  CHECK((*tree)->oom_kills(dir) == 0);
  put(dir + "/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
  put(dir + "/memory.current", "10485760\n");
  put(dir + "/memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 1\n");
  auto u = (*tree)->usage(dir);
  CHECK(u.cpu_usec == 2500000u);
  CHECK(u.memory_bytes == 10485760u);
  CHECK((*tree)->oom_kills(dir) == 1);
}

TEST_CASE("cgroup tree: kill writes cgroup.kill; prepare kills what an earlier procd left") {
  FakeTree t;
  auto tree = CgroupTree::setup_at(t.root, "/", t.opt);
  REQUIRE(tree.ok());
  std::string dir = t.svc("web", "populated 1\n");
  put(dir + "/cgroup.kill", "");
  put(dir + "/cgroup.procs", "999999999\n");  // not a live pid: nothing real is signalled
  auto left = (*tree)->prepare("web");
  REQUIRE(left.ok());
  CHECK(*left == std::vector<int>{999999999});
  CHECK(get(dir + "/cgroup.kill") == "1");
  std::string empty = t.svc("db");
  put(empty + "/cgroup.kill", "");
  auto none = (*tree)->prepare("db");
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK(get(empty + "/cgroup.kill") == "");  // an empty cgroup is not killed
}

TEST_CASE("cgroup tree: clean_leftover kills what an old-encoding cgroup holds and never creates one") {
  FakeTree t;
  auto tree = CgroupTree::setup_at(t.root, "/", t.opt);
  REQUIRE(tree.ok());
  std::string absent = t.layout.base + "/svc-db_1";
  auto none = (*tree)->clean_leftover(absent);
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK_FALSE(fs::exists(absent));  // nothing made where nothing was
  std::string old = t.layout.base + "/svc-web_api";
  put(old + "/cgroup.events", "populated 1\n");
  put(old + "/cgroup.kill", "");
  put(old + "/cgroup.procs", "999999998\n");  // not a live pid: nothing real is signalled
  auto left = (*tree)->clean_leftover(old);
  REQUIRE(left.ok());
  CHECK(*left == std::vector<int>{999999998});
  CHECK(get(old + "/cgroup.kill") == "1");
}

TEST_CASE("cgroup tree: without cgroup.kill (Linux < 5.14) freeze, kill each, thaw") {
  FakeTree t;
  auto tree = CgroupTree::setup_at(t.root, "/", t.opt);
  REQUIRE(tree.ok());
  std::string dir = t.svc("web", "populated 1\n");
  put(dir + "/cgroup.freeze", "0\n");
  put(dir + "/cgroup.procs", "999999999\n");
  REQUIRE((*tree)->kill(dir).ok());
  CHECK(get(dir + "/cgroup.freeze") == "0");  // thawed again after the kills
  CHECK_FALSE(fs::exists(dir + "/cgroup.kill"));
}

TEST_CASE("cgroup tree: a dedicated cgroup (procd alone in it) is used directly") {
  TempDir tmp;
  std::string root = tmp.path.string();
  put(root + "/svc.service/cgroup.procs", "77\n");
  put(root + "/svc.service/supervisor/cgroup.procs", "");
  CgroupTree::Options opt{"x", "/p", "", 77};
  auto tree = CgroupTree::setup_at(root, "/svc.service", opt);
  REQUIRE(tree.ok());
  CHECK((*tree)->layout().mode == CgroupMode::Dedicated);
  CHECK((*tree)->layout().base == root + "/svc.service");
  CHECK(get(root + "/svc.service/supervisor/cgroup.procs") == "77");
}
