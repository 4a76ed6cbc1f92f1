// `procd status` (a table, or --json: the supervisor's status body as one
// document) and `procd metrics` (the Prometheus text as the supervisor
// renders it). The table fits the terminal (see status_table.hpp; --wide
// or a pipe shows it whole). Invariants: the table is computed on plain text and colored
// only on a terminal without NO_COLOR, so escape codes never shift columns;
// a value missing from a reply shows as "-".
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/status_table.hpp"

namespace procd {

using json = nlohmann::json;
using namespace cli;

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
  if (state == "stopped" || state == "completed") return "\033[2m";
  if (state == "waiting") return "\033[33m";
  if (state == "blocked") return "\033[31m";
  return "";
}

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr; }

// The terminal's width, or 0 when stdout is not a terminal (the full table,
// unchanged, for scripts). COLUMNS stands in when the ioctl gives none.
std::size_t terminal_width() {
  if (::isatty(STDOUT_FILENO) != 1) return 0;
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char* cols = std::getenv("COLUMNS");
  long n = cols ? std::strtol(cols, nullptr, 10) : 0;
  return n > 0 && n < 10000 ? static_cast<std::size_t>(n) : 80;
}

}  // namespace

std::size_t cli::status_terminal_width() { return terminal_width(); }

StatusRow cli::status_row_of(const json& s) {
  long long pid = pid_of(s);
  auto num = [&](const char* k) { return s.contains(k) && s[k].is_number() ? s[k].get<double>() : -1.0; };
  std::string health = str_of(s, "health");
  // The condition tells stopped apart (completed, waiting, blocked); an
  // older supervisor without it shows its state.
  std::string condition = str_of(s, "condition");
  std::string reason = str_of(s, "reason");
  return {str_of(s, "name"), condition.empty() ? str_of(s, "state") : condition, pid > 0 ? std::to_string(pid) : "-",
          pid > 0 && num("uptime_ms") >= 0 ? human_duration(static_cast<long long>(num("uptime_ms"))) : "-",
          num("restarts") >= 0 ? std::to_string(static_cast<long long>(num("restarts"))) : "-",
          last_exit_text(field_of(s, "last_exit")),
          pid > 0 && num("cpu_percent") >= 0 ? fmt::format("{:.1f}%", num("cpu_percent")) : "-",
          pid > 0 && num("rss_bytes") >= 0 ? human_bytes(num("rss_bytes")) : "-",
          health.empty() ? "-" : health, reason.empty() ? "-" : reason};
}

std::string cli::duration_text(long long ms) { return human_duration(ms); }

std::vector<std::string> cli::status_table_lines(const json& body, bool wide, std::size_t width) {
  std::vector<StatusRow> rows;
  for (const auto& s : list_of(body, "services")) rows.push_back(status_row_of(s));
  const bool color = stdout_is_terminal();
  std::vector<std::string> out;
  for (const auto& line : layout_status_table(rows, width, wide)) {
    std::string_view state = std::string_view(line.text).substr(line.state_at, line.state_len);
    // Color wraps the cell only, after the layout was computed on the plain
    // text, so escape codes never shift the columns.
    if (color && !state.empty() && *state_color(std::string(state))) {
      out.push_back(fmt::format("{}{}{}\033[0m{}", line.text.substr(0, line.state_at), state_color(std::string(state)), state,
                                line.text.substr(line.state_at + line.state_len)));
    } else {
      out.push_back(line.text);
    }
  }
  return out;
}

namespace {

void print_status_table(const json& body, bool wide) {
  for (const auto& line : status_table_lines(body, wide, terminal_width())) fmt::print("{}\n", line);
}

}  // namespace

int cmd_status(const GlobalOptions& g, const std::vector<std::string>& names, bool as_json, bool wide, bool watch) {
  SocketTarget t;
  if (int rc = resolve_socket(g, t)) return rc;
  if (watch) return watch_status(t.path, names, wide);
  auto body = call_ok(t.path, make_request("status", names));
  if (!body.ok()) return fail(body.error());
  if (as_json) {
    body->erase("v");
    body->erase("ok");
    fmt::print("{}\n", body->dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    print_status_table(*body, wide);
  }
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
