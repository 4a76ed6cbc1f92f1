// The Supervisor's answers to control requests (protocol.hpp), the event
// and log fan-out to streaming clients, and resource sampling for status
// and metrics. Requests only ever turn into machine events through
// dispatch(), so the CLI can do nothing the state machine would not allow.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>

#include "procd/logging.hpp"
#include "procd/resources.hpp"
#include "procd/signal_names.hpp"
#include "procd/spawn.hpp"
#include "procd/supervisor.hpp"

namespace procd {
namespace {

bool wants(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Result<std::vector<ServiceRunner*>> Supervisor::select(const Request& req, bool empty_means_all) {
  std::vector<ServiceRunner*> out;
  if (req.all || (req.names.empty() && empty_means_all)) {
    for (auto& s : services_) out.push_back(s.get());
    return out;
  }
  if (req.names.empty()) return make_error(Code::RuntimeUsage, fmt::format("`{}` needs service names or --all", req.verb));
  for (const auto& n : req.names) {
    auto it = std::find_if(services_.begin(), services_.end(), [&](auto& s) { return s->cfg.name == n; });
    if (it == services_.end()) return make_error(Code::ServiceUnknown, fmt::format("no service named \"{}\"", n));
    out.push_back(it->get());
  }
  return out;
}

nlohmann::json Supervisor::status_json(const std::vector<ServiceRunner*>& which) {
  Millis t = now();
  nlohmann::json services = nlohmann::json::array();
  for (ServiceRunner* s : which) {
    const ServiceState& st = s->state;
    nlohmann::json last = nullptr;
    if (st.last_exit) last = {{"code", st.last_exit->signal ? nlohmann::json(nullptr) : nlohmann::json(st.last_exit->code)},
                              {"signal", st.last_exit->signal ? nlohmann::json(signal_name(st.last_exit->signal)) : nlohmann::json(nullptr)}};
    bool alive = st.pid > 0;
    services.push_back({{"name", s->cfg.name},
                        {"state", phase_name(st.phase)},
                        {"want", st.want == Want::Up ? "up" : "down"},
                        {"pid", alive ? nlohmann::json(st.pid) : nlohmann::json(nullptr)},
                        {"restarts", st.restarts},
                        {"uptime_ms", alive ? t - st.spawned_at : 0},
                        {"last_exit", last},
                        {"health", s->health && s->health->status() != HealthStatus::Unknown
                                       ? nlohmann::json(health_status_name(s->health->status())) : nlohmann::json(nullptr)},
                        {"status_text", s->status_text.empty() ? nlohmann::json(nullptr) : nlohmann::json(s->status_text)},
                        {"cpu_percent", alive ? s->cpu_percent : 0.0},
                        {"rss_bytes", alive ? s->rss_bytes : 0},
                        {"cpu_seconds", ticks_to_seconds(s->cpu_ticks)},
                        {"waiting", s->waiting},
                        {"reason", s->gate_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(s->gate_reason)}});
  }
  return {{"name", cfg_.name}, {"pid", ::getpid()}, {"uptime_ms", t - started_at_}, {"services", services}};
}

void Supervisor::handle_request(ControlConnection& conn, Request req) {
  const std::string& verb = req.verb;
  if (verb == "ping") {
    conn.send(reply_ok({{"pid", ::getpid()}, {"name", cfg_.name}}));
  } else if (verb == "status") {
    auto which = select(req, true);
    if (!which.ok()) return conn.send(reply_error(which.error()));
    conn.send(reply_ok(status_json(*which)));
  } else if (verb == "start" || verb == "stop" || verb == "restart") {
    if (ladder_.active()) return conn.send(reply_error(make_error(Code::StateShuttingDown, "procd is shutting down")));
    auto which = select(req, false);
    if (!which.ok()) return conn.send(reply_error(which.error()));
    nlohmann::json out = nlohmann::json::array();
    for (ServiceRunner* s : *which) {
      if (verb == "start") start_service(*s);
      else if (verb == "stop") stop_service(*s);
      else restart_service(*s);
      out.push_back({{"name", s->cfg.name}, {"state", phase_name(s->state.phase)}});
    }
    conn.send(reply_ok({{"services", out}}));
  } else if (verb == "signal") {
    auto sig = req.args.contains("signal") && req.args["signal"].is_string()
                   ? parse_signal(req.args["signal"].get<std::string>()) : std::nullopt;
    if (!sig) return conn.send(reply_error(make_error(Code::SignalUnknown, "missing or unknown \"signal\"")));
    auto which = select(req, false);
    if (!which.ok()) return conn.send(reply_error(which.error()));
    for (ServiceRunner* s : *which)
      if (s->state.pid > 0) signal_group(s->pgid, *sig);
    conn.send(reply_ok());
  } else if (verb == "logs") {
    auto which = select(req, true);
    if (!which.ok()) return conn.send(reply_error(which.error()));
    stream_logs(conn, req, *which);
  } else if (verb == "events") {
    auto which = select(req, true);
    if (!which.ok()) return conn.send(reply_error(which.error()));
    conn.send(stream_header());
    conn.stream = ControlConnection::Stream::Events;
    conn.stream_names = req.names;
  } else if (verb == "metrics") {
    std::vector<ServiceRunner*> all;
    for (auto& s : services_) all.push_back(s.get());
    conn.send(reply_ok({{"text", render_metrics(status_json(all), counters_)}}));
  } else if (verb == "reload") {
    ReloadOutcome r = reload("procd reload", false);
    if (r.skipped) return conn.send(reply_error(make_error(Code::StateShuttingDown, "procd is shutting down")));
    if (!r.ok) {
      nlohmann::json errors = nlohmann::json::array();
      for (const auto& e : r.errors) {
        nlohmann::json item = {{"code", static_cast<int>(e.code)}, {"message", e.message}, {"key", e.key_path},
                               {"text", e.format()}};
        if (e.where) {
          item["file"] = e.where->file;
          item["line"] = e.where->line;
          item["column"] = e.where->column;
        }
        errors.push_back(item);
      }
      const Error& first = r.errors.empty() ? make_error(Code::ConfigSyntax, "invalid config") : r.errors.front();
      nlohmann::json body = {{"v", kProtocolVersion}, {"ok", false},
                             {"error", {{"code", static_cast<int>(first.code)},
                                        {"message", fmt::format("config invalid ({} errors); the running config is kept", r.errors.size())}}},
                             {"errors", errors}};
      return conn.send(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    }
    conn.send(reply_ok({{"added", r.diff.added}, {"removed", r.diff.removed}, {"changed", r.diff.changed},
                        {"kept", r.diff.kept}, {"needs_restart", r.diff.needs_procd_restart}}));
  } else if (verb == "shutdown") {
    conn.send(reply_ok({{"pid", ::getpid()}}));
    begin_shutdown(ShutdownReason::Requested);
  } else {
    conn.send(reply_error(make_error(Code::ProtocolUnknownVerb, fmt::format("unknown verb \"{}\"", verb))));
  }
}

void Supervisor::stream_logs(ControlConnection& conn, const Request& req, const std::vector<ServiceRunner*>& which) {
  std::size_t n = 100;
  if (req.args.contains("lines") && req.args["lines"].is_number_integer())
    n = static_cast<std::size_t>(std::max<std::int64_t>(0, req.args["lines"].get<std::int64_t>()));
  // The last n lines across the chosen services, in time order.
  std::vector<std::pair<const LogLine*, const std::string*>> lines;
  std::vector<std::vector<LogLine>> keep;
  keep.reserve(which.size());
  for (ServiceRunner* s : which) {
    keep.push_back(s->ring.last(n));
    for (const auto& l : keep.back()) lines.emplace_back(&l, &s->cfg.name);
  }
  std::stable_sort(lines.begin(), lines.end(), [](auto& a, auto& b) { return a.first->ts_ms < b.first->ts_ms; });
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
  conn.send(stream_header());
  for (auto& [l, name] : lines)
    conn.send(stream_item({{"ts", utc_timestamp(l->ts_ms)}, {"service", *name}, {"stream", l->is_stderr ? "stderr" : "stdout"},
                           {"line", l->text}}));
  bool follow = req.args.contains("follow") && req.args["follow"].is_boolean() && req.args["follow"].get<bool>();
  if (follow) {
    conn.stream = ControlConnection::Stream::Logs;
    conn.stream_names = req.names;
  } else {
    conn.close();
  }
}

void Supervisor::publish_event(ServiceRunner& svc, Phase phase) {
  if (!control_ || !control_->has_streams(ControlConnection::Stream::Events)) return;
  nlohmann::json ev = {{"ts", utc_timestamp(wall_clock_ms())},
                       {"service", svc.cfg.name},
                       {"state", phase_name(phase)},
                       {"pid", svc.state.pid > 0 ? nlohmann::json(svc.state.pid) : nlohmann::json(nullptr)}};
  if (svc.health && svc.health->status() != HealthStatus::Unknown) ev["health"] = health_status_name(svc.health->status());
  std::string item = stream_item(ev);
  control_->for_each_stream(ControlConnection::Stream::Events, [&](ControlConnection& c) {
    if (wants(c.stream_names, svc.cfg.name)) c.send(item);
  });
}

void Supervisor::publish_log_line(ServiceRunner& svc, const LogLine& line) {
  if (!control_ || !control_->has_streams(ControlConnection::Stream::Logs)) return;
  std::string item = stream_item({{"ts", utc_timestamp(line.ts_ms)}, {"service", svc.cfg.name},
                                  {"stream", line.is_stderr ? "stderr" : "stdout"}, {"line", line.text}});
  control_->for_each_stream(ControlConnection::Stream::Logs, [&](ControlConnection& c) {
    if (wants(c.stream_names, svc.cfg.name)) c.send(item);
  });
}

// Sampling runs only while tracking is on and some service has a process:
// an idle procd with nothing running has no timer at all.
void Supervisor::update_sampling() {
  if (!cfg_.monitoring.track_resources || !sample_timer_.initialized()) return;
  bool any = std::any_of(services_.begin(), services_.end(), [](auto& s) { return s->state.pid > 0; });
  bool active = sample_timer_.is_active();
  if (any && !active) {
    auto period = static_cast<uint64_t>(std::max<Millis>(100, cfg_.monitoring.metrics_interval_ms));
    sample_resources();
    sample_timer_.schedule_repeating(static_cast<Millis>(period));
  } else if (!any && active) {
    sample_timer_.cancel();
  }
}

void Supervisor::sample_resources() {
  Millis t = now();
  Millis elapsed = t - sampled_at_;
  auto groups = sample_all_groups();
  for (auto& s : services_) {
    if (s->state.pid <= 0) {
      s->cpu_percent = 0;
      s->rss_bytes = 0;
      continue;
    }
    auto it = groups.find(s->pgid);
    GroupUsage u = it == groups.end() ? GroupUsage{} : it->second;
    s->cpu_percent = sampled_at_ > 0 && u.cpu_ticks >= s->cpu_ticks ? cpu_percent(s->cpu_ticks, u.cpu_ticks, elapsed) : 0.0;
    s->cpu_ticks = u.cpu_ticks;
    s->rss_bytes = u.rss_bytes;
    check_memory(*s);
  }
  sampled_at_ = t;
}

}  // namespace procd
