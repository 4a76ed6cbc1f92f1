// The signal state a procd process starts from, and the one a child is
// handed at exec. A parent may leave signals blocked or ignored (a shell's
// `trap '' TERM`, a daemon that blocked SIGCHLD around fork, glibc's
// posix_spawn that ignores its reserved real-time signals 32 and 33 in the
// child); procd must neither keep them (it would not reap, not stop) nor
// pass them on (exec keeps SIG_IGN and the mask).
#pragma once

namespace procd {

// `procd run` and `procd exec`, before anything else: every catchable
// signal's disposition back to SIG_DFL, then an empty mask. glibc's own
// reserved signals are left to glibc (its sigaction() refuses them).
void reset_signal_state();

// For a child between fork and exec: every signal but SIGKILL and SIGSTOP
// to SIG_DFL through the raw system call, glibc's reserved ones included.
// Async-signal-safe; the mask is not touched (run_child() empties it last).
void reset_child_dispositions();

}  // namespace procd
