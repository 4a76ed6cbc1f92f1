// CgroupTree: see cgroup.hpp. Invariants: procd creates only the base (in
// Shared mode), `supervisor` and svc-* directories under it, and removes
// only those, only when empty; every write is one write(2) of a short text
// to a kernfs file (never blocks); a kill never reaches outside a service
// cgroup (PIDs are read from its own cgroup.procs).
#include "procd/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdlib>

#include <fmt/format.h>

#include "procd/file_io.hpp"

namespace procd {

std::optional<std::string> read_small_file(const std::string& path) {
  // cgroupfs and /proc files are regular files; 4 MiB covers a container's
  // mountinfo with thousands of mounts. Larger, or not regular: nothing.
  auto text = read_bounded(path, ReadPolicy{std::size_t{4} << 20, false, true});
  if (!text.ok()) return std::nullopt;
  return std::move(*text);
}

int write_cgroup_file(const std::string& path, const std::string& text) {
  // O_TRUNC as a shell's `echo > file`: kernfs ignores it, a fake tree needs it.
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno;
  ssize_t n;
  do n = ::write(fd, text.data(), text.size());
  while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  ::close(fd);
  return err;
}

namespace {

Error cg_error(Code code, const std::string& what, int err) {
  return make_error(code, fmt::format("{}: {}", what, std::strerror(err)));
}

bool make_dir(const std::string& path) { return ::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST; }

}  // namespace

Result<std::unique_ptr<CgroupTree>> CgroupTree::setup(const Options& opt) {
  if (!opt.root_override.empty()) return setup_at(opt.root_override, "/", opt);
  auto mountinfo = read_small_file("/proc/self/mountinfo");
  auto mount = mountinfo ? cgroup2_mount(*mountinfo) : std::nullopt;
  if (!mount) return make_error(Code::PlatformCgroup, "no cgroup2 filesystem is mounted");
  auto self_cg = read_small_file("/proc/self/cgroup");
  auto own = self_cg ? own_cgroup(*self_cg) : std::nullopt;
  if (!own) return make_error(Code::PlatformCgroup, "procd's cgroup v2 path is unknown (/proc/self/cgroup has no usable 0:: line)");
  return setup_at(*mount, *own, opt);
}

Result<std::unique_ptr<CgroupTree>> CgroupTree::setup_at(const std::string& mount, const std::string& own, const Options& opt) {
  std::unique_ptr<CgroupTree> t(new CgroupTree());
  t->self_ = opt.self;
  t->own_dir_ = own == "/" ? mount : mount + own;
  struct stat st {};
  if (::stat((t->own_dir_ + "/cgroup.procs").c_str(), &st) != 0)
    return cg_error(Code::PlatformCgroup, fmt::format("procd's cgroup {} is not visible", t->own_dir_), errno);
  auto procs = read_small_file(t->own_dir_ + "/cgroup.procs");
  bool alone = procs && only_process(*procs, opt.self);
  t->layout_ = choose_layout(mount, own, alone, opt.instance, opt.pid_file);
  const std::string& base = t->layout_.base;
  if (!make_dir(base)) return cg_error(Code::PlatformCgroup, fmt::format("cannot create {}", base), errno);
  std::string leaf = base + "/supervisor";
  if (!make_dir(leaf)) return cg_error(Code::PlatformCgroup, fmt::format("cannot create {}", leaf), errno);
  if (int err = write_cgroup_file(leaf + "/cgroup.procs", std::to_string(opt.self)); err != 0)
    return cg_error(Code::PlatformCgroup, fmt::format("cannot move procd into {}", leaf), err);
  // With procd out of the base, its children may get controllers: what is offered.
  for (const char* c : {"cpu", "memory", "pids"}) t->enable_controller(c);
  return t;
}

// "+c" into the base's subtree_control (and, in Shared mode, first into its
// parent's where the parent offers it but has not enabled it). Best effort.
bool CgroupTree::enable_controller(const std::string& controller) {
  const std::string& base = layout_.base;
  auto enabled = read_small_file(base + "/cgroup.subtree_control");
  if (enabled && has_controller(*enabled, controller)) return true;
  auto offered = read_small_file(base + "/cgroup.controllers");
  if (!offered || !has_controller(*offered, controller)) {
    if (layout_.mode != CgroupMode::Shared) return false;
    auto parent_offers = read_small_file(own_dir_ + "/cgroup.controllers");
    if (!parent_offers || !has_controller(*parent_offers, controller)) return false;
    if (write_cgroup_file(own_dir_ + "/cgroup.subtree_control", "+" + controller) != 0) return false;
  }
  return write_cgroup_file(base + "/cgroup.subtree_control", "+" + controller) == 0;
}

Result<std::vector<int>> CgroupTree::prepare(const std::string& service) {
  std::string dir = dir_of(service);
  if (!make_dir(dir)) return cg_error(Code::ServiceCgroupFailed, fmt::format("cannot create {}", dir), errno);
  return kill_leftovers(dir);
}

Result<std::vector<int>> CgroupTree::clean_leftover(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::vector<int>{};
  auto left = kill_leftovers(dir);
  // Fails while the killed are still exiting; teardown removes it at the latest.
  if (left.ok()) remove(dir);
  return left;
}

Result<std::vector<int>> CgroupTree::kill_leftovers(const std::string& dir) {
  std::vector<int> left;
  if (populated(dir).value_or(false)) {
    auto procs = read_small_file(dir + "/cgroup.procs");
    if (procs) left = parse_pids(*procs);
    if (auto r = kill(dir); !r) return r.error();
  }
  return left;
}

std::vector<Error> CgroupTree::apply_limits(const std::string& dir, const CgroupLimits& lim) {
  struct Item { const char* controller; const char* file; std::string value; const char* key; };
  std::vector<Item> items;
  if (lim.memory_max) {
    items.push_back({"memory", "memory.max", std::to_string(lim.memory_max), "memory_max"});
    // The whole service goes when one of its processes hits the limit (systemd's OOMPolicy=stop).
    items.push_back({"memory", "memory.oom.group", "1", "memory_max"});
  }
  if (!lim.cpu_max.empty())
    if (auto v = cpu_max_value(lim.cpu_max)) items.push_back({"cpu", "cpu.max", *v, "cpu_max"});
  if (lim.cpu_weight) items.push_back({"cpu", "cpu.weight", std::to_string(lim.cpu_weight), "cpu_weight"});
  if (lim.pids_max) items.push_back({"pids", "pids.max", std::to_string(lim.pids_max), "pids_max"});
  std::vector<Error> warnings;
  for (const auto& it : items) {
    std::string path = dir + "/" + it.file;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) enable_controller(it.controller);
    if (int err = write_cgroup_file(path, it.value); err != 0)
      warnings.push_back(make_error(Code::PlatformCgroupLimit,
                                    fmt::format("{} not applied: cannot write {} ({}; is the {} controller enabled?)", it.key,
                                                path, std::strerror(err), it.controller)));
  }
  return warnings;
}

