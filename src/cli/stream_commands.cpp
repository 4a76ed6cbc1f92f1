// `procd logs [-f]` and `procd events`: commands that print a stream of
// items from the supervisor, one line each. Invariants: output is flushed
// after every followed item, so Ctrl-C exits at once (code 0) losing
// nothing; without -f, logs is bounded by a timeout; --json prints each
// event object as received, one per line. Service output goes to a
// terminal with its control characters escaped (a line cannot drive the
// terminal; the ts and service fields too), and to a pipe or file byte for
// byte (a line that is not UTF-8 comes as line_base64); --raw forces the
// latter. On a terminal without NO_COLOR each service name has a stable
// colour and an app's SGR colour codes pass (every other sequence is still
// escaped); events are aligned columns, --service keeps one service's. A cut piece of a line past 64 KiB shows "|+" for "| "
// ("!+" for "! ", stderr); procd's own lines about a service show "~ "; --stream filters here.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/control_client.hpp"
#include "procd/protocol.hpp"
#include "procd/terminal_escape.hpp"
#include "procd/terminal_text.hpp"
#include "procd/logging.hpp"
#include "procd/time_spec.hpp"

namespace procd {

using json = nlohmann::json;
using namespace cli;

namespace {

// Ctrl-C during a follow: output is flushed after every item, so leaving
// at once loses nothing and is async-signal-safe.
extern "C" void on_follow_interrupt(int) { ::_exit(kExitOk); }

void exit_quietly_on_interrupt() {
  struct sigaction sa {};
  sa.sa_handler = on_follow_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
}

// The longest name of the supervisor's services, 0 when it does not say.
std::size_t longest_service_name(const std::string& socket_path) {
  std::size_t width = 0;
  if (auto st = call_ok(socket_path, make_request("status")); st.ok())
    for (const auto& s : list_of(*st, "services")) width = std::max(width, str_of(s, "name").size());
  return width;
}

}  // namespace

namespace {

// The short name of an item's stream (stdout → out, stderr → err, procd).
std::string short_stream(const json& item) {
  std::string s = str_of(item, "stream");
  return s == "stdout" ? "out" : s == "stderr" ? "err" : s;
}

// Its mark between service and text: "| " output, "! " stderr (as in
// procd's own log), "~ " procd's own line; "|+" / "!+" a cut piece.
const char* stream_mark(const std::string& stream, bool partial) {
  if (stream == "procd") return "~ ";
  if (stream == "hook") return partial ? "*+" : "* ";  // a hook's line (pre_start, post_stop, ...)
  if (stream == "err") return partial ? "!+" : "! ";
  return partial ? "|+" : "| ";
}

}  // namespace

int cmd_logs(const GlobalOptions& g, const std::vector<std::string>& names, int lines, bool follow, bool raw,
             bool as_json, const std::vector<std::string>& streams, const std::string& since,
             bool no_timestamps) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  // The service column is padded to the longest name that can appear.
  std::size_t width = 0;
  for (const auto& n : names) width = std::max(width, n.size());
  if (names.empty()) width = longest_service_name(sock.path);
  if (follow) exit_quietly_on_interrupt();
  const bool escape = !raw && ::isatty(STDOUT_FILENO) == 1;
  // On a terminal each name has its colour and an app's own colours (SGR)
  // pass; NO_COLOR leaves every colour out, the app's too.
  const bool color = escape && std::getenv("NO_COLOR") == nullptr;
  ControlClient client;
  if (auto c = client.connect(sock.path); !c.ok()) return fail(c.error());
  json args{{"lines", std::max(0, lines)}, {"follow", follow}};
  // The supervisor filters (so -n counts the chosen streams' lines); the
  // check below stays for an older supervisor that ignores "streams".
  if (!streams.empty()) {
    std::string list;
    for (const auto& s : streams) list += (list.empty() ? "" : ",") + s;
    args["streams"] = list;
  }
  if (!since.empty()) {
    auto when = parse_since(since, wall_clock_ms());
    if (!when)
      return fail(make_error(Code::RuntimeUsage, fmt::format("--since {}: not a duration (90s, 10m, 2h, 1d) or a UTC time "
                                                         "(2026-12-06T21:57:23Z)", since)));
    args["since_ms"] = *when;
  }
  auto req = make_request("logs", names, false, std::move(args));
  auto r = client.stream(
      req,
      [&](const json& item) {
        if (auto k = item.find("skipped"); !as_json && k != item.end() && k->is_number_unsigned()) {
          fmt::print(stderr, "procd logs: {} lines left the ring before they were sent\n", k->get<std::uint64_t>());
          return true;
        }
        const std::string stream = short_stream(item);
        if (!streams.empty() && std::find(streams.begin(), streams.end(), stream) == streams.end()) return true;
        if (as_json) {  // valid JSON whatever the bytes: line_base64 carries them (see log_item)
          fmt::print("{}\n", item.dump(-1, ' ', false, json::error_handler_t::replace));
        } else {
          // Every field a server sends is escaped on a terminal, not only the line.
          auto shown = [&](std::string s) { return escape ? escape_for_terminal(s) : s; };
          std::string svc = shown(str_of(item, "service"));
          width = std::max(width, svc.size());
          auto p = item.find("partial");
          const bool partial = p != item.end() && p->is_boolean() && p->get<bool>();
          std::string pad(width - svc.size(), ' ');
          if (color) svc = name_color(str_of(item, "service")) + svc + "\033[0m";
          std::string text;
          if (!escape) text = log_item_bytes(item);
          else if (append_for_terminal(text, log_item_bytes(item), color ? SgrMode::Keep : SgrMode::Drop))
            text += "\033[0m";  // the app's colours end with its line
          if (!no_timestamps) fmt::print("{} ", shown(str_of(item, "ts")));
          fmt::print("{}{} {}{}\n", svc, pad, stream_mark(stream, partial), text);
        }
        if (follow) std::fflush(stdout);
        return true;
      },
      follow ? -1 : 10000);
  if (!r.ok()) return fail(r.error());
  return kExitOk;
}

