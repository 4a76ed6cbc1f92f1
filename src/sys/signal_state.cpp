// See signal_state.hpp.
#include "procd/signal_state.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

namespace procd {

void reset_signal_state() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);  // EINVAL on glibc's reserved ones: fine
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void reset_child_dispositions() {
  // The kernel's struct sigaction all zero is SIG_DFL, no flags, an empty
  // mask on every architecture; the buffer is larger than any layout of it.
  static const unsigned long kZero[8] = {};
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::syscall(SYS_rt_sigaction, s, kZero, nullptr, NSIG / 8);
}

}  // namespace procd
