// The Supervisor's front ends: the control socket and the HTTP endpoint
// (their listeners' lifetimes, a reload's rebind), what each verb and route
// answers (status, logs, metrics, the dashboard's history), the fan-out of
// events and followed log lines to streaming clients, and resource
// sampling for status and metrics. Requests reach services only through
// the Supervisor's members for users (select, start/stop/restart_service,
// signal_service, reload, begin_shutdown), so the CLI and HTTP can do
// nothing the state machine would not allow, and never change the set of
// services while something iterates over it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "procd/config.hpp"
#include "procd/control_server.hpp"
#include "procd/http_request.hpp"
#include "procd/http_server.hpp"
#include "procd/log_window.hpp"
#include "procd/metrics.hpp"
#include "procd/protocol.hpp"
#include "procd/service_machine.hpp"
#include "procd/timer.hpp"

namespace procd {

class Rolls;
class Service;
class Supervisor;
struct ControlConfig;
struct LogLine;

class FrontEnds {
 public:
  explicit FrontEnds(Supervisor& sup);
  ~FrontEnds();
  Supervisor& sup() { return sup_; }

  // Listeners (supervisor_http.cpp): both open, or neither; a reload rebinds
  // HTTP and re-reads the token file (a failure keeps the old).
  Result<void> open();
  void close();                       // the control socket; HTTP stays for in-flight replies
  void reload_http(const ControlConfig& next);
  void recheck_token(const std::string& source);  // a removed, emptied or unsafe token file revokes the token

  // Fan-out to streaming clients (supervisor_control.cpp).
  void publish_event(Service& svc, Phase phase);
  void publish_log_line(Service& svc, const LogLine& line);
  void publish_item(const std::string& service, const std::string& item);  // an event item (a roll's outcome)
  Rolls& rolls();  // the Supervisor's rolling restarts (rolling_restart.cpp)
  bool logs_followed() const;

  // What control verbs and routes answer.
  StatusView status_view(const std::vector<Service*>& which);
  void send_recent_logs(ControlConnection& conn, const Request& req, const std::vector<Service*>& which);
  std::string metrics_text();
  std::shared_ptr<const std::string> metrics_body();  // the same text, for HTTP
  bool metrics_enabled() const;
  // The last n lines of `which` as log items (protocol.hpp), oldest first,
  // handed out in pieces of StreamConnection::kPieceBytes (a LogWindow over
  // the rings: never whole). `length`: the bytes of the items chosen (HTTP's
  // Content-Length; pad: a reply with skipped lines still has that length).
  // live: lines printed until the last piece come too (a follower catching up).
  StreamConnection::Producer recent_logs(const std::vector<Service*>& which, std::size_t n, bool live, bool pad,
                                         std::size_t* length = nullptr, std::uint8_t kinds = 0,
                                         std::int64_t since_ms = 0);

  // Sampling runs only while tracking is on and some service has a process.
  void update_sampling();

 private:
  void handle_request(ControlConnection& conn, Request req);  // control_verbs.cpp
  void handle_http(HttpConnection& conn, const HttpRequest& req);
  Result<void> start_http();
  void publish_http(HttpConnection::Stream kind, const std::string& service, std::string_view item,
                    const LogLine* line = nullptr);
  nlohmann::json history_json();
  void http_readyz(HttpConnection& conn);
  void http_logs(HttpConnection& conn, const HttpRequest& req);
  void http_service_action(HttpConnection& conn, const HttpRequest& req, HttpRouteKind kind);
  MetricsSnapshot metrics_snapshot();
  void sample_resources();
  struct Chosen {
    const Service* svc;
    std::string name;
  };
  std::vector<RingRef> rings_now(const std::vector<Chosen>& chosen);  // a service removed since: null

  Supervisor& sup_;
  Config& cfg_;                                     // the Supervisor's: replaced by a reload
  std::vector<std::unique_ptr<Service>>& services_;  // the Supervisor's: changed only by settle()
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<HttpServer> http_retired_;  // replaced by a reload; destroyed at the next one (never inside its handler)
  std::string http_token_;                    // empty: no mutating HTTP endpoints
  std::shared_ptr<std::string> metrics_buf_;  // reused by metrics_body()
  Timer sample_timer_;
  Millis sampled_at_ = 0;
  Millis started_at_ = 0;
};

}  // namespace procd
