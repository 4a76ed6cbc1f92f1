// TopSession: see top_session.hpp. Requests are the ones the other commands
// send (status, start, stop, restart, signal, reload, logs with follow,
// events), so `procd top` adds nothing to the supervisor. Service output is
// escaped for the terminal before it reaches the model (tabs become spaces,
// so a line's columns are known).
#include "top_session.hpp"

#include <fmt/format.h>

#include <map>

#include "control_internal.hpp"
#include "procd/terminal_escape.hpp"

namespace procd::cli {

using json = nlohmann::json;

namespace {

constexpr int kLogLinesAtStart = 200;

std::string names_list(const json& body, const char* key) {
  std::string list;
  for (const auto& n : list_of(body, key))
    if (n.is_string()) list += (list.empty() ? "" : ", ") + n.get<std::string>();
  return list.empty() ? "-" : list;
}

// "12:03:04" from "2026-12-06T12:03:04.123Z"; the whole field otherwise.
std::string clock_part(const std::string& ts) {
  auto t = ts.find('T');
  return t != std::string::npos && ts.size() >= t + 9 ? ts.substr(t + 1, 8) : ts;
}

}  // namespace

bool TopSession::connect() {
  auto ev = link_->events();
  if (!ev.ok()) {
    last_error_ = ev.error();
    return false;
  }
  events_ = std::move(*ev);
  followed_.clear();
  return drain_events() && refresh();
}

void TopSession::disconnect() {
  events_.reset();
  logs_.reset();
}

bool TopSession::refresh() {
  auto body = link_->status();
  if (!body.ok()) {
    last_error_ = body.error();
    if (link_->lost(body.error())) disconnect();
    return false;
  }
  status_ = std::move(*body);
  taken_ = std::chrono::steady_clock::now();
  digest();
  return true;
}

bool TopSession::any_process() const {
  for (const auto& s : list_of(status_, "services"))
    if (pid_of(s) > 0) return true;
  return false;
}

void TopSession::follow(const std::string& service, TopModel& model) {
  logs_.reset();
  model.clear_logs();
  followed_ = service;
  if (service.empty() || !events_) return;
  auto s = link_->logs(service, kLogLinesAtStart);
  if (!s.ok()) {
    if (!link_->lost(s.error())) model.set_message(s.error().format());
    return;
  }
  logs_ = std::move(*s);
  // The first lines may have come with the header: already read, poll() would not tell.
  drain_logs(model);
}

bool TopSession::drain_events() {
  if (!events_) return false;
  for (;;) {
    auto item = events_->next();
    if (!item.ok()) {
      last_error_ = item.error();
      disconnect();
      return false;
    }
    if (!*item) return true;
  }
}

void TopSession::drain_logs(TopModel& model) {
  while (logs_) {
    auto item = logs_->next();
    if (!item.ok()) {
      logs_.reset();
      model.add_log_line({"(the log stream ended)", '~'});
      return;
    }
    if (!*item) return;
    const json& it = **item;
    if (auto k = it.find("skipped"); k != it.end() && k->is_number_unsigned()) {
      model.add_log_line({fmt::format("{} lines left the ring before they were sent", k->get<std::uint64_t>()), '~'});
      continue;
    }
    std::string stream = str_of(it, "stream");
    std::string text = escape_for_terminal(clock_part(str_of(it, "ts"))) + " ";
    for (char c : escape_for_terminal(log_item_bytes(it))) text += c == '\t' ? ' ' : c;
    model.add_log_line({std::move(text), stream == "procd" ? '~' : stream == "stderr" ? '!' : '|'});
  }
}

std::string TopSession::run(const TopCommand& cmd) {
  switch (cmd.verb) {
    case TopVerb::Start:
    case TopVerb::Stop:
    case TopVerb::Restart: {
      const char* verb = cmd.verb == TopVerb::Start ? "start" : cmd.verb == TopVerb::Stop ? "stop" : "restart";
      auto r = link_->verb(verb, cmd.service, {});
      return !r.ok() ? r.error().format() : !r->ok ? r->error.format() : fmt::format("{} {}: asked", verb, cmd.service);
    }
    case TopVerb::Signal: {
      auto r = link_->verb("signal", cmd.service, cmd.signal);
      return !r.ok() ? r.error().format() : !r->ok ? r->error.format() : fmt::format("sent SIG{} to {}", cmd.signal, cmd.service);
    }
    case TopVerb::Reload: return reload();
    default: return {};
  }
}

std::string TopSession::reload() {
  auto r = link_->verb("reload", {}, {});
  if (!r.ok()) return r.error().format();
  if (r->ok) {
    std::string restart = names_list(r->body, "needs_restart");
    return fmt::format("reload: added {}; removed {}; changed {}; kept {}{}", names_list(r->body, "added"),
                       names_list(r->body, "removed"), names_list(r->body, "changed"), names_list(r->body, "kept"),
                       restart == "-" ? "" : "; not applied until procd restarts: " + restart);
  }
  // Every located error in the pane, the first in the status line, code
  // first and the file without its folder so that it shows on a narrow screen.
  const json& errors = list_of(r->body, "errors");
  if (errors.empty()) return r->error.format();
  notice_ = {fmt::format("The reload was refused ({} error{}); procd runs the config it had:", errors.size(),
                         errors.size() == 1 ? "" : "s")};
  std::string first;
  for (const auto& e : errors) {
    std::string where = str_of(e, "file");
    if (auto slash = where.rfind('/'); slash != std::string::npos) where.erase(0, slash + 1);
    if (int_of(e, "line") > 0) where += fmt::format(":{}", int_of(e, "line"));
    if (int_of(e, "column") > 0) where += fmt::format(":{}", int_of(e, "column"));
    std::string key = str_of(e, "key");
    std::string line = escape_for_terminal(fmt::format("error[{}]: {}: {}{}", int_of(e, "code"), where,
                                                       key.empty() ? "" : key + ": ", str_of(e, "message")));
    notice_.push_back("  " + line);
    if (first.empty()) first = line;
  }
  std::string more = errors.size() > 1 ? fmt::format(" (+{} more)", errors.size() - 1) : "";
  return fmt::format("error[{}]: reload refused{}: {}", int_of(errors[0], "code"), more, first.substr(first.find(": ") + 2));
}

void TopSession::digest() {
  // Once per snapshot, so that a tick only advances the uptimes.
  rows_.clear();
  std::map<std::string, int> counts;
  for (const auto& s : list_of(status_, "services")) {
    Row r{status_row_of(s), pid_of(s) > 0 ? int_of(s, "uptime_ms", -1) : -1};
    rows_.emplace(str_of(s, "name"), std::move(r));
    std::string cond = str_of(s, "condition");
    ++counts[cond.empty() ? str_of(s, "state") : cond];
  }
  std::string summary;
  for (const auto& [state, n] : counts) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, state);
  std::size_t n = list_of(status_, "services").size();
  std::string name = str_of(status_, "name");
  header_head_ = fmt::format("procd top  {}pid {}  up ", name.empty() ? "" : escape_for_terminal(name) + "  ", int_of(status_, "pid"));
  header_tail_ = fmt::format("  {} service{}{}{}", n, n == 1 ? "" : "s", summary.empty() ? "" : ": ", summary);
}

