// `procd restart NAME... --rolling` (issue 28): subscribe to NAME's events
// first (so the outcome cannot pass unseen), ask for the roll, then block on
// the event stream until every NAME reports "rolled" or "roll-stopped".
// No polling: each wake-up is an event; the wait is bounded by the largest
// bound the supervisor gave (each instance's stop + start timeouts) plus 10 s.
// Exit 0 when every roll finished, 1 with the reason when one stopped.
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/control_client.hpp"

namespace procd {

using json = nlohmann::json;
using namespace cli;

int cmd_rolling_restart(const GlobalOptions& g, const std::vector<std::string>& names) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  ControlClient events;
  if (auto c = events.connect(sock.path); !c.ok()) return fail(c.error());
  if (auto s = events.open_stream(make_request("events", names)); !s.ok()) return fail(s.error());
  auto reply = call_ok(sock.path, make_request("restart", names, false, json{{"rolling", true}}));
  if (!reply.ok()) return fail(reply.error());
  std::map<std::string, bool> pending;  // roll name -> still under way
  long long bound_ms = 0;
  for (const auto& r : list_of(*reply, "rolls")) {
    pending[str_of(r, "name")] = true;
    bound_ms = std::max(bound_ms, int_of(r, "timeout_ms"));
    fmt::print("{}: rolling restart of {} instance(s)\n", str_of(r, "name"), int_of(r, "instances"));
  }
  std::fflush(stdout);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms + 10000);
  std::size_t left = pending.size();
  bool all_ok = true;
  while (left > 0) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (wait <= 0) break;
    auto item = events.next_item(static_cast<int>(wait));
    if (!item.ok()) return fail(item.error());  // procd went away
    if (!*item) continue;                        // the deadline: checked above
    const json& ev = **item;
    std::string name = str_of(ev, "service"), state = str_of(ev, "state");
    auto it = pending.find(name);
    if (it == pending.end() || !it->second) {
      if (state == "running" || state == "failed")  // an instance: progress
        fmt::print("  {}: {}{}\n", name, state, pid_of(ev) > 0 ? fmt::format(" (pid {})", pid_of(ev)) : std::string());
      std::fflush(stdout);
      continue;
    }
    if (state != "rolled" && state != "roll-stopped") continue;
    it->second = false;
    --left;
    if (state == "rolled") {
      fmt::print("{}: rolled: {}\n", name, str_of(ev, "reason"));
    } else {
      all_ok = false;
      fmt::print(stderr, "error[{}]: {}: rolling restart stopped: {}\n", str_of(ev, "reason_code"), name, str_of(ev, "reason"));
    }
  }
  for (const auto& [name, open] : pending)
    if (open) {
      all_ok = false;
      fmt::print(stderr, "{}: rolling restart not finished after {} ms\n", name, bound_ms + 10000);
    }
  return all_ok ? kExitOk : kExitRuntime;
}

}  // namespace procd
