// The simulated cgroupfs: see sim_cgroup.hpp. Membership lives in the
// world's processes (FakeProcess::cgroup); this file is the CgroupTree
// over it and the world's cgroup calls.
#include "sim_cgroup.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "procd/cgroup_layout.hpp"

namespace procd::sim {

SimCgroups::SimCgroups(SimWorld& world) : world_(world) {
  layout_.mode = CgroupMode::Dedicated;
  layout_.base = kSimCgroupBase;
  layout_.why = "the simulator's cgroupfs";
  self_ = 1;
  // Cgroups an earlier procd left behind, with what they still hold.
  for (const auto& [pid, p] : world_.processes())
    if (p.foreign) dirs_.insert(p.cgroup);
  world_.attach(this);
}

SimCgroups::~SimCgroups() { world_.attach(nullptr); }

Result<std::vector<int>> SimCgroups::kill_left(const std::string& dir) {
  std::vector<int> left;
  for (pid_t pid : world_.members(dir)) left.push_back(pid);
  if (!left.empty()) kill(dir);
  return left;
}

Result<std::vector<int>> SimCgroups::prepare(const std::string& service) {
  std::string dir = dir_of(service);
  dirs_.insert(dir);
  return kill_left(dir);
}

Result<std::vector<int>> SimCgroups::clean_leftover(const std::string& dir) {
  if (!dirs_.count(dir)) return std::vector<int>{};
  auto left = kill_left(dir);
  remove(dir);
  return left;
}

Result<void> SimCgroups::kill(const std::string& dir) {
  world_.signal_cgroup(dir, SIGKILL);
  return {};
}

void SimCgroups::signal_members(const std::string& dir, int sig) { world_.signal_cgroup(dir, sig); }

std::optional<bool> SimCgroups::populated(const std::string& dir) const {
  if (!dirs_.count(dir)) return std::nullopt;
  return !world_.members(dir).empty();
}

// rmdir: EBUSY while populated. The watch goes either way (procd closed it).
void SimCgroups::remove(const std::string& dir) {
  watches_.erase(dir);
  if (world_.members(dir).empty()) dirs_.erase(dir);
}

void SimCgroups::teardown() {
  watches_.clear();
  std::erase_if(dirs_, [this](const std::string& d) { return world_.members(d).empty(); });
}

int SimCgroups::watch_events(uv_fs_event_t* handle, const std::string& dir, uv_fs_event_cb cb) {
  watches_[dir] = Watch{handle, cb, populated(dir).value_or(false)};
  return 0;
}

bool SimCgroups::deliver_events() {
  std::vector<std::string> changed;
  for (auto& [dir, w] : watches_) {
    bool now = !world_.members(dir).empty();
    if (now != w.populated) w.populated = now, changed.push_back(dir);
  }
  for (const auto& dir : changed) {
    auto it = watches_.find(dir);  // an earlier callback may have closed it
    if (it == watches_.end() || !it->second.handle->data) continue;
    world_.note(fmt::format("cgroup.events of {}: populated {}", dir, it->second.populated ? 1 : 0));
    it->second.cb(it->second.handle, "cgroup.events", UV_CHANGE, 0);
  }
  return !changed.empty();
}

Result<std::unique_ptr<CgroupTree>> SimWorld::setup_cgroups(const CgroupTree::Options&) {
  if (!cgroup_mode_) return make_error(Code::PlatformCgroup, "no cgroups in this sequence");
  return std::unique_ptr<CgroupTree>(new SimCgroups(*this));
}

// Leftovers of an earlier procd (killed, not stopped): a process in a
// configured service's cgroup (15 %), or in the cgroup an older procd
// named differently ('.' as '_', 30 % of the names that have one).
void SimWorld::use_cgroups(bool on, const std::vector<std::string>& services) {
  cgroup_mode_ = on;
  if (!on) return;
  auto pct = [this] { return std::uniform_int_distribution<int>(0, 99)(rng_); };
  for (const auto& name : services) {
    std::vector<std::string> dirs;
    if (pct() < 15) dirs.push_back(service_cgroup(kSimCgroupBase, name));
    if (auto old = legacy_service_cgroup_name(name); old && pct() < 30) dirs.push_back(kSimCgroupBase + "/" + *old);
    for (const auto& dir : dirs) {
      FakeProcess p;
      p.pid = p.pgid = p.run = next_pid_++;
      p.service = name;
      p.cgroup = dir;
      p.foreign = true;
      p.on_stop = FakeProcess::OnStop::Ignore;
      p.spawned_at = clock_.now();
      note(fmt::format("leftover pid {} of an earlier procd in {}", p.pid, dir));
      procs_.emplace(p.pid, std::move(p));
    }
  }
}

std::vector<pid_t> SimWorld::members(const std::string& dir, bool due) const {
  std::vector<pid_t> out;
  for (const auto& [pid, p] : procs_) {
    if (p.cgroup != dir || p.exited) continue;
    if (due && ((p.exit_at && *p.exit_at <= clock_.now()) || p.killed)) continue;
    out.push_back(pid);
  }
  return out;
}

// A signal to every member, the main process first (procd's SIGKILL is
// judged on it while it lives, else on a worker), leftovers last.
void SimWorld::signal_cgroup(const std::string& dir, int sig) {
  std::vector<FakeProcess*> group;
  for (pid_t pid : members(dir)) group.push_back(&procs_.at(pid));
  if (group.empty()) return;
  auto rank = [](const FakeProcess* p) { return p->foreign ? 3 : p->health ? 2 : p->worker ? 1 : 0; };
  std::stable_sort(group.begin(), group.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
  note(fmt::format("signal cgroup {} ({} member(s)) {}{}", dir, group.size(), sig_name(sig), user_signal_ ? " (user)" : ""));
  if (sig == SIGKILL && rank(group.front()) < 2) check_kill(*group.front());
  for (FakeProcess* p : group) {
    if (p->foreign) {
      if (sig == SIGKILL) p->killed = true, exit_by(*p, clock_.now(), ExitStatus{0, SIGKILL});
      continue;
    }
    react(*p, sig);
  }
}

bool SimWorld::deliver_cgroup_events() {
  return tree_ && tree_->deliver_events();
}

}  // namespace procd::sim
