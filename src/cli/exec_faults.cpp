// Fault-numbered signals in `procd exec`: see exec_faults.hpp for the design.
// Everything the handler reads is set before it can run or is a lock-free
// atomic; it calls only getpid(), kill(), sigaction() and raise().
#include "exec_faults.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

namespace procd {
namespace {

const RewriteMap* g_map = nullptr;
bool g_kill_group = false;
std::atomic<pid_t> g_child{0};
std::atomic<bool> g_exited{false};
// Sent from outside before the child's pid was known (during the spawn):
// one bit per signal, forwarded by whichever of the handler and
// set_fault_target takes it first (exchange), so none is lost or doubled.
std::atomic<std::uint64_t> g_pending{0};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<bool>::is_always_lock_free &&
              std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(SIGSYS < 64 && SIGABRT < 64 && SIGSEGV < 64);

void forward(int sig, pid_t child) {
  int to = (*g_map)[sig];
  // After the child's exit only its group is left (the /proc scan the main
  // loop does for procd's other children is not async-signal-safe).
  if (to != 0) ::kill(g_kill_group || g_exited.load() ? -child : child, to);
}

void forward_pending(pid_t child) {
  std::uint64_t bits = g_pending.exchange(0);
  for (int sig : kFaultSignals)
    if (bits & (std::uint64_t{1} << sig)) forward(sig, child);
}

void die_of(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  // Raised again, not left to the faulting instruction: not every kernel
  // signal repeats (a seccomp SIGSYS, a raise()d SIGABRT). It stays blocked
  // until this handler returns, then kills procd in the faulting context.
  ::raise(sig);
}

void on_fault(int sig, siginfo_t* info, void*) {
  int saved_errno = errno;
  bool from_outside = info->si_code <= 0 && info->si_pid != ::getpid();
  if (!from_outside) {
    die_of(sig);
  } else if (g_map) {
    g_pending.fetch_or(std::uint64_t{1} << sig);
    // The child may have become known meanwhile: then this handler forwards
    // (set_fault_target took nothing, or took it first and forwarded).
    if (pid_t child = g_child.load(); child > 0) forward_pending(child);
  }
  errno = saved_errno;
}

}  // namespace

void install_fault_forwarding(const RewriteMap& map, bool kill_group) {
  g_map = &map;
  g_kill_group = kill_group;
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s : kFaultSignals) ::sigaction(s, &sa, nullptr);
}

void set_fault_target(pid_t child, bool child_exited) {
  g_exited.store(child_exited);
  g_child.store(child);
  if (child > 0) forward_pending(child);  // sent while the child was being spawned
}

}  // namespace procd