TopDepends TopSession::depends_on() const {
  TopDepends deps;
  for (const auto& s : list_of(status_, "services")) {
    auto& d = deps[str_of(s, "name")];
    for (const auto& n : list_of(s, "depends_on"))  // absent from an older procd: no tree
      if (n.is_string()) d.push_back(n.get<std::string>());
  }
  return deps;
}

TopFrame TopSession::frame(const TopModel& model, bool ascii) const {
  TopFrame f;
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - taken_).count();
  const auto& tree = model.tree_rows();
  for (std::size_t i = 0; i < model.shown().size(); ++i) {
    auto it = rows_.find(model.shown()[i]);
    if (it == rows_.end()) continue;
    f.rows.push_back(it->second.row);
    if (i < tree.size()) f.rows.back().name = top_tree_label(tree[i], ascii);
    if (it->second.uptime_ms >= 0) f.rows.back().uptime = duration_text(it->second.uptime_ms + elapsed);
  }
  f.header = header_head_ + duration_text(int_of(status_, "uptime_ms") + (events_ ? elapsed : 0)) + header_tail_;
  f.reconnecting = !events_;
  std::string scrolled = model.log_scroll() ? fmt::format("  [{} lines back; End: newest]", model.log_scroll()) : "";
  f.pane_title = model.selected().empty() ? "logs: (no service selected)"
                                          : fmt::format("logs: {}  (| out, ! err, ~ procd){}", escape_for_terminal(model.selected()), scrolled);
  return f;
}

}  // namespace procd::cli