int cmd_events(const GlobalOptions& g, bool as_json, const std::string& service) {
  SocketTarget sock;
  if (int rc = resolve_socket(g, sock)) return rc;
  exit_quietly_on_interrupt();
  std::size_t width = service.size();
  if (service.empty()) width = longest_service_name(sock.path);
  const bool escape = ::isatty(STDOUT_FILENO) == 1;
  ControlClient client;
  if (auto c = client.connect(sock.path); !c.ok()) return fail(c.error());
  auto r = client.stream(make_request("events"), [&](const json& item) {
    if (!service.empty() && str_of(item, "service") != service) return true;
    if (as_json) {
      fmt::print("{}\n", item.dump(-1, ' ', false, json::error_handler_t::replace));
    } else {
      // Aligned: ts, service, condition, pid, exit (code or signal), reason.
      auto shown = [&](std::string s) { return escape ? escape_for_terminal(s) : s; };
      long long pid = pid_of(item);
      std::string name = shown(str_of(item, "service"));
      width = std::max(width, name.size());
      std::string condition = str_of(item, "condition"), reason = str_of(item, "reason");
      std::string exit = "-";
      if (auto sig = str_of(item, "signal"); !sig.empty()) exit = sig;
      else if (auto c = item.find("exit_code"); c != item.end() && c->is_number_integer())
        exit = "exit " + std::to_string(c->get<int>());
      fmt::print("{}  {:<{}}  {:<10}  {:<7}  {:<7}  {}\n", shown(str_of(item, "ts")), name, width,
                 shown(condition.empty() ? str_of(item, "state") : condition), pid > 0 ? std::to_string(pid) : "-",
                 shown(exit), reason.empty() ? "-" : shown(reason));
    }
    std::fflush(stdout);
    return true;
  });
  if (!r.ok()) return fail(r.error());
  return kExitOk;
}

}  // namespace procd
