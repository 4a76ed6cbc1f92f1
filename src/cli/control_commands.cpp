// The CLI verbs that talk to a running supervisor over the control socket:
// status, start/stop/restart NAME..., signal, logs, events, reload, metrics,
// plus the shared helpers of control_internal.hpp. Invariants: every verb
// exits 3 when no procd answers (SPEC/LSB), 2 on config or usage errors, 1
// on any other error reply; human output goes to stdout and errors to
// stderr; --json output is exactly one JSON document (one per line for
// streams); every wait is bounded except an explicit follow (-f, events).
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/config.hpp"
#include "procd/control_client.hpp"
#include "procd/signal_names.hpp"

namespace procd {

using json = nlohmann::json;

namespace cli {

int exit_code_for(const Error& e) {
  int c = static_cast<int>(e.code);
  if (e.code == Code::ControlUnreachable) return kExitNotRunning;
  if ((c >= 1000 && c <= 1999) || e.code == Code::RuntimeUsage) return kExitUsage;
  return kExitRuntime;
}

int fail(const Error& e) {
  fmt::print(stderr, "{}\n", e.format());
  return exit_code_for(e);
}

std::optional<std::string> fallback_socket(const std::string& config_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file = fs::absolute(config_path, ec);
  std::string socket = ".procd.sock";
  if (const char* env = std::getenv("PROCD_CONTROL__SOCKET"); env && *env) {
    socket = env;
  } else {
    // Semantic errors leave the TOML readable; a syntax error keeps the default.
    try {
      std::ifstream in(file, std::ios::binary);
      std::stringstream text;
      text << in.rdbuf();
      if (check_nesting(text.str(), file.string())) throw std::runtime_error("nested too deep");
      std::istringstream again(text.str());
      const auto root = toml::parse(again, file.string());
      const auto& v = toml::find(root, "control", "socket");
      if (v.is_string() && !v.as_string().str.empty()) socket = v.as_string().str;
    } catch (const std::exception&) {
    }
  }
  fs::path path = fs::path(socket).is_absolute() ? fs::path(socket) : (file.parent_path() / socket).lexically_normal();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  return path.string();
}

Request make_request(const std::string& verb, std::vector<std::string> names, bool all, json args) {
  Request req;
  req.verb = verb;
  req.names = std::move(names);
  req.all = all;
  req.args = std::move(args);
  return req;
}

Result<Reply> send_request(const std::string& socket, const Request& req, int timeout_ms) {
  ControlClient client;
  auto c = client.connect(socket);
  if (!c.ok()) return c.error();
  return client.call(req, timeout_ms);
}

Result<json> call_ok(const std::string& socket, const Request& req, int timeout_ms) {
  auto r = send_request(socket, req, timeout_ms);
  if (!r.ok()) return r.error();
  if (!r->ok) return r->error;
  return std::move(r->body);
}

std::string str_of(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

long long int_of(const json& obj, const char* key, long long def) {
  const json& v = field_of(obj, key);
  return v.is_number_integer() ? v.get<long long>() : def;
}

const json& field_of(const json& obj, const char* key) {
  static const json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it != obj.end() ? *it : kNull;
}

const json& list_of(const json& obj, const char* key) {
  static const json kEmpty = json::array();
  const json& v = field_of(obj, key);
  return v.is_array() ? v : kEmpty;
}

long long pid_of(const json& svc) { return int_of(svc, "pid", 0); }

std::string last_exit_text(const json& last) {
  if (!last.is_object()) return "-";
  auto sig = last.find("signal");
  if (sig != last.end() && sig->is_string()) return sig->get<std::string>();
  if (sig != last.end() && sig->is_number_integer()) return signal_name(sig->get<int>());
  auto code = last.find("code");
  if (code != last.end() && code->is_number_integer()) return std::to_string(code->get<int>());
  return "-";
}

bool exited_cleanly(const json& last) { return last_exit_text(last) == "0"; }

}  // namespace cli

using namespace cli;

int resolve_socket(const GlobalOptions& g, SocketTarget& out) {
  out.config_path = find_config_path(g.config);
  if (!g.socket.empty()) {
    out.path = g.socket;
    return kExitOk;
  }
  auto r = load_config(out.config_path);
  if (!r.ok()) {
    if (auto sock = fallback_socket(out.config_path)) {
      out.path = *sock;
      return kExitOk;
    }
    for (const auto& e : r.errors) fmt::print(stderr, "{}\n", e.format());
    return kExitUsage;
  }
  out.path = r.config->control.socket;
  return kExitOk;
}

namespace {

// --- status table ----------------------------------------------------------

std::string human_duration(long long ms) {
  long long s = std::max(0LL, ms) / 1000;
  long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;
  if (d > 0) return fmt::format("{}d{}h", d, h);
  if (h > 0) return fmt::format("{}h{}m", h, m);
  if (m > 0) return fmt::format("{}m{}s", m, s % 60);
  return fmt::format("{}s", s);
}

std::string human_bytes(double b) {
  const char* units[] = {"K", "M", "G", "T"};
  if (b < 1024) return fmt::format("{}B", static_cast<long long>(b));
  int u = -1;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f}{}", b, units[u]);
}

const char* state_color(const std::string& state) {
  if (state == "running") return "\033[32m";
  if (state == "starting" || state == "stopping" || state == "restarting") return "\033[33m";
  if (state == "failed") return "\033[31m";
  if (state == "stopped") return "\033[2m";
  return "";
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr; }

void print_status_table(const json& body) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "CPU", "RSS", "HEALTH"}};
  for (const auto& s : list_of(body, "services")) {
    long long pid = pid_of(s);
    auto num = [&](const char* k) { return s.contains(k) && s[k].is_number() ? s[k].get<double>() : -1.0; };
    std::string health = str_of(s, "health");
    rows.push_back({str_of(s, "name"), str_of(s, "state"), pid > 0 ? std::to_string(pid) : "-",
                    pid > 0 && num("uptime_ms") >= 0 ? human_duration(static_cast<long long>(num("uptime_ms"))) : "-",
                    num("restarts") >= 0 ? std::to_string(static_cast<long long>(num("restarts"))) : "-",
                    last_exit_text(field_of(s, "last_exit")),
                    pid > 0 && num("cpu_percent") >= 0 ? fmt::format("{:.1f}%", num("cpu_percent")) : "-",
                    pid > 0 && num("rss_bytes") >= 0 ? human_bytes(num("rss_bytes")) : "-",
                    health.empty() ? "-" : health});
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  const bool color = stdout_is_terminal();
  for (std::size_t n = 0; n < rows.size(); ++n) {
    std::string line;
    for (std::size_t i = 0; i < rows[n].size(); ++i) {
      const std::string& cell = rows[n][i];
      bool last = i + 1 == rows[n].size();
      std::string padded = last ? cell : fmt::format("{:<{}}  ", cell, width[i]);
      // Color wraps the cell only, after padding was computed on the plain
      // text, so escape codes never shift the columns.
      if (color && n > 0 && i == 1 && *state_color(cell)) {
        padded = fmt::format("{}{}\033[0m{}", state_color(cell), cell, std::string(padded.size() - cell.size(), ' '));
      }
      line += padded;
    }
    fmt::print("{}\n", line);
  }
}

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
  if (show_exit && !last.is_null()) line += fmt::format(" (last exit {})", last_exit_text(last));
  if (!t.done) line += fmt::format(" (not settled after {}s)", kSettleTimeout.count());
  return line;
}

