// The helpers of control_internal.hpp shared by every CLI command that talks
// to a running supervisor (status, service, stream commands, start, stop):
// error → exit code, one request/one reply over the control socket, finding
// the socket (also when the config no longer loads), and lenient access to
// reply fields. Invariants: a reply from another process never throws here
// (a missing key or a wrong type reads as a default); exit codes follow the
// SPEC: 3 when no procd answers, 2 for config or usage errors, else 1.
#include <fmt/format.h>
#include <sys/stat.h>

#include <toml.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "control_internal.hpp"
#include "procd/cli.hpp"
#include "procd/config_load.hpp"
#include "procd/control_client.hpp"
#include "procd/file_io.hpp"
#include "procd/signal_names.hpp"

namespace procd {

using json = nlohmann::json;

namespace cli {

int exit_code_for(const Error& e) {
  int c = static_cast<int>(e.code);
  if (e.code == Code::ControlUnreachable || e.code == Code::HttpUnreachable) return kExitNotRunning;
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
  std::string socket = default_state_file(file.string(), "sock");
  if (const char* env = std::getenv("PROCD_CONTROL__SOCKET"); env && *env) {
    socket = env;
  } else {
    // Semantic errors leave the TOML readable; a syntax error keeps the default.
    try {
      // Read like the config itself: never blocking on a FIFO, bounded.
      auto text = read_bounded(file.string(), ReadPolicy{std::size_t{16} << 20, true, true});
      if (!text.ok()) throw std::runtime_error(text.error().message);
      // toml11 recurses without a bound: a deeply nested file must not crash the CLI either.
      if (check_nesting(*text, file.string())) throw std::runtime_error("nested too deep");
      std::istringstream again(*text);
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
    // No config anywhere: a `procd run -- CMD` of this user keeps its socket in the run directory.
    if (no_config_anywhere(g.config))
      if (auto sock = fallback_socket(bare_config_path())) {
        out.path = *sock;
        return kExitOk;
      }
    for (const auto& e : r.errors) fmt::print(stderr, "{}\n", e.format());
    return kExitUsage;
  }
  out.path = r.config->control.socket;
  return kExitOk;
}

}  // namespace procd
