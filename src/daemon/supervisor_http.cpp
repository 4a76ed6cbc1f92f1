// The front ends' listeners (front_ends.hpp) and the HTTP endpoint: the listener's lifetime (started
// with [control].http, rebound live by a reload; a failed rebind keeps the
// old listener), what each route answers, the SSE / followed-logs fan-out,
// and the bookkeeping the metrics need (spawns, start and stop durations).
// Routes reach services only through the members the control verbs use
// (select, status_view, start/stop/restart_service, reload): an HTTP
// request can do nothing the control socket could not, and never changes
// the set of services while something iterates over it. JSON shapes come
// from protocol.cpp, so /status is byte for byte `procd status --json`.
#include <fmt/core.h>

#include <algorithm>

#include "procd/dashboard.hpp"
#include "procd/logging.hpp"
#include "procd/supervision_rules.hpp"
#include "procd/front_ends.hpp"
#include "procd/supervisor.hpp"
#include "procd/token_file.hpp"
#include "rolling_restart.hpp"

namespace procd {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain; charset=utf-8";

void reply_json(HttpConnection& conn, int status, const nlohmann::json& body) {
  conn.reply(status, kJson, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void reply_err(HttpConnection& conn, int status, const Error& err) { conn.reply(status, kJson, reply_error(err)); }

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!name.empty()) out.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// SSE: each item (one JSON line) becomes one `data:` event.
std::string sse_event(std::string_view item) {
  while (!item.empty() && item.back() == '\n') item.remove_suffix(1);
  return fmt::format("data: {}\n\n", item);
}

}  // namespace

FrontEnds::FrontEnds(Supervisor& sup) : sup_(sup), cfg_(sup.cfg_), services_(sup.services_) {
  sample_timer_.init(&sup_.loop_, [this] { sample_resources(); });
}

FrontEnds::~FrontEnds() { sample_timer_.close(); }

bool FrontEnds::metrics_enabled() const { return cfg_.monitoring.enable_metrics; }

// The control socket, then the HTTP endpoint; after a failure neither is open.
Result<void> FrontEnds::open() {
  started_at_ = sup_.now();
  control_ = std::make_unique<ControlServer>(&sup_.loop_, [this](ControlConnection& c, Request r) { handle_request(c, std::move(r)); });
  if (auto r = control_->listen(cfg_.control); !r.ok()) {
    control_.reset();
    return r;
  }
  if (auto r = start_http(); !r.ok()) {
    control_->close();
    control_.reset();
    return r;
  }
  return {};
}

void FrontEnds::close() {
  if (control_) control_->close();
  sample_timer_.cancel();
}

Result<void> FrontEnds::start_http() {
  if (!cfg_.control.http_token_file.empty()) {
    auto token = read_token_file(cfg_.control.http_token_file);
    if (!token.ok()) return token.error();
    http_token_ = *token;
  }
  if (cfg_.control.http.empty()) return {};
  auto server = std::make_unique<HttpServer>(&sup_.loop_, [this](HttpConnection& c, const HttpRequest& r) { handle_http(c, r); });
  if (auto r = server->listen(cfg_.control.http); !r.ok()) return r;
  server->set_allowed_hosts(cfg_.control.http_allowed_hosts);
  Log::write(LogLevel::Info, fmt::format("HTTP endpoint on {} (port {})", cfg_.control.http, server->port()));
  http_ = std::move(server);
  return {};
}

void FrontEnds::recheck_token(const std::string& source) {
  if (http_token_.empty()) return;
  if (auto t = read_token_file(cfg_.control.http_token_file); !t.ok()) {
    http_token_.clear();
    Log::write(LogLevel::Warn, fmt::format("reload ({}): {}; the HTTP token is revoked", source, t.error().message),
               code_fields(t.error().code));
  }
}

// Called by apply_reload before the new config is taken: what fails keeps
// the old value in cfg_.control, which the new config then inherits.
void FrontEnds::reload_http(const ControlConfig& next) {
  if (next.http_token_file != cfg_.control.http_token_file || !next.http_token_file.empty()) {
    // The file is read again on every reload: `procd reload` rotates the token.
    std::string token;
    if (!next.http_token_file.empty()) {
      auto t = read_token_file(next.http_token_file);
      if (t.ok()) token = *t;
      else Log::error(t.error());  // revoked: no token until a reload reads a good one
    }
    cfg_.control.http_token_file = next.http_token_file;
    http_token_ = token;
  }
  cfg_.control.http_allowed_hosts = next.http_allowed_hosts;  // live, on the listener kept or the new one
  if (http_) http_->set_allowed_hosts(next.http_allowed_hosts);
  if (next.http == cfg_.control.http) return;
  // Retired by the previous rebind: its connections have had their replies
  // by now, or are cut here. The current one is retired, not closed: the
  // client of POST /reload is one of its connections and gets its answer.
  http_retired_.reset();
  if (next.http.empty()) {
    if (http_) http_->retire();
    http_retired_ = std::move(http_);
    cfg_.control.http.clear();
    Log::write(LogLevel::Info, "HTTP endpoint closed");
    return;
  }
  auto server = std::make_unique<HttpServer>(&sup_.loop_, [this](HttpConnection& c, const HttpRequest& r) { handle_http(c, r); });
  server->set_allowed_hosts(next.http_allowed_hosts);
  if (auto r = server->listen(next.http); !r.ok()) {
    Log::write(LogLevel::Error, r.error().message + (http_ ? fmt::format("; still listening on {}", cfg_.control.http) : ""),
               code_fields(r.error().code));
    return;
  }
  if (http_) http_->retire();  // this very request may be one of its connections: retire, do not destroy
  http_retired_ = std::move(http_);
  http_ = std::move(server);
  cfg_.control.http = next.http;
  Log::write(LogLevel::Info, fmt::format("HTTP endpoint now on {} (port {})", next.http, http_->port()));
}

void FrontEnds::publish_http(HttpConnection::Stream kind, const std::string& service, std::string_view item,
                             const LogLine* line) {
  std::string event = kind == HttpConnection::Stream::Events ? sse_event(item) : std::string(item);
  http_->for_each_stream(kind, [&](HttpConnection& c) {
    if (!c.caught_up()) return;  // its live catch-up window gives this line
    if (line && !log_kind_wanted(c.stream_kinds, *line)) return;
    if (c.stream_names.empty() ||
        std::any_of(c.stream_names.begin(), c.stream_names.end(), [&](const std::string& n) { return name_selects(n, service); }))
      c.send(event);
  });
}

// The dashboard's charts: per service, [age_ms, cpu_percent, rss_bytes]
// oldest first (age: how long ago, so the page needs no clock of procd's).
nlohmann::json FrontEnds::history_json() {
  Millis t = sup_.now();
  nlohmann::json services = nlohmann::json::object();
  for (auto& s : services_) {
    nlohmann::json points = nlohmann::json::array();
    for (const auto& p : s->stats().history.samples()) points.push_back({t - p.t_ms, p.cpu_percent, p.rss_bytes});
    services[s->name()] = std::move(points);
  }
  return {{"window_ms", ResourceHistory::kCapacity * ResourceHistory::kDefaultSpacingMs}, {"services", std::move(services)}};
}

std::vector<SettleView> Supervisor::settle_views() const {
  std::vector<SettleView> views;
  views.reserve(services_.size());
  for (auto& s : services_) {
    Intent in = s->intent();
    views.push_back({s->config().autostart, in.removing, in.waiting, s->state().phase, in.want, s->state().last_exit.has_value()});
  }
  return views;
}

void FrontEnds::http_readyz(HttpConnection& conn) {
  std::vector<SettleView> views = sup_.settle_views();
  std::vector<std::size_t> pending = not_ready(views);
  if (pending.empty() && !sup_.shutting_down()) return reply_json(conn, 200, {{"ready", true}});
  nlohmann::json names = nlohmann::json::array();
  for (std::size_t i : pending)
    names.push_back({{"name", services_[i]->name()}, {"state", phase_name(services_[i]->state().phase)}});
  reply_json(conn, 503, {{"ready", false}, {"shutting_down", sup_.shutting_down()}, {"not_ready", names}});
}

void FrontEnds::http_logs(HttpConnection& conn, const HttpRequest& req) {
  Request sel;
  sel.verb = "logs";
  if (auto it = req.query.find("service"); it != req.query.end()) sel.names = split_names(it->second);
  auto which = sup_.select(sel, true);
  if (!which.ok()) return reply_err(conn, 404, which.error());
  std::size_t n = 100;
  if (auto it = req.query.find("n"); it != req.query.end()) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || it->second[0] == '-')
      return reply_err(conn, 400, make_error(Code::HttpBadRequest, "n must be a non-negative integer"));
    n = static_cast<std::size_t>(std::min<unsigned long long>(v, kMaxLogLines));  // the bound; LogWindow clamps too
  }
  std::optional<std::uint8_t> kinds = 0;
  if (auto it = req.query.find("stream"); it != req.query.end()) kinds = parse_log_kinds(it->second);
  if (!kinds) return reply_err(conn, 400, make_error(Code::HttpBadRequest, "stream must be a comma list of out, err, procd, hook"));
  auto f = req.query.find("follow");
  if (f == req.query.end() || f->second == "0" || f->second == "false") {
    // Handed to the client in 64 KiB pieces as it reads, never joined.
    std::size_t length = 0;
    auto next = recent_logs(*which, n, false, true, &length, *kinds);
    return conn.reply_pieces(200, "application/x-ndjson", length, std::move(next));
  }
  // The recent lines first, in pieces as the client reads (a live window:
  // lines printed meanwhile come from it too); then the stream.
  conn.begin_stream("application/x-ndjson", recent_logs(*which, n, true, false, nullptr, *kinds));
  if (conn.closing()) return;
  conn.stream = HttpConnection::Stream::Logs;
  conn.stream_names = sel.names;
  conn.stream_kinds = *kinds;
}