// Ctrl-C during a follow: output is flushed after every item, so leaving
// at once loses nothing and is async-signal-safe.
extern "C" void on_follow_interrupt(int) { ::_exit(kExitOk); }

void exit_quietly_on_interrupt() {
  struct sigaction sa {};
  sa.sa_handler = on_follow_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
}

}  // namespace

int cmd_status(const GlobalOptions& g, const std::vector<std::string>& names, bool as_json) {
  SocketTarget t;
  if (int rc = resolve_socket(g, t)) return rc;
  auto body = call_ok(t.path, make_request("status", names));
  if (!body.ok()) return fail(body.error());
  if (as_json) {
    body->erase("v");
    body->erase("ok");
    fmt::print("{}\n", body->dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    print_status_table(*body);
  }
  return kExitOk;
}

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

int cmd_logs(const GlobalOptions& g, const std::vector<std::string>& names, int lines, bool follow) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  // The service column is padded to the longest name that can appear.
  std::size_t width = 0;
  for (const auto& n : names) width = std::max(width, n.size());
  if (names.empty()) {
    if (auto st = call_ok(sock.path, make_request("status")); st.ok())
      for (const auto& s : list_of(*st, "services")) width = std::max(width, str_of(s, "name").size());
  }
  if (follow) exit_quietly_on_interrupt();
  ControlClient client;
  if (auto c = client.connect(sock.path); !c.ok()) return fail(c.error());
  auto req = make_request("logs", names, false, json{{"lines", std::max(0, lines)}, {"follow", follow}});
  auto r = client.stream(
      req,
      [&](const json& item) {
        std::string svc = str_of(item, "service");
        width = std::max(width, svc.size());
        fmt::print("{} {:<{}} | {}\n", str_of(item, "ts"), svc, width, str_of(item, "line"));
        if (follow) std::fflush(stdout);
        return true;
      },
      follow ? -1 : 10000);
  if (!r.ok()) return fail(r.error());
  return kExitOk;
}

int cmd_events(const GlobalOptions& g, bool as_json) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  exit_quietly_on_interrupt();
  ControlClient client;
  if (auto c = client.connect(sock.path); !c.ok()) return fail(c.error());
  auto r = client.stream(make_request("events"), [&](const json& item) {
    if (as_json) {
      fmt::print("{}\n", item.dump(-1, ' ', false, json::error_handler_t::replace));
    } else {
      long long pid = pid_of(item);
      fmt::print("{} {} {}{}\n", str_of(item, "ts"), str_of(item, "service"), str_of(item, "state"),
                 pid > 0 ? fmt::format(" (pid {})", pid) : std::string{});
    }
    std::fflush(stdout);
    return true;
  });
  if (!r.ok()) return fail(r.error());
  return kExitOk;
}

int cmd_reload(const GlobalOptions& g) {
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

int cmd_metrics(const GlobalOptions& g) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  auto body = call_ok(sock.path, make_request("metrics"));
  if (!body.ok()) return fail(body.error());
  fmt::print("{}", str_of(*body, "text"));
  return kExitOk;
}

}  // namespace procd
