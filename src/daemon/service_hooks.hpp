// A service's hook processes (procd/hooks.hpp for what they mean): made on
// the first hook a service runs, so a service without hooks pays one null
// pointer. At most one process per kind runs at a time; each is a session
// of its own (a kill takes its whole group), is reaped through the
// ChildReaper (the callback holds a weak token: the Service may be gone),
// is bounded by a deadline on the service's one timer, and has its stdout
// and stderr read into the service's ring as hook lines.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "procd/hooks.hpp"
#include "procd/output.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

class Service;

// What a hook pipe's read callback needs to find its way back.
struct HookPipeRef {
  Service* svc = nullptr;
  HookKind kind = HookKind::PreStart;
  bool is_stderr = false;
};

struct HookSlot {
  int pid = 0;                 // > 0 while its process runs (its own group)
  Millis due = 0;              // kill it then; 0 = no deadline (killed already)
  Millis timeout_ms = 0;
  bool timed_out = false;
  std::uint64_t gen = 0;       // which run of this kind a reap belongs to
  int mainpid = 0;             // the run it was started for (PROCD_MAINPID; stop_command)
  UvPipe out, err;
  HookPipeRef out_ref, err_ref;
  LineSplitter out_split, err_split;
  std::function<void(const HookVerdict&)> done;
};

struct HookRun {
  std::array<HookSlot, kHookKinds> slots;
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  // `procd reload NAME` with reload_command: the last one's outcome.
  std::uint64_t reload_seq = 0;
  std::string reload_state;    // "running", "ok", "failed"; empty = never
  std::string reload_reason;

  HookSlot& slot(HookKind k) { return slots[static_cast<std::size_t>(k)]; }
  const HookSlot& slot(HookKind k) const { return slots[static_cast<std::size_t>(k)]; }
  bool running() const {
    for (const auto& s : slots)
      if (s.pid > 0) return true;
    return false;
  }
};

}  // namespace procd
