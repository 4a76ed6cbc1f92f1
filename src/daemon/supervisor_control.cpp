// The front ends' answers (front_ends.hpp) for control verbs
// (control_verbs.cpp) and routes: the status view, recent logs and metrics;
// the Supervisor's selection and signal members; then the event and log
// fan-out to streaming clients, and resource sampling for status and metrics. Requests only ever turn into
// machine events through dispatch(), so the CLI can do nothing the state
// machine would not allow. JSON shapes live in protocol.cpp.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "procd/logging.hpp"
#include "procd/resources.hpp"
#include "procd/self_stats.hpp"
#include "procd_build_info.h"
#include "procd/signal_names.hpp"
#include "procd/spawn.hpp"
#include "procd/front_ends.hpp"
#include "procd/supervisor.hpp"
#include "service_hooks.hpp"

namespace procd {
namespace {

bool wants(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() || std::any_of(names.begin(), names.end(), [&](const std::string& n) { return name_selects(n, name); });
}

}  // namespace

Result<std::vector<Service*>> Supervisor::select(const Request& req, bool empty_means_all) {
  std::vector<Service*> out;
  if (req.all || (req.names.empty() && empty_means_all)) {
    for (auto& s : services_) out.push_back(s.get());
    return out;
  }
  if (req.names.empty()) return make_error(Code::RuntimeUsage, fmt::format("`{}` needs service names or --all", req.verb));
  // NAME selects the service NAME if there is one (instances of an earlier
  // group NAME may still be stopping beside it), else every instance NAME@i.
  for (const auto& n : req.names) {
    bool exact = std::any_of(services_.begin(), services_.end(), [&](auto& s) { return s->name() == n; });
    std::size_t before = out.size();
    for (auto& s : services_)
      if ((exact ? s->name() == n : name_selects(n, s->name())) && std::find(out.begin(), out.end(), s.get()) == out.end())
        out.push_back(s.get());
    if (out.size() == before && !exact) return make_error(Code::ServiceUnknown, fmt::format("no service named \"{}\"", n));
  }
  return out;
}

StatusView FrontEnds::status_view(const std::vector<Service*>& which) {
  Millis t = sup_.now();
  StatusView out{cfg_.name, ::getpid(), t - started_at_, {}};
  for (Service* s : which) {
    const ServiceState& st = s->state();
    const Intent in = s->intent();
    ServiceStatusView v;
    v.name = s->name();
    v.state = phase_name(st.phase);
    v.want_up = st.want == Want::Up;
    v.pid = st.pid > 0 && s->has_process() ? st.pid : 0;  // not while post_stop runs after the run
    v.restarts = st.restarts;
    v.uptime_ms = t - st.spawned_at;
    if (st.last_exit) v.last_exit = ExitView{st.last_exit->code, st.last_exit->signal};
    if (auto h = s->health()) v.health = health_status_name(*h);
    v.status_text = s->status_text();
    v.cpu_percent = s->stats().cpu_percent;
    v.rss_bytes = s->stats().rss_bytes;
    v.cpu_seconds = ticks_to_seconds(s->stats().cpu_ticks);
    v.waiting = in.waiting;
    Reason why = s->reason(t);
    v.condition = why.condition;
    v.reason = why.text;
    v.reason_code = why.code;
    v.cgroup = s->cgroup();
    v.stop_reason = stop_reason_name(st.stop_reason());
    for (const auto& d : s->config().depends_on.as_written()) v.depends_on.push_back(d.service);
    if (const HookRun* h = s->hook_run(); h && h->reload_seq > 0) {
      v.reload_seq = h->reload_seq;
      v.reload_state = h->reload_state;
      v.reload_reason = h->reload_reason;
    }
    out.services.push_back(std::move(v));
  }
  return out;
}

// `procd reload NAME` (issue 28): reload_signal, reload_command, or a restart.
Result<ReloadWay> Supervisor::reload_service(Service& svc) {
  auto way = svc.reload();
  if (way.ok() && *way == ReloadWay::Restart) restart_service(svc);
  return way;
}

void Supervisor::signal_service(Service& svc, int signum) {
  if (svc.state().pid > 0) svc.signal(signum);
}

MetricsSnapshot FrontEnds::metrics_snapshot() {
  Millis t = sup_.now();
  const bool tracked = cfg_.monitoring.track_resources;
  MetricsSnapshot m{PROCD_VERSION, static_cast<double>(t - started_at_) / 1000.0, sup_.counters_, {}, read_self_metrics()};
  m.services.reserve(services_.size());
  for (auto& s : services_) {
    const ServiceState& st = s->state();
    const ServiceStats& stats = s->stats();
    const bool alive = st.pid > 0;
    ServiceMetrics v;
    v.name = s->name();
    v.state = phase_name(st.phase);
    v.restarts = st.restarts;
    v.uptime_seconds = alive ? static_cast<double>(t - st.spawned_at) / 1000.0 : 0.0;
    if (tracked) {
      v.cpu_seconds = ticks_to_seconds(stats.cpu_ticks);
      v.memory_bytes = alive ? stats.rss_bytes : 0;
    }
    if (auto h = s->health()) v.healthy = *h == HealthStatus::Healthy;
    v.spawns = stats.spawns;
    if (st.last_exit) v.last_exit_code = exit_code_of(*st.last_exit);
    v.start = &stats.start_seconds;
    v.stop = stats.stop_seconds.get();  // null: never stopped
    m.services.push_back(v);
  }
  return m;
}

std::string FrontEnds::metrics_text() { return render_metrics(metrics_snapshot()); }

// The buffer is reused while no write holds it (one scrape at a time, the
// usual case): a 2 MB text at N = 1000 is then not faulted in afresh.
std::shared_ptr<const std::string> FrontEnds::metrics_body() {
  if (!metrics_buf_ || metrics_buf_.use_count() > 1) metrics_buf_ = std::make_shared<std::string>();
  metrics_buf_->clear();
  render_metrics(metrics_snapshot(), *metrics_buf_);
  return metrics_buf_;
}

StreamConnection::Producer FrontEnds::recent_logs(const std::vector<Service*>& which, std::size_t n, bool live, bool pad,
                                                  std::size_t* length, std::uint8_t kinds, std::int64_t since_ms) {
  auto chosen = std::make_shared<std::vector<Chosen>>();
  std::vector<RingRef> rings;
  for (Service* s : which) {
    chosen->push_back({s, s->name()});
    rings.push_back({&s->ring(), s->name()});
  }
  auto window = std::make_shared<LogWindow>(rings, n, kMaxLogReplyBytes, live, kinds, since_ms);
  if (length) *length = window->bytes();
  // Pieces are made on later loop turns: the rings are looked up again each time.
  return [this, chosen, window, pad](std::string& out) {
    return window->next(rings_now(*chosen), out, StreamConnection::kPieceBytes, pad);
  };
}

std::vector<RingRef> FrontEnds::rings_now(const std::vector<Chosen>& chosen) {
  std::unordered_set<const Service*> alive;
  alive.reserve(services_.size());
  for (auto& s : services_) alive.insert(s.get());
  std::vector<RingRef> out;
  out.reserve(chosen.size());
  for (const Chosen& c : chosen)
    out.push_back(alive.count(c.svc) && c.svc->name() == c.name ? RingRef{&c.svc->ring(), c.name} : RingRef{nullptr, c.name});
  return out;
}

void FrontEnds::send_recent_logs(ControlConnection& conn, const Request& req, const std::vector<Service*>& which) {
  std::size_t n = 100;
  if (req.args.contains("lines") && req.args["lines"].is_number_integer())
    n = static_cast<std::size_t>(std::max<std::int64_t>(0, req.args["lines"].get<std::int64_t>()));
  bool follow = req.args.contains("follow") && req.args["follow"].is_boolean() && req.args["follow"].get<bool>();
  // "streams": "out,err,procd" (any of them): -n counts those lines only.
  std::optional<std::uint8_t> kinds = 0;
  if (auto it = req.args.find("streams"); it != req.args.end())
    kinds = it->is_string() ? parse_log_kinds(it->get<std::string>()) : std::nullopt;
  if (!kinds)
    return conn.send(reply_error(make_error(Code::ProtocolMalformed, "streams must be a comma list of out, err, procd, hook")));
  // "since_ms": only lines stamped at or after it (wall clock ms).
  std::int64_t since_ms = 0;
  if (auto it = req.args.find("since_ms"); it != req.args.end() && it->is_number_integer()) since_ms = it->get<std::int64_t>();
  // Handed to the client in pieces as it reads; then closed, or (follow) a stream.
  conn.reply_pieces(stream_header(), recent_logs(which, n, follow, false, nullptr, *kinds, since_ms), follow, req.names);
  conn.stream_kinds = *kinds;
}

bool FrontEnds::logs_followed() const {
  return (control_ && control_->has_streams(ControlConnection::Stream::Logs)) ||
         (http_ && http_->has_streams(HttpConnection::Stream::Logs));
}

// One item for both kinds of streaming clients: control socket and HTTP.
void FrontEnds::publish_event(Service& svc, Phase phase) {
  bool to_control = control_ && control_->has_streams(ControlConnection::Stream::Events);
  bool to_http = http_ && http_->has_streams(HttpConnection::Stream::Events);
  if (!to_control && !to_http) return;
  ServiceEventView ev{wall_clock_ms(), svc.name(), phase_name(phase), svc.state().pid > 0 ? svc.state().pid : 0, {}};
  if (auto h = svc.health()) ev.health = health_status_name(*h);
  Reason why = svc.reason(sup_.now(), phase);
  ev.condition = why.condition;
  ev.reason = why.text;
  ev.reason_code = why.code;
  const ServiceState& st = svc.state();
  if (phase != Phase::Starting && phase != Phase::Running) ev.stop_reason = stop_reason_name(st.stop_reason());
  if (st.last_exit && st.spawn_error().empty() && (phase == Phase::Stopped || phase == Phase::Failed || phase == Phase::Restarting))
    ev.exit = ExitView{st.last_exit->code, st.last_exit->signal};
  publish_item(svc.name(), event_item(ev));
}

void FrontEnds::publish_item(const std::string& service, const std::string& item) {
  if (http_ && http_->has_streams(HttpConnection::Stream::Events)) publish_http(HttpConnection::Stream::Events, service, item);
  if (!control_ || !control_->has_streams(ControlConnection::Stream::Events)) return;
  control_->for_each_stream(ControlConnection::Stream::Events, [&](ControlConnection& c) {
    if (wants(c.stream_names, service)) c.send(item);
  });
}

void FrontEnds::publish_log_line(Service& svc, const LogLine& line) {
  bool to_control = control_ && control_->has_streams(ControlConnection::Stream::Logs);
  bool to_http = http_ && http_->has_streams(HttpConnection::Stream::Logs);
  if (!to_control && !to_http) return;
  std::string item = log_item({line.ts_ms, svc.name(), line.is_stderr, line.text, line.partial, line.is_procd, line.is_hook});
  if (to_http) publish_http(HttpConnection::Stream::Logs, svc.name(), item, &line);
  if (!to_control) return;
  control_->for_each_stream(ControlConnection::Stream::Logs, [&](ControlConnection& c) {
    if (wants(c.stream_names, svc.name()) && log_kind_wanted(c.stream_kinds, line)) c.send(item);
  });
}

// Sampling runs only while tracking is on and some service has a process:
// an idle procd with nothing running has no timer at all.
void FrontEnds::update_sampling() {
  if (!cfg_.monitoring.track_resources || !sample_timer_.initialized()) return;
  bool any = std::any_of(services_.begin(), services_.end(), [](auto& s) { return s->state().pid > 0; });
  bool active = sample_timer_.is_active();
  if (any && !active) {
    auto period = static_cast<uint64_t>(std::max<Millis>(100, cfg_.monitoring.metrics_interval_ms));
    sample_resources();
    sample_timer_.schedule_repeating(static_cast<Millis>(period));
  } else if (!any && active) {
    sample_timer_.cancel();
  }
}

void FrontEnds::sample_resources() {
  Millis t = sup_.now();
  Millis elapsed = t - sampled_at_;
  auto groups = sample_all_groups();
  for (auto& s : services_) {
    auto it = groups.find(s->pgid());
    s->sample(t, elapsed, sampled_at_ == 0, it == groups.end() ? GroupUsage{} : it->second);
  }
  sampled_at_ = t;
}

std::vector<ServiceSnapshot> Supervisor::snapshot() const {
  std::vector<ServiceSnapshot> out;
  out.reserve(services_.size());
  for (const auto& s : services_)
  {
    Intent in = s->intent();
    out.push_back(ServiceSnapshot{s->name(), s->state().phase, in.want, s->state().pid, s->pgid(), s->has_process(),
                                  in.removing, in.waiting});
  }
  return out;
}

}  // namespace procd
