// The control verbs (see control_verbs.hpp): one small handler per verb and
// the table that names them. Handlers validate the request, call the
// Supervisor's control members, and send exactly one reply (or a stream
// header); they never touch service state directly. Unknown verbs get
// ProtocolUnknownVerb (parse_request already refuses them; the table is the
// second line of defence, so a verb added to the protocol without a row
// fails loudly, not silently).
#include "procd/control_verbs.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <array>
#include <utility>

#include "procd/signal_names.hpp"
#include "procd/front_ends.hpp"
#include "procd/supervisor.hpp"
#include "rolling_restart.hpp"
#include "service_hooks.hpp"

namespace procd {
namespace {

Error shutting_down_error() { return make_error(Code::StateShuttingDown, "procd is shutting down"); }

void verb_ping(FrontEnds& front, ControlConnection& conn, const Request&) {
  conn.send(reply_ok({{"pid", ::getpid()}, {"name", front.sup().name()}}));
}

void verb_status(FrontEnds& front, ControlConnection& conn, const Request& req) {
  auto which = front.sup().select(req, true);
  if (!which.ok()) return conn.send(reply_error(which.error()));
  conn.send(reply_ok(status_body(front.status_view(*which))));
}

// start / stop / restart share selection and the reply; only the action differs.
template <void (Supervisor::*action)(Service&)>
void verb_service_action(FrontEnds& front, ControlConnection& conn, const Request& req) {
  if (front.sup().shutting_down()) return conn.send(reply_error(shutting_down_error()));
  auto which = front.sup().select(req, false);
  if (!which.ok()) return conn.send(reply_error(which.error()));
  if (action != static_cast<void (Supervisor::*)(Service&)>(&Supervisor::stop_service))
    for (Service* s : *which)
      if (s->intent().removing)
        return conn.send(reply_error(make_error(
            Code::ServiceUnknown, fmt::format("service \"{}\" was removed by a reload (its last run is stopping)", s->name()))));
  std::vector<std::pair<std::string, std::string>> states;
  for (Service* s : *which) {
    (front.sup().*action)(*s);
    states.emplace_back(s->name(), phase_name(s->state().phase));
  }
  conn.send(reply_ok(service_states_body(states)));
}

// `restart NAME... "rolling": true` (issue 28): one roll per NAME over
// the instances it selects; the reply says how long each may take, and the
// outcome comes as an event for NAME ("rolled" or "roll-stopped").
void verb_restart(FrontEnds& front, ControlConnection& conn, const Request& req) {
  auto it = req.args.find("rolling");
  if (it == req.args.end() || !it->is_boolean() || !it->get<bool>())
    return verb_service_action<&Supervisor::restart_service>(front, conn, req);
  if (front.sup().shutting_down()) return conn.send(reply_error(shutting_down_error()));
  if (req.all || req.names.empty())
    return conn.send(reply_error(make_error(Code::RuntimeUsage, "a rolling restart needs service names")));
  nlohmann::json rolls = nlohmann::json::array();
  for (const auto& name : req.names) {
    Request one{req.version, req.verb, {name}, false, {}};
    auto which = front.sup().select(one, false);
    if (!which.ok()) return conn.send(reply_error(which.error()));
    int max_unavailable = 1;
    for (Service* s : *which) {
      if (s->intent().removing)
        return conn.send(reply_error(make_error(Code::ServiceUnknown, fmt::format("service \"{}\" was removed by a reload", s->name()))));
      max_unavailable = s->config().replica_group.max_unavailable;
    }
    auto bound = front.rolls().begin(name, *which, max_unavailable);
    if (!bound.ok()) return conn.send(reply_error(bound.error()));
    rolls.push_back({{"name", name}, {"instances", which->size()}, {"timeout_ms", *bound}});
  }
  conn.send(reply_ok({{"rolls", std::move(rolls)}}));
}

void verb_signal(FrontEnds& front, ControlConnection& conn, const Request& req) {
  auto it = req.args.find("signal");
  auto sig = it != req.args.end() && it->is_string() ? parse_signal(it->get<std::string>()) : std::nullopt;
  if (!sig) return conn.send(reply_error(make_error(Code::SignalUnknown, "missing or unknown \"signal\"")));
  auto which = front.sup().select(req, false);
  if (!which.ok()) return conn.send(reply_error(which.error()));
  for (Service* s : *which) front.sup().signal_service(*s, *sig);
  conn.send(reply_ok());
}

void verb_logs(FrontEnds& front, ControlConnection& conn, const Request& req) {
  auto which = front.sup().select(req, true);
  if (!which.ok()) return conn.send(reply_error(which.error()));
  front.send_recent_logs(conn, req, *which);
}

void verb_events(FrontEnds& front, ControlConnection& conn, const Request& req) {
  auto which = front.sup().select(req, true);  // only to refuse unknown names
  if (!which.ok()) return conn.send(reply_error(which.error()));
  conn.send(stream_header());
  conn.stream = ControlConnection::Stream::Events;
  conn.stream_names = req.names;
}

void verb_metrics(FrontEnds& front, ControlConnection& conn, const Request&) {
  if (!front.metrics_enabled())
    return conn.send(reply_error(make_error(Code::MetricsDisabled, "metrics are disabled ([monitoring].enable_metrics = false)")));
  conn.send(reply_ok({{"text", front.metrics_text()}}));
}

const char* reload_way_name(ReloadWay way) {
  return way == ReloadWay::Signal ? "signal" : way == ReloadWay::Command ? "command" : "restart";
}

// `procd reload NAME...` (issue 28): each service's reload_signal or
// reload_command, or a restart; the first that cannot be reloaded answers.
void verb_reload_services(FrontEnds& front, ControlConnection& conn, const Request& req) {
  auto which = front.sup().select(req, false);
  if (!which.ok()) return conn.send(reply_error(which.error()));
  nlohmann::json out = nlohmann::json::array();
  for (Service* s : *which) {
    if (s->intent().removing)
      return conn.send(reply_error(make_error(Code::ServiceUnknown, fmt::format("service \"{}\" was removed by a reload", s->name()))));
    auto way = front.sup().reload_service(*s);
    if (!way.ok()) return conn.send(reply_error(way.error()));
    const HookRun* h = s->hook_run();
    out.push_back({{"name", s->name()}, {"state", phase_name(s->state().phase)}, {"reload", reload_way_name(*way)},
                   {"seq", h ? h->reload_seq : 0}});
  }
  conn.send(reply_ok({{"services", std::move(out)}}));
}

void verb_reload(FrontEnds& front, ControlConnection& conn, const Request& req) {
  if (!req.names.empty()) {
    if (front.sup().shutting_down()) return conn.send(reply_error(shutting_down_error()));
    return verb_reload_services(front, conn, req);
  }
  ReloadOutcome r = front.sup().reload("procd reload", false);
  if (r.skipped) return conn.send(reply_error(shutting_down_error()));
  conn.send(r.ok ? reload_ok_reply(r.diff) : reload_error_reply(r.errors));
}

// The reply goes out first: begin_shutdown may close the control server.
void verb_shutdown(FrontEnds& front, ControlConnection& conn, const Request&) {
  conn.send(reply_ok({{"pid", ::getpid()}}));
  front.sup().begin_shutdown(ShutdownReason::Requested);
}

struct VerbRow {
  std::string_view verb;
  VerbHandler handler;
};

constexpr std::array<VerbRow, 11> kVerbTable = {{
    {"ping", verb_ping},
    {"status", verb_status},
    {"start", verb_service_action<&Supervisor::start_service>},
    {"stop", verb_service_action<&Supervisor::stop_service>},
    {"restart", verb_restart},
    {"signal", verb_signal},
    {"logs", verb_logs},
    {"events", verb_events},
    {"reload", verb_reload},
    {"metrics", verb_metrics},
    {"shutdown", verb_shutdown},
}};

}  // namespace

VerbHandler find_verb_handler(std::string_view verb) {
  for (const auto& row : kVerbTable)
    if (row.verb == verb) return row.handler;
  return nullptr;
}

void FrontEnds::handle_request(ControlConnection& conn, Request req) {
  if (VerbHandler handler = find_verb_handler(req.verb)) return handler(*this, conn, req);
  conn.send(reply_error(make_error(Code::ProtocolUnknownVerb, fmt::format("unknown verb \"{}\"", req.verb))));
}

}  // namespace procd
