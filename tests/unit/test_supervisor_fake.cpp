// The real Supervisor on fake processes (SystemCalls seam): no fork, no
// real child. Spawns get fake pids; a signal the fake "process" obeys ends
// it and raises SIGCHLD so the supervisor's own reap path runs. Checks the
// cross-service behaviour end to end: reverse dependency stop order, the
// ladder's SIGKILL after graceful, the ceiling's exit code 3, and no
// respawn once shutdown began.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "temp_dir.hpp"
#include "procd/config_load.hpp"
#include "procd/logging.hpp"
#include "procd/supervisor.hpp"
#include "procd/timer.hpp"

using namespace procd;

namespace {

struct FakeSystem final : SystemCalls {
  pid_t next_pid = 5000;
  std::map<pid_t, std::string> name_of;
  std::set<pid_t> alive;
  std::deque<Reaped> exited;
  std::set<std::string> ignores_term, immortal, slow_term;  // slow_term: exits 50 ms after SIGTERM
  uv_loop_t* loop = nullptr;
  std::vector<std::unique_ptr<Timer>> later;
  std::vector<std::string> trace;  // "spawn db", "signal web 15", ...
  // with_pipes: a run gets real output pipes; SIGTERM closes them at once and
  // the exit follows 20 ms later (EOF before the exit is reaped, as a dying
  // process often shows). early_group_checks counts group_exists asked about
  // a group whose leader was not reaped yet: that question costs a /proc
  // scan on the real system, and its answer cannot matter then.
  bool with_pipes = false;
  std::map<pid_t, std::vector<int>> write_ends;
  std::set<pid_t> unreaped;
  int early_group_checks = 0;
  // leaves_member: SIGTERM ends the leader at once, but a member of its
  // group (a fake pid) lingers, reparented to procd, and exits
  // member_ms + 1 ms per earlier one later (reaped as an orphan).
  // group_passes counts what costs a /proc pass on the real system.
  std::set<std::string> leaves_member;
  std::map<pid_t, pid_t> members;  // member pid -> its group
  int member_ms = 20, lingered = 0, group_passes = 0;