Result<void> CgroupTree::kill(const std::string& dir) {
  int err = write_cgroup_file(dir + "/cgroup.kill", "1");
  if (err == 0) return {};
  if (err != ENOENT) return cg_error(Code::PlatformCgroupFailed, fmt::format("cannot write {}/cgroup.kill", dir), err);
  // Before Linux 5.14: freeze so nothing forks between reading and killing.
  bool frozen = write_cgroup_file(dir + "/cgroup.freeze", "1") == 0;
  signal_members(dir, SIGKILL);
  if (frozen) write_cgroup_file(dir + "/cgroup.freeze", "0");
  return {};
}

void CgroupTree::signal_members(const std::string& dir, int sig) {
  auto procs = read_small_file(dir + "/cgroup.procs");
  if (!procs) return;
  for (int pid : parse_pids(*procs))
    if (pid != self_) ::kill(pid, sig);
}

std::optional<bool> CgroupTree::populated(const std::string& dir) const {
  auto text = read_small_file(dir + "/cgroup.events");
  return text ? parse_populated(*text) : std::nullopt;
}

CgroupUsage CgroupTree::usage(const std::string& dir) const {
  CgroupUsage u;
  if (auto t = read_small_file(dir + "/cpu.stat")) u.cpu_usec = parse_keyed(*t, "usage_usec");
  if (auto t = read_small_file(dir + "/memory.current")) u.memory_bytes = parse_keyed("current " + *t, "current");  // one number
  return u;
}

std::uint64_t CgroupTree::oom_kills(const std::string& dir) const {
  auto t = read_small_file(dir + "/memory.events");
  return t ? parse_keyed(*t, "oom_kill").value_or(0) : 0;
}

void CgroupTree::remove(const std::string& dir) { ::rmdir(dir.c_str()); }

int CgroupTree::watch_events(uv_fs_event_t* handle, const std::string& dir, uv_fs_event_cb cb) {
  return uv_fs_event_start(handle, cb, (dir + "/cgroup.events").c_str(), 0);
}

void CgroupTree::teardown() {
  const std::string& base = layout_.base;
  if (DIR* d = ::opendir(base.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strncmp(e->d_name, "svc-", 4) == 0) remove(base + "/" + e->d_name);
    ::closedir(d);
  }
  if (write_cgroup_file(own_dir_ + "/cgroup.procs", std::to_string(self_)) != 0) return;
  remove(base + "/supervisor");
  if (layout_.mode == CgroupMode::Shared) remove(base);
}

}  // namespace procd