void FrontEnds::http_service_action(HttpConnection& conn, const HttpRequest& req, HttpRouteKind kind) {
  if (http_token_.empty())
    return reply_err(conn, 403, make_error(Code::ProtocolPermission, cfg_.control.http_token_file.empty()
                                                                         ? "mutating HTTP requests need [control].http_token_file"
                                                                         : "no token: http_token_file was unreadable or unsafe at the last reload"));
  if (!bearer_matches(req.authorization, http_token_))
    return reply_err(conn, 403, make_error(Code::ProtocolPermission, "missing or wrong bearer token"));
  if (sup_.shutting_down()) return reply_err(conn, 503, make_error(Code::StateShuttingDown, "procd is shutting down"));
  if (kind == HttpRouteKind::Reload) {
    ReloadOutcome r = sup_.reload("HTTP", false);
    if (r.skipped) return reply_err(conn, 503, make_error(Code::StateShuttingDown, "procd is shutting down"));
    return conn.reply(r.ok ? 200 : 422, kJson, r.ok ? reload_ok_reply(r.diff) : reload_error_reply(r.errors));
  }
  Request sel;
  sel.verb = "http";
  sel.names = {route_request(req.method, req.path).name};
  auto which = sup_.select(sel, false);
  if (!which.ok()) return reply_err(conn, 404, which.error());
  if (auto q = req.query.find("rolling"); kind == HttpRouteKind::ServiceRestart && q != req.query.end() && (q->second == "1" || q->second == "true")) {
    // issue 28: POST /services/NAME/restart?rolling=1; the outcome is an event for NAME.
    auto bound = rolls().begin(sel.names.front(), *which, which->front()->config().replica_group.max_unavailable);
    if (!bound.ok()) return reply_err(conn, 409, bound.error());
    nlohmann::json roll = {{"name", sel.names.front()}, {"instances", which->size()}, {"timeout_ms", *bound}};
    return conn.reply(200, kJson, reply_ok({{"rolls", nlohmann::json::array({roll})}}));
  }
  Service& s = *which->front();
  if (kind == HttpRouteKind::ServiceStart) sup_.start_service(s);
  else if (kind == HttpRouteKind::ServiceStop) sup_.stop_service(s);
  else if (kind == HttpRouteKind::ServiceReload) {  // issue 28: like `procd reload NAME`
    auto way = sup_.reload_service(s);
    if (!way.ok()) return reply_err(conn, 409, way.error());
  } else sup_.restart_service(s);
  conn.reply(200, kJson, reply_ok(service_states_body({{s.name(), phase_name(s.state().phase)}})));
}

