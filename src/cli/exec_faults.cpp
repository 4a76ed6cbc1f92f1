// Fault-numbered signals in `procd exec`: see exec_faults.hpp for the design.
// Everything the handler reads is set before it can run or is a lock-free
// atomic; it calls only getpid(), kill(), sigaction() and raise().
#include "exec_faults.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace procd {
namespace {

const RewriteMap* g_map = nullptr;
bool g_kill_group = false;
std::atomic<pid_t> g_child{0};
std::atomic<bool> g_exited{false};
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);

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
  } else if (pid_t child = g_child.load(); child > 0 && g_map) {
    int to = (*g_map)[sig];
    // After the child's exit only its group is left (the /proc scan the main
    // loop does for procd's other children is not async-signal-safe).
    if (to != 0) ::kill(g_kill_group || g_exited.load() ? -child : child, to);
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
}

}  // namespace procd
