// `procd reload NAME...` (issue 28): what each service's reload is — its
// reload_signal (sent; the pid stays), its reload_command (run; waited for
// by polling status' "reload" until that run is over: a non-zero exit fails
// the command with the hook's reason, exit 1), or, with neither, a restart
// (waited for until a new pid runs, as `procd restart`).
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <thread>

#include "control_internal.hpp"
#include "procd/cli.hpp"

namespace procd {

using json = nlohmann::json;
using namespace cli;

namespace {

constexpr auto kWait = std::chrono::seconds(120);  // bounds a reload_command (start_timeout_ms kills it earlier)
constexpr auto kPoll = std::chrono::milliseconds(50);

struct Pending {
  std::string name, way;
  std::uint64_t seq = 0;
  long long old_pid = 0;
  bool done = false, ok = false;
  std::string text;
};

void judge(Pending& p, const json& s) {
  if (p.way == "command") {
    const json& r = field_of(s, "reload");
    if (!r.is_object() || r.value("seq", std::uint64_t{0}) != p.seq || str_of(r, "state") == "running") return;
    p.done = true;
    p.ok = str_of(r, "state") == "ok";
    p.text = p.ok ? fmt::format("{}: reloaded (reload_command)", p.name)
                  : fmt::format("{}: reload failed: {}", p.name, str_of(r, "reason"));
    return;
  }
  // restart: a new pid running, or an end that is not coming back
  std::string state = str_of(s, "state");
  long long pid = pid_of(s);
  if (state == "running" && pid != 0 && pid != p.old_pid) {
    p.done = p.ok = true;
    p.text = fmt::format("{}: restarted (pid {}): no reload_command or reload_signal", p.name, pid);
  } else if (state == "failed") {
    p.done = true;
    p.text = fmt::format("{}: failed: {}", p.name, str_of(s, "reason"));
  }
}

}  // namespace

int cmd_reload_services(const GlobalOptions& g, const std::vector<std::string>& names) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  std::map<std::string, long long> before;
  auto st = call_ok(sock.path, make_request("status", names));
  if (!st.ok()) return fail(st.error());
  for (const auto& s : list_of(*st, "services")) before[str_of(s, "name")] = pid_of(s);
  auto reply = call_ok(sock.path, make_request("reload", names));
  if (!reply.ok()) return fail(reply.error());
  std::vector<Pending> all;
  for (const auto& s : list_of(*reply, "services")) {
    Pending p{str_of(s, "name"), str_of(s, "reload"), s.value("seq", std::uint64_t{0}), before[str_of(s, "name")], false, false, {}};
    if (p.way == "signal") {
      p.done = p.ok = true;
      p.text = fmt::format("{}: reload signal sent (pid {})", p.name, pid_of(s));
    }
    all.push_back(std::move(p));
  }
  auto deadline = std::chrono::steady_clock::now() + kWait;
  for (;;) {
    std::vector<std::string> pending;
    for (const auto& p : all)
      if (!p.done) pending.push_back(p.name);
    if (pending.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
    auto now = call_ok(sock.path, make_request("status", pending));
    if (!now.ok()) return fail(now.error());
    for (const auto& s : list_of(*now, "services"))
      for (auto& p : all)
        if (p.name == str_of(s, "name") && !p.done) judge(p, s);
  }
  bool all_ok = true;
  for (const auto& p : all) {
    all_ok = all_ok && p.ok;
    std::string text = p.done ? p.text : fmt::format("{}: reload not over after {} s", p.name, kWait.count());
    fmt::print(p.ok ? stdout : stderr, "{}\n", text);
  }
  return all_ok ? kExitOk : kExitRuntime;
}

}  // namespace procd