void FrontEnds::handle_http(HttpConnection& conn, const HttpRequest& req) {
  HttpRoute route = route_request(req.method, req.path);
  switch (route.kind) {
    case HttpRouteKind::Dashboard: {
      auto all = sup_.select(Request{}, true);
      nlohmann::json initial = {{"status", status_body(status_view(*all))}, {"history", history_json()},
                              {"control", {{"mutating", !http_token_.empty()}}}};  // never the token
      return conn.reply(200, "text/html; charset=utf-8", dashboard_page(initial));
    }
    case HttpRouteKind::Healthz: return conn.reply(200, kText, "ok\n");
    case HttpRouteKind::Readyz: return http_readyz(conn);
    case HttpRouteKind::Metrics:
      if (!metrics_enabled())
        return reply_err(conn, 404, make_error(Code::MetricsDisabled, "metrics are disabled ([monitoring].enable_metrics = false)"));
      return conn.reply(200, "text/plain; version=0.0.4; charset=utf-8", metrics_body());
    case HttpRouteKind::Status:
    case HttpRouteKind::StatusOne: {
      Request sel;
      sel.verb = "status";
      if (route.kind == HttpRouteKind::StatusOne) sel.names = {route.name};
      auto which = sup_.select(sel, true);
      if (!which.ok()) return reply_err(conn, 404, which.error());
      return reply_json(conn, 200, status_body(status_view(*which)));
    }
    case HttpRouteKind::History: return reply_json(conn, 200, history_json());
    case HttpRouteKind::Events: {
      Request sel;
      sel.verb = "events";
      if (auto it = req.query.find("service"); it != req.query.end()) sel.names = split_names(it->second);
      if (auto which = sup_.select(sel, true); !which.ok()) return reply_err(conn, 404, which.error());
      conn.begin_stream("text/event-stream");
      if (conn.closing()) return;
      conn.send(": procd events\n\n");  // a comment: the client sees the stream open before the first change
      conn.stream = HttpConnection::Stream::Events;
      conn.stream_names = sel.names;
      return;
    }
    case HttpRouteKind::Logs: return http_logs(conn, req);
    case HttpRouteKind::ServiceStart:
    case HttpRouteKind::ServiceStop:
    case HttpRouteKind::ServiceRestart:
    case HttpRouteKind::ServiceReload:
    case HttpRouteKind::Reload: return http_service_action(conn, req, route.kind);
    case HttpRouteKind::MethodNotAllowed:
      return conn.reply(405, kText, "method not allowed\n", fmt::format("Allow: {}\r\n", route.allow));
    case HttpRouteKind::NotFound: break;
  }
  conn.reply(404, kText, "not found\n");
}

}  // namespace procd