  Result<SpawnedProcess> spawn(const SpawnRequest& req) override {
    std::string name = "?";
    for (const auto& kv : req.env)
      if (kv.rfind("PROCD_SERVICE=", 0) == 0) name = kv.substr(14);
    pid_t pid = next_pid++;
    name_of[pid] = name;
    alive.insert(pid);
    unreaped.insert(pid);
    trace.push_back("spawn " + name);
    if (!with_pipes) return SpawnedProcess{pid, -1, -1};
    int out[2], err[2];
    REQUIRE(::pipe2(out, O_NONBLOCK | O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_NONBLOCK | O_CLOEXEC) == 0);
    write_ends[pid] = {out[1], err[1]};
    return SpawnedProcess{pid, out[0], err[0]};
  }
  void close_pipes(pid_t pid) {
    for (int fd : write_ends[pid]) ::close(fd);
    write_ends.erase(pid);
  }
  Result<void> signal_group(pid_t pgid, int sig) override {
    if (sig == SIGKILL) {
      for (auto it = members.begin(); it != members.end();) it = it->second == pgid ? end_member(it) : std::next(it);
    }
    if (!alive.count(pgid)) return {};
    const std::string& name = name_of[pgid];
    trace.push_back("signal " + name + " " + std::to_string(sig));
    if (sig == SIGTERM && leaves_member.count(name)) {
      pid_t m = next_pid++;
      members[m] = pgid;
      later.push_back(std::make_unique<Timer>(loop, [this, m] {
        if (auto it = members.find(m); it != members.end()) end_member(it);
      }));
      later.back()->schedule(member_ms + lingered++);
      end(pgid, sig);
      return {};
    }
    bool dies = sig == SIGKILL ? !immortal.count(name) : (sig == SIGTERM && !ignores_term.count(name));
    if (dies && with_pipes) {
      close_pipes(pgid);
      later.push_back(std::make_unique<Timer>(loop, [this, pgid, sig] { end(pgid, sig); }));
      later.back()->schedule(20);
    } else if (dies && sig == SIGTERM && slow_term.count(name)) {
      later.push_back(std::make_unique<Timer>(loop, [this, pgid, sig] { end(pgid, sig); }));
      later.back()->schedule(50);
    } else if (dies) {
      end(pgid, sig);
    }
    return {};
  }
  void end(pid_t pid, int sig) {
    if (!alive.count(pid)) return;
    trace.push_back("exit " + name_of[pid]);
    alive.erase(pid);
    exited.push_back(Reaped{pid, 0, sig});
    ::raise(SIGCHLD);  // the supervisor's SIGCHLD watcher runs its reap path
  }
  std::map<pid_t, pid_t>::iterator end_member(std::map<pid_t, pid_t>::iterator it) {
    exited.push_back(Reaped{it->first, 0, SIGTERM});
    ::raise(SIGCHLD);
    return members.erase(it);
  }
  bool group_has_member(pid_t pgid) const {
    return std::any_of(members.begin(), members.end(), [&](const auto& m) { return m.second == pgid; });
  }
  bool group_exists(pid_t pgid) override {
    if (unreaped.count(pgid)) ++early_group_checks;
    return alive.count(pgid) > 0 || group_has_member(pgid);
  }
  GroupCensus group_census() override {
    ++group_passes;
    std::unordered_set<pid_t> groups(alive.begin(), alive.end());
    for (const auto& m : members) groups.insert(m.second);
    return GroupCensus::of_groups(std::move(groups));
  }
  std::optional<Reaped> reap_one() override {
    if (exited.empty()) return std::nullopt;
    Reaped r = exited.front();
    exited.pop_front();
    unreaped.erase(r.pid);
    return r;
  }
  Result<void> become_subreaper() override { return {}; }
  Millis now(uv_loop_t* loop) override {
    uv_update_time(loop);
    return static_cast<Millis>(uv_now(loop));
  }
  std::size_t index(const std::string& entry) const {
    return static_cast<std::size_t>(std::find(trace.begin(), trace.end(), entry) - trace.begin());
  }
  int count(const std::string& entry) const { return static_cast<int>(std::count(trace.begin(), trace.end(), entry)); }
};

Config config_of(const TempDir& dir, const std::string& services, const std::string& shutdown) {
  std::string text = "name = \"fake\"\nhot_reload = false\n[logging]\nlevel = \"error\"\n[monitoring]\ntrack_resources = false\n"
                     "[shutdown]\n" + shutdown + "\n" + services;
  std::vector<std::string> no_env;
  LoadOptions opts;
  opts.environment = &no_env;
  LoadResult r = load_config_text(text, dir.file("procd.toml"), opts);
  REQUIRE(r.ok());
  return *r.config;
}

// Runs the supervisor; `act` is called once, `after_ms` into the run.
int run_with(FakeSystem& sys, Config cfg, std::int64_t after_ms, std::function<void(Supervisor&)> act) {
  auto lock = PidLock::acquire(cfg.pid_file);
  REQUIRE(lock.ok());
  Log::setup(cfg.logging);
  Supervisor sup(std::move(cfg), std::move(lock.value()), sys);
  sys.loop = sup.loop();
  Timer trigger(sup.loop(), [&] { act(sup); });
  trigger.schedule(after_ms);
  Timer guard(sup.loop(), [&] { FAIL("supervisor did not stop in time"); sup.begin_shutdown(ShutdownReason::Forced); });
  guard.schedule(5000);
  int code = sup.run();
  trigger.close();
  guard.close();
  sys.later.clear();
  return code;
}

const char* kStack = R"(
[services.db]
command = ["db"]
[services.web]
command = ["web"]
depends_on = { db = "started" }
[services.worker]
command = ["worker"]
depends_on = { db = "started" }
)";

}  // namespace

TEST_CASE("fake processes: dependents stop first, their dependency once they are reaped") {
  TempDir dir;
  FakeSystem sys;
  sys.slow_term = {"web", "worker"};
  int code = run_with(sys, config_of(dir, kStack, "graceful = 1000\nforce = 1500\nkill = 2000"), 30,
                      [](Supervisor& s) { s.begin_shutdown(ShutdownReason::Requested); });
  CHECK(code == 0);
  CHECK(sys.index("exit web") < sys.index("signal db 15"));
  CHECK(sys.index("exit worker") < sys.index("signal db 15"));
  CHECK(sys.index("spawn db") < sys.index("spawn web"));
  CHECK(sys.index("spawn db") < sys.index("spawn worker"));
  std::size_t db_stop = sys.index("signal db 15");
  REQUIRE(db_stop < sys.trace.size());
  CHECK(sys.index("signal web 15") < db_stop);
  CHECK(sys.index("signal worker 15") < db_stop);
  CHECK(sys.alive.empty());
}

