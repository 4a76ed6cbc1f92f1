// `procd top`'s side of the connection to procd (src/cli/top_session.cpp):
// the events stream, the followed logs of the selected service, the latest
// status snapshot, and the verbs the keys ask for, over a TopLink (the
// control socket or the HTTP endpoint). Private to src/cli; the loop is in top.cpp. Invariants: a stream that fails or ends is dropped
// (its client reset), never read again; a verb's error comes back as the
// status line's text, `error[NNNN]: ...`, with its code first.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "procd/top_model.hpp"
#include "procd/top_screen.hpp"
#include "top_link.hpp"

namespace procd::cli {

class TopSession {
 public:
  explicit TopSession(std::unique_ptr<TopLink> link) : link_(std::move(link)) {}

  // Connect, subscribe to events, take a snapshot. False when procd does
  // not answer (last_error() says why).
  bool connect();
  const Error& last_error() const { return last_error_; }
  std::string where() const { return link_->where(); }
  bool connected() const { return events_ != nullptr; }
  void disconnect();
  // A new status snapshot; false (and disconnected) when procd went away.
  bool refresh();
  // Follow `service`'s logs (its last lines, then new ones); "" follows none.
  void follow(const std::string& service, TopModel& model);
  int events_fd() const { return events_ ? events_->fd() : -1; }
  int logs_fd() const { return logs_ ? logs_->fd() : -1; }
  // Everything waiting on the events stream; false when it ended (procd went away).
  bool drain_events();
  // Every log line waiting, into the model; the stream dropped when it ends.
  void drain_logs(TopModel& model);
  // Carry out a verb; the text for the status line.
  std::string run(const TopCommand& cmd);
  // The lines the last verb has to show besides (a refused reload's errors).
  std::vector<std::string> take_notice() { return std::exchange(notice_, {}); }

  const nlohmann::json& status() const { return status_; }
  bool any_process() const;
  // The frame for the screen: the header, the shown services' rows (uptime
  // advanced by the time since the snapshot; in the tree, the NAME cell
  // drawn with its glyphs, ASCII ones when `ascii`), the log pane's title.
  TopFrame frame(const TopModel& model, bool ascii) const;
  // Every service's depends_on from the snapshot (the tree).
  TopDepends depends_on() const;

 private:
  std::string reload();
  void digest();
  struct Row {
    StatusRow row;
    long long uptime_ms;  // at the snapshot; -1 without a process
  };
  std::unique_ptr<TopLink> link_;
  std::unique_ptr<TopStream> events_, logs_;
  Error last_error_{Code::ControlUnreachable, {}, std::nullopt, {}};
  std::string followed_;
  nlohmann::json status_ = nlohmann::json::object();
  std::chrono::steady_clock::time_point taken_{};
  std::map<std::string, Row> rows_;         // by name, from the last snapshot
  std::string header_head_, header_tail_;
  std::vector<std::string> notice_;  // the header around its uptime
};

}  // namespace procd::cli
