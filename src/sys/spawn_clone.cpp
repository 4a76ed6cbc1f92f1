// The process creation step of the one spawn's fork path: fork(), or for a
// child with a cgroup clone3(CLONE_INTO_CGROUP), so the child is born in its
// cgroup (writing cgroup.procs afterwards migrates it, which takes the
// cgroup threadgroup rwsem for writing), and the per-process memory of
// which of the two works here (cgroup_spawn_path(), see spawn.hpp).
//
// On x86_64 (not under a sanitizer) the clone3 child also shares procd's
// memory and procd waits until it has exec'd (CLONE_VM | CLONE_VFORK on a
// stack of its own, as glibc's posix_spawn does): no copy of procd's page
// tables, no copy-on-write faults in procd afterwards. That is safe because
// run_child() only reads the plan and writes its own stack: plain syscalls,
// no malloc, no locks, credentials by raw syscalls (glibc's setuid would
// walk procd's thread list), signals all blocked until every disposition is
// SIG_DFL. Its errno writes land in the calling thread's errno, which is
// read only when clone3 failed. Elsewhere the clone3 child is a copy, like a
// fork() child.
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <pthread.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/sched.h>  // struct clone_args, CLONE_INTO_CGROUP (Linux >= 5.7)
#include <sys/mman.h>
#include <sys/syscall.h>
#endif
#if defined(__linux__) && defined(SYS_clone3) && defined(CLONE_INTO_CGROUP)
#define PROCD_HAVE_CLONE3 1
#endif
// A sanitizer's instrumentation and interceptors keep per-thread state that a
// child sharing procd's memory on another stack would update: copy instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PROCD_CLONE_VM 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define PROCD_CLONE_VM 0
#endif
#endif
#if !defined(PROCD_CLONE_VM) && defined(PROCD_HAVE_CLONE3) && defined(__x86_64__)
#define PROCD_CLONE_VM 1
#elif !defined(PROCD_CLONE_VM)
#define PROCD_CLONE_VM 0
#endif

#include "spawn_internal.hpp"

namespace procd {
namespace spawn_detail {
namespace {

#if PROCD_CLONE_VM
// run_child's deepest frame is a few KiB; the page below is a guard, so an
// overflow faults instead of writing into procd's memory.
constexpr std::size_t kChildStack = 64 * 1024;
constexpr std::size_t kGuard = 4096;

// One stack per spawning thread, kept: the thread is suspended while its
// child runs on it, so a second child never meets the first on it.
void* child_stack() {
  thread_local void* base = nullptr;
  if (!base) {
    void* m = ::mmap(nullptr, kChildStack + kGuard, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    if (::mprotect(static_cast<char*>(m) + kGuard, kChildStack, PROT_READ | PROT_WRITE) != 0) {
      ::munmap(m, kChildStack + kGuard);
      return nullptr;
    }
    base = static_cast<char*>(m) + kGuard;
  }
  return base;
}

[[noreturn]] void child_entry(void* plan) { run_child(*static_cast<const ChildPlan*>(plan)); }

// clone3 whose child calls child_entry(plan) on args->stack (16-byte
// aligned top) and never returns here; the parent gets the pid or -errno.
long clone3_call(struct clone_args* args, const ChildPlan* plan) {
  long ret = SYS_clone3;
  register long fn asm("r12") = reinterpret_cast<long>(&child_entry);
  register long arg asm("r13") = reinterpret_cast<long>(plan);
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"  // the child: outermost frame on its own stack
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "hlt\n\t"
      "1:\n\t"
      : "+a"(ret)
      : "D"(args), "S"(sizeof *args), "r"(fn), "r"(arg)
      : "rcx", "r11", "memory", "cc");
  return ret;
}
#endif

}  // namespace

CgroupSpawnPath& cgroup_path() {
  static CgroupSpawnPath path = [] {
    const char* off = ::getenv("PROCD_NO_CLONE3");
    return off && *off ? CgroupSpawnPath{CgroupSpawnPath::CgroupProcs, 0} : CgroupSpawnPath{};
  }();
  return path;
}

pid_t create_child(const ChildPlan& plan, int cgroup_dir, int* err) {
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = -1;
  errno = ENOSYS;
  if (cgroup_dir < 0) {
    pid = ::fork();
  } else {
#ifdef PROCD_HAVE_CLONE3
    struct clone_args args {};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<std::uint64_t>(cgroup_dir);
#if PROCD_CLONE_VM
    if (void* stack = child_stack()) {
      args.flags |= CLONE_VM | CLONE_VFORK;
      args.stack = reinterpret_cast<std::uint64_t>(stack);
      args.stack_size = kChildStack;
      long r = clone3_call(&args, &plan);
      // Only the parent gets here; the child has exec'd or exited by now.
      if (r < 0) errno = static_cast<int>(-r);
      pid = r < 0 ? -1 : static_cast<pid_t>(r);
      *err = errno;
      ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
      return pid;
    }
#endif
    pid = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
#endif
  }
  if (pid == 0) run_child(plan);
  *err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return pid;
}

}  // namespace spawn_detail

CgroupSpawnPath cgroup_spawn_path() { return spawn_detail::cgroup_path(); }

}  // namespace procd
