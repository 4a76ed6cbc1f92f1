// `procd start|stop|restart NAME...`, `procd signal` and `procd reload`:
// the commands that change services and then report how each ended.
// Invariants: start/stop/restart wait for each service to settle (polling
// status, bounded by kSettleTimeout) and exit 1 unless every one reached
// where the verb takes it; a restart tells the new run by a new pid; a
// refused reload prints every config error as `procd check` does, exit 2.
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/signal_names.hpp"

namespace procd {

using json = nlohmann::json;
using namespace cli;

namespace {

// --- waiting for start / stop / restart to settle --------------------------

constexpr auto kSettleTimeout = std::chrono::seconds(30);
constexpr auto kSettlePoll = std::chrono::milliseconds(50);

struct Target {
  std::string name;
  long long old_pid = 0;  // before the request (restart wants a new one)
  bool seen_active = false;
  bool done = false, ok = false;
  json last;  // latest status entry
};

// Decides whether one service reached where `verb` takes it. A start that
// ends "stopped" after having run is a one-shot that completed.
void judge(const std::string& verb, Target& t, const json& s) {
  t.last = s;
  std::string state = str_of(s, "state");
  long long pid = pid_of(s);
  if (state != "stopped" && state != "failed") t.seen_active = true;
  if (verb == "stop") {
    t.done = state == "stopped" || state == "failed";
    t.ok = t.done;
  } else if (state == "running") {
    t.done = verb == "start" || t.old_pid == 0 || (pid != 0 && pid != t.old_pid);
    t.ok = t.done;
  } else if (state == "failed") {
    t.done = true;
    t.ok = false;
  } else if (state == "stopped" && (t.seen_active || verb == "restart")) {
    t.done = true;
    t.ok = exited_cleanly(field_of(s, "last_exit"));
  }
}

std::string outcome_line(const std::string& verb, const Target& t) {
  std::string state = str_of(t.last, "state");
  long long pid = pid_of(t.last);
  std::string line = fmt::format("{}: {}", t.name, state.empty() ? "unknown" : state);
  if (pid > 0) line += fmt::format(" (pid {})", pid);
  // The last exit explains a failure, or how a started one-shot ended; for
  // a stop it would only echo the stop signal.
  bool show_exit = state == "failed" || (state == "stopped" && verb != "stop");
  json last = field_of(t.last, "last_exit");
  std::string reason = str_of(t.last, "reason");
  // The reason says why (e.g. "exited 3; giving up after 5 starts in 10 s"); the bare exit only when there is none.
  if (show_exit && !reason.empty() && reason != state) line += fmt::format(": {}", reason);
  else if (show_exit && !last.is_null()) line += fmt::format(" (last exit {})", last_exit_text(last));
  if (!t.done) line += fmt::format(" (not settled after {}s)", kSettleTimeout.count());
  return line;
}

}  // namespace

int cmd_service_action(const GlobalOptions& g, const std::string& verb, const std::vector<std::string>& names,
                       bool all) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  // The pids before the request, so a restart can tell the new run apart.
  std::map<std::string, long long> before;
  if (verb == "restart") {
    auto st = call_ok(sock.path, make_request("status", all ? std::vector<std::string>{} : names));
    if (!st.ok()) return fail(st.error());
    for (const auto& s : list_of(*st, "services")) before[str_of(s, "name")] = pid_of(s);
  }
  auto reply = call_ok(sock.path, make_request(verb, names, all));
  if (!reply.ok()) return fail(reply.error());

  std::vector<Target> targets;
  for (const auto& s : list_of(*reply, "services")) {
    Target t;
    t.name = str_of(s, "name");
    t.old_pid = before.count(t.name) ? before[t.name] : 0;
    judge(verb, t, s);
    // The reply's own state is a snapshot from inside the request; only a
    // stop may be settled by it (a start/restart still has to show a pid).
    if (verb != "stop") t.done = false;
    targets.push_back(std::move(t));
  }
  std::vector<std::string> pending;
  auto deadline = std::chrono::steady_clock::now() + kSettleTimeout;
  for (;;) {
    pending.clear();
    for (const auto& t : targets)
      if (!t.done) pending.push_back(t.name);
    if (pending.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kSettlePoll);
    auto st = call_ok(sock.path, make_request("status", pending));
    if (!st.ok()) return fail(st.error());
    for (const auto& s : list_of(*st, "services")) {
      for (auto& t : targets)
        if (t.name == str_of(s, "name") && !t.done) judge(verb, t, s);
    }
  }
  bool all_ok = true;
  for (const auto& t : targets) {
    bool ok = t.done && t.ok;
    all_ok = all_ok && ok;
    fmt::print(ok ? stdout : stderr, "{}\n", outcome_line(verb, t));
  }
  return all_ok ? kExitOk : kExitRuntime;
}

int cmd_signal(const GlobalOptions& g, const std::string& signal, const std::vector<std::string>& names) {
  auto sig = parse_signal(signal);
  if (!sig) {
    // A typo on the command line is a usage error (2), like CLI11's own.
    fail(make_error(Code::SignalUnknown, fmt::format("unknown signal \"{}\"", signal)));
    return kExitUsage;
  }
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  std::string name = signal_name(*sig);
  auto body = call_ok(sock.path, make_request("signal", names, false, json{{"signal", name}}));
  if (!body.ok()) return fail(body.error());
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  fmt::print("sent {} to {}\n", name, list);
  return kExitOk;
}

int cmd_reload(const GlobalOptions& g, const std::vector<std::string>& names) {
  if (!names.empty()) return cmd_reload_services(g, names);  // reload_services.cpp
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  // A reload stops and starts services before answering: allow for that.
  auto r = send_request(sock.path, make_request("reload"), 120000);
  if (!r.ok()) return fail(r.error());
  if (!r->ok) {
    // Every config error, as `procd check` prints it, then the summary.
    for (const auto& e : list_of(r->body, "errors")) {
      Error err = make_error(static_cast<Code>(int_of(e, "code")), str_of(e, "message"));
      err.key_path = str_of(e, "key");
      if (!str_of(e, "file").empty()) err.where = Location{str_of(e, "file"), static_cast<int>(int_of(e, "line")), static_cast<int>(int_of(e, "column"))};
      fmt::print(stderr, "{}\n", err.format());
    }
    return fail(r->error);
  }
  for (const char* k : {"added", "removed", "changed", "kept"}) {
    std::string list;
    for (const auto& n : list_of(r->body, k))
      if (n.is_string()) list += (list.empty() ? "" : ", ") + n.get<std::string>();
    fmt::print("{}: {}\n", k, list.empty() ? "-" : list);
  }
  // Settings that only a restart of procd itself applies (control socket...).
  std::string restart;
  for (const auto& n : list_of(r->body, "needs_restart"))
    if (n.is_string()) restart += (restart.empty() ? "" : ", ") + n.get<std::string>();
  if (!restart.empty()) fmt::print("not applied until procd restarts: {}\n", restart);
  return kExitOk;
}

}  // namespace procd
