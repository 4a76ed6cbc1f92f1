// HealthChecker::Impl, the state of one checker, shared by health.cpp (the
// schedule, the one completion path, command checks) and health_http.cpp
// (tcp and http checks on the loop). Invariants:
//  * one check at a time; `gen` names the current one, and anything that
//    reports with another generation (a late child exit, a connect after a
//    timeout) is ignored;
//  * `timer` is the check's timeout while one is in flight, else the
//    interval to the next one: nothing polls;
//  * finish() is the one completion path, and on_change its last statement
//    (the owner may destroy the checker from inside it).
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/types.h>
#include <vector>

#include "procd/health.hpp"
#include "procd/http_reply_reader.hpp"
#include "procd/timer.hpp"
#include "procd/uv_handle.hpp"

namespace procd {

namespace health_detail {
struct Resolve {
  uv_getaddrinfo_t req;
  HealthChecker::Impl* owner;
};
}  // namespace health_detail

struct HealthChecker::Impl {
  uv_loop_t* loop;
  HealthConfig cfg;
  HealthContext ctx;
  ChildReaper& reaper;
  OnChange on_change;

  HealthStatus status = HealthStatus::Unknown;
  std::string detail;
  int failures = 0;
  bool running = false;
  bool in_flight = false;
  std::uint64_t gen = 0;
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  Timer timer;

  // tcp / http
  std::string host, path;
  int port = 0;
  std::string target_error;  // non-empty: the target could not be parsed
  UvHandle<uv_tcp_t> tcp;
  health_detail::Resolve* resolving = nullptr;
  std::vector<sockaddr_storage> addrs;
  size_t next_addr = 0;
  std::string connect_error;
  std::optional<HttpReplyReader> response;  // one per http check, in Status mode
  char readbuf[8192];

  // command
  pid_t child = -1;

  Impl(uv_loop_t* l, HealthConfig c, HealthContext x, ChildReaper& r, OnChange cb);

  // health.cpp
  void arm(std::int64_t ms);
  void on_timer();
  void cancel_io();
  void finish(std::uint64_t g, bool ok, std::string what);
  void begin();
  void run_command();
  void on_child_exit(std::uint64_t g, int code, int sig);

  // health_http.cpp
  std::string where() const;
  void resolve();
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
  void connect_next();
  static void on_connected(uv_connect_t* req, int status);
  void send_request();
  void on_read(ssize_t n, const char* data);
};

}  // namespace procd
