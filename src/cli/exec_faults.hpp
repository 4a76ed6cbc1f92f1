// `procd exec`: forwarding of the fault-numbered signals (SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT) that another process sends with
// kill(2)/sigqueue(3), while a real fault of procd itself stays fatal.
//
// These signals cannot be blocked and consumed with sigwaitinfo() like the
// others: a blocked synchronous fault kills the process anyway (the kernel
// forces it), and a crash must stay a crash. So they get an SA_SIGINFO
// handler that looks at si_code: <= 0 (SI_USER, SI_QUEUE, SI_TKILL) from
// another PID means "sent from outside" and is forwarded with kill(), which
// is async-signal-safe; anything else (a kernel fault, si_code > 0, or
// procd's own abort()/raise()) resets the default disposition and raises the
// signal again, which kills procd.
#pragma once

#include <sys/types.h>

#include <array>
#include <csignal>

namespace procd {

using RewriteMap = std::array<int, NSIG>;  // map[FROM] = TO; 0 = drop

// The fault signals, left out of procd exec's sigwaitinfo() set.
inline constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};

// Installs the handlers. `map` must outlive procd exec (it does: cmd_exec's).
void install_fault_forwarding(const RewriteMap& map, bool kill_group);

// The child (>0) once spawned: forwarded signals go to it (or its group with
// --kill-group). After the child has exited they go to its process group.
// One sent before (while the child was being spawned) is kept and
// forwarded here: a kill(SIGSEGV) right after the fork is not lost.
void set_fault_target(pid_t child, bool child_exited);

}  // namespace procd