TEST_CASE("fake processes: a service ignoring SIGTERM gets SIGKILL at graceful, procd exits 0") {
  TempDir dir;
  FakeSystem sys;
  sys.ignores_term.insert("web");
  int code = run_with(sys, config_of(dir, kStack, "graceful = 100\nforce = 300\nkill = 500"), 30,
                      [](Supervisor& s) { s.begin_shutdown(ShutdownReason::Requested); });
  CHECK(code == 0);
  CHECK(sys.count("signal web 9") >= 1);
  CHECK(sys.index("signal web 9") < sys.index("signal db 15"));  // db still waited for web
  // db was not killed with web at the graceful deadline: it got its stop
  // signal once web was gone, and never a SIGKILL (it obeys SIGTERM).
  CHECK(sys.count("signal db 15") == 1);
  CHECK(sys.count("signal db 9") == 0);
  CHECK(sys.alive.empty());
}

TEST_CASE("fake processes: a process that survives SIGKILL ends procd at the ceiling with code 3") {
  TempDir dir;
  FakeSystem sys;
  sys.ignores_term.insert("worker");
  sys.immortal.insert("worker");
  int code = run_with(sys, config_of(dir, kStack, "graceful = 50\nforce = 100\nkill = 150"), 30,
                      [](Supervisor& s) { s.begin_shutdown(ShutdownReason::Requested); });
  CHECK(code == 3);
  CHECK(sys.count("signal worker 9") == 3);  // at graceful, again at force, and last at the ceiling
}

TEST_CASE("fake processes: no respawn once shutdown began, while a dependent holds the stop") {
  TempDir dir;
  FakeSystem sys;
  sys.ignores_term.insert("web");
  std::string stack = R"(
[services.db]
command = ["db"]
restart = { policy = "always", delay_ms = 0 }
[services.web]
command = ["web"]
depends_on = { db = "started" }
)";
  int code = run_with(sys, config_of(dir, stack, "graceful = 200\nforce = 300\nkill = 400"), 30, [&](Supervisor& s) {
    s.begin_shutdown(ShutdownReason::Requested);
    for (auto& [pid, name] : sys.name_of)
      if (name == "db" && sys.alive.count(pid)) sys.end(pid, 0);  // db crashes while web is stopping
  });
  CHECK(code == 0);
  CHECK(sys.count("spawn db") == 1);
  CHECK(sys.alive.empty());
}

// 1000 services took 27 s to stop: every output EOF that came before its
// exit was reaped asked whether the group lived, and each answer scanned /proc.
TEST_CASE("fake processes: output EOF before the exit is reaped does not ask whether the group lives") {
  TempDir dir;
  FakeSystem sys;
  sys.with_pipes = true;
  int code = run_with(sys, config_of(dir, kStack, "graceful = 1000\nforce = 1500\nkill = 2000"), 30,
                      [](Supervisor& s) { s.begin_shutdown(ShutdownReason::Requested); });
  CHECK(code == 0);
  CHECK(sys.count("exit db") == 1);
  CHECK(sys.early_group_checks == 0);
  CHECK(sys.alive.empty());
}

// 200 services whose groups outlived their leaders took 32 s to stop
// without cgroups: every reap asked every draining service whether its group
// lived, each answer a full /proc pass (O(N^2) passes). One pass per loop
// turn now answers them all.
TEST_CASE("fake processes: draining groups that outlive their leaders cost /proc passes linear in their number") {
  TempDir dir;
  FakeSystem sys;
  constexpr int n = 50;
  std::string services;
  for (int i = 0; i < n; ++i) {
    std::string name = std::string("s") + std::to_string(i);
    services += "[services." + name + "]\ncommand = [\"" + name + "\"]\n";
    sys.leaves_member.insert(name);
  }
  int code = run_with(sys, config_of(dir, services, "graceful = 2000\nforce = 2500\nkill = 3000"), 30,
                      [](Supervisor& s) { s.begin_shutdown(ShutdownReason::Requested); });
  CHECK(code == 0);
  CHECK(sys.lingered == n);
  CHECK(sys.members.empty());  // each member exited by itself, within the drain
  CHECK(sys.count("signal s0 9") == 0);
  CHECK(sys.alive.empty());
  CHECK(sys.group_passes <= 3 * n + 10);
}
