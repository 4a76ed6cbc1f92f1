// Health checks: the pure URL / host:port parsers, and tcp / http checkers
// against listeners on 127.0.0.1 in the same process, driven by a uv loop
// bounded by a timer (no sleeps, no forks; command checks are covered by the
// integration tests). Every test ends with uv_loop_close() == 0: all handles
// the checker opened were closed.
#include <doctest/doctest.h>

#include "test_loop.hpp"
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "procd/health.hpp"
#include "procd/health_target.hpp"
#include "procd/system_calls.hpp"

using namespace procd;

namespace {


struct NoReaper : ChildReaper {
  void watch_child(pid_t, std::function<void(int, int)>) override {}
};

// A plain listening socket: the kernel completes connects into the backlog.
struct Listener {
  int fd = -1;
  int port = 0;
  explicit Listener(bool listening = true) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (listening) ::listen(fd, 8);
  }
  ~Listener() { ::close(fd); }
};

// A tiny HTTP server in the test's loop: reads the request head, then
// replies, stays silent, or hangs up.
struct HttpStub {
  enum Mode { Reply, Silent, HangUp };
  struct Conn {
    uv_tcp_t h;
    HttpStub* stub;
    std::string in;
  };
  Mode mode;
  std::string reply;
  std::string request;
  int requests = 0;
  int port = 0;
  uv_tcp_t* server;
  std::set<Conn*> conns;

  HttpStub(uv_loop_t* loop, Mode m, std::string r = {}) : mode(m), reply(std::move(r)) {
    server = new uv_tcp_t;
    uv_tcp_init(loop, server);
    server->data = this;
    sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    REQUIRE(uv_tcp_bind(server, reinterpret_cast<sockaddr*>(&a), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(server), 8, on_connection) == 0);
    int len = sizeof a;
    uv_tcp_getsockname(server, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~HttpStub() {
    for (Conn* c : conns) {
      c->stub = nullptr;
      close_conn(c);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(server), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  }

  static void close_conn(Conn* c) {
    auto* h = reinterpret_cast<uv_handle_t*>(&c->h);
    if (uv_is_closing(h)) return;
    uv_close(h, [](uv_handle_t* x) {
      auto* conn = static_cast<Conn*>(x->data);
      if (conn->stub) conn->stub->conns.erase(conn);
      delete conn;
    });
  }

  static void on_connection(uv_stream_t* s, int status) {
    if (status < 0) return;
    auto* self = static_cast<HttpStub*>(s->data);
    auto* c = new Conn{{}, self, {}};
    uv_tcp_init(s->loop, &c->h);
    c->h.data = c;
    self->conns.insert(c);
    if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->h)) != 0) return close_conn(c);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->h),
        [](uv_handle_t*, size_t size, uv_buf_t* b) { *b = uv_buf_init(new char[size], static_cast<unsigned>(size)); },
        [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
          std::unique_ptr<char[]> hold(b->base);
          auto* conn = static_cast<Conn*>(st->data);
          if (n < 0) return close_conn(conn);
          conn->in.append(b->base, static_cast<size_t>(n));
          if (conn->in.find("\r\n\r\n") == std::string::npos || !conn->stub) return;
          HttpStub* stub = conn->stub;
          stub->request = conn->in;
          ++stub->requests;
          uv_read_stop(st);
          if (stub->mode == HangUp) return close_conn(conn);
          if (stub->mode == Silent) return;
          auto* w = new uv_write_t;
          uv_buf_t out = uv_buf_init(stub->reply.data(), static_cast<unsigned>(stub->reply.size()));
          uv_write(w, st, &out, 1, [](uv_write_t* req, int) {
            close_conn(static_cast<Conn*>(req->handle->data));
            delete req;
          });
        });
  }
};

HealthConfig config(HealthKind kind, std::string target, int retries = 1) {
  HealthConfig c;
  c.kind = kind;
  c.target = std::move(target);
  REQUIRE(parse_health_target(c).ok());  // as load_config does
  c.interval_ms = 1000;
  c.timeout_ms = 500;
  c.retries = retries;
  return c;
}

struct Changes {
  std::vector<HealthStatus> seen;
  std::string detail;
  HealthChecker::OnChange cb() {
    return [this](HealthStatus s, const std::string& d) {
      seen.push_back(s);
      detail = d;
    };
  }
};

}  // namespace

TEST_CASE("health_status_name") {
  CHECK(std::string(health_status_name(HealthStatus::Healthy)) == "healthy");
  CHECK(std::string(health_status_name(HealthStatus::Unhealthy)) == "unhealthy");
  CHECK(std::string(health_status_name(HealthStatus::Unknown)) == "unknown");
}

TEST_CASE("parse_http_url") {
  auto t = parse_http_url("http://127.0.0.1:8080/healthz");
  REQUIRE(t.ok());
  CHECK(t->host == "127.0.0.1");
  CHECK(t->port == 8080);
  CHECK(t->path == "/healthz");

  t = parse_http_url("http://localhost");
  REQUIRE(t.ok());
  CHECK(t->host == "localhost");
  CHECK(t->port == 80);
  CHECK(t->path == "/");

  t = parse_http_url("http://[::1]:8080/status?verbose=1#frag");
  REQUIRE(t.ok());
  CHECK(t->host == "::1");
  CHECK(t->port == 8080);
  CHECK(t->path == "/status?verbose=1");

  t = parse_http_url("HTTP://example.com?x=1");
  REQUIRE(t.ok());
  CHECK(t->host == "example.com");
  CHECK(t->path == "/?x=1");

  t = parse_http_url("http://[::1]/");
  REQUIRE(t.ok());
  CHECK(t->port == 80);

  auto https = parse_http_url("https://127.0.0.1/healthz");
  REQUIRE_FALSE(https.ok());
  CHECK(https.error().message.find("https") != std::string::npos);

  for (const char* bad : {"", "garbage", "127.0.0.1:8080", "ftp://host/", "http://", "http://:80/", "http://host:0/",
                          "http://host:65536/", "http://host:80x/", "http://::1:8080/", "http://[::1/", "http://u:p@host/",
                          "http://host/a b", "http://host:/"}) {
    CAPTURE(bad);
    auto r = parse_http_url(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().code == Code::ConfigInvalidValue);
  }
}

TEST_CASE("parse_host_port") {
  auto p = parse_host_port("127.0.0.1:5432");
  REQUIRE(p.ok());
  CHECK(p->first == "127.0.0.1");
  CHECK(p->second == 5432);
  p = parse_host_port("[::1]:5432");
  REQUIRE(p.ok());
  CHECK(p->first == "::1");
  CHECK(p->second == 5432);
  p = parse_host_port("localhost:65535");
  REQUIRE(p.ok());
  CHECK(p->first == "localhost");
  CHECK(p->second == 65535);
  for (const char* bad : {"", "localhost", ":5432", "host:", "host:0", "host:99999", "host:-1", "::1:5432", "[::1]",
                          "[::1]5432", "[host]:80", "a b:80"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_host_port(bad).ok());
  }
}

TEST_CASE("tcp check: healthy against a listening socket, by address and by name") {
  TestLoop tl;
  NoReaper reaper;
  Listener l;
  for (std::string host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    Changes ch;
    auto cfg = config(HealthKind::Tcp, host + ":" + std::to_string(l.port));
    cfg.timeout_ms = 3000;  // name resolution loads NSS modules: slow under valgrind
    HealthChecker hc(&tl.loop, cfg, {}, reaper, ch.cb());
    CHECK(hc.status() == HealthStatus::Unknown);
    hc.start();
    REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }, 4000));
    CAPTURE(ch.detail);
    CHECK(ch.seen == std::vector{HealthStatus::Healthy});
    CHECK(hc.status() == HealthStatus::Healthy);
    CHECK(hc.last_detail().find("connected") != std::string::npos);
  }
}

TEST_CASE("tcp check: a closed port is unhealthy after `retries` consecutive failures") {
  TestLoop tl;
  NoReaper reaper;
  Listener closed(false);  // bound, not listening: connection refused
  std::string target = "127.0.0.1:" + std::to_string(closed.port);

  Changes ch;
  HealthChecker hc(&tl.loop, config(HealthKind::Tcp, target, 1), {}, reaper, ch.cb());
  hc.start();
  REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
  CHECK(ch.seen == std::vector{HealthStatus::Unhealthy});
  CHECK(ch.detail.find("connect " + target) != std::string::npos);
  CHECK(ch.detail.find("refused") != std::string::npos);

  auto cfg = config(HealthKind::Tcp, target, 2);
  cfg.interval_ms = 1;
  Changes ch2;
  HealthChecker hc2(&tl.loop, cfg, {}, reaper, ch2.cb());
  hc2.start();
  REQUIRE(tl.run_until([&] { return !hc2.last_detail().empty(); }));
  CHECK(hc2.status() == HealthStatus::Unknown);  // one failure is not enough
  CHECK(ch2.seen.empty());
  REQUIRE(tl.run_until([&] { return !ch2.seen.empty(); }));
  CHECK(ch2.seen == std::vector{HealthStatus::Unhealthy});
}

TEST_CASE("tcp check: a config whose target was never parsed fails without connecting") {
  TestLoop tl;
  NoReaper reaper;
  HealthConfig cfg;  // built by hand, not by load_config: host and port are unset
  cfg.kind = HealthKind::Tcp;
  cfg.target = "127.0.0.1:1";
  cfg.retries = 1;
  Changes ch;
  HealthChecker hc(&tl.loop, cfg, {}, reaper, ch.cb());
  hc.start();
  REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
  CHECK(ch.seen == std::vector{HealthStatus::Unhealthy});
  CHECK(ch.detail.find("no tcp target parsed") != std::string::npos);
}

TEST_CASE("tcp check: the owner may destroy the checker from on_change") {
  TestLoop tl;
  NoReaper reaper;
  Listener closed(false);
  std::unique_ptr<HealthChecker> hc;
  int calls = 0;
  hc = std::make_unique<HealthChecker>(&tl.loop, config(HealthKind::Tcp, "127.0.0.1:" + std::to_string(closed.port)),
                                       HealthContext{}, reaper, [&](HealthStatus, const std::string&) {
                                         ++calls;
                                         hc.reset();
                                       });
  hc->start();
  REQUIRE(tl.run_until([&] { return calls > 0; }));
  CHECK(calls == 1);
  CHECK_FALSE(hc);
}

TEST_CASE("http check: 200 is healthy, 503 unhealthy, with a well-formed request") {
  TestLoop tl;
  NoReaper reaper;
  {
    HttpStub ok(&tl.loop, HttpStub::Reply, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    Changes ch;
    HealthChecker hc(&tl.loop, config(HealthKind::Http, "http://127.0.0.1:" + std::to_string(ok.port) + "/healthz"), {},
                     reaper, ch.cb());
    hc.start();
    REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
    CHECK(ch.seen == std::vector{HealthStatus::Healthy});
    CHECK(ch.detail == "HTTP 200");
    CHECK(ok.request.rfind("GET /healthz HTTP/1.1\r\n", 0) == 0);
    CHECK(ok.request.find("\r\nHost: 127.0.0.1:" + std::to_string(ok.port) + "\r\n") != std::string::npos);
    CHECK(ok.request.find("\r\nConnection: close\r\n") != std::string::npos);
  }
  {
    HttpStub down(&tl.loop, HttpStub::Reply,
                  "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\ndown");
    Changes ch;
    HealthChecker hc(&tl.loop, config(HealthKind::Http, "http://127.0.0.1:" + std::to_string(down.port) + "/"), {}, reaper,
                     ch.cb());
    hc.start();
    REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
    CHECK(ch.seen == std::vector{HealthStatus::Unhealthy});
    CHECK(ch.detail == "HTTP 503");
  }
  {
    HttpStub redirect(&tl.loop, HttpStub::Reply, "HTTP/1.0 302 Found\r\nLocation: /x\r\n\r\n");
    Changes ch;
    HealthChecker hc(&tl.loop, config(HealthKind::Http, "http://127.0.0.1:" + std::to_string(redirect.port)), {}, reaper,
                     ch.cb());
    hc.start();
    REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
    CHECK(ch.seen == std::vector{HealthStatus::Healthy});
  }
}

TEST_CASE("http check: garbage, a hang-up and silence are failures") {
  TestLoop tl;
  NoReaper reaper;
  struct Case {
    HttpStub::Mode mode;
    std::string reply;
    std::string detail;
  };
  for (const auto& c : {Case{HttpStub::Reply, "SSH-2.0-OpenSSH\r\n\r\n", "invalid HTTP response"},
                        Case{HttpStub::HangUp, "", "closed the connection"},
                        Case{HttpStub::Silent, "", "timed out after 50 ms"}}) {
    CAPTURE(c.detail);
    HttpStub stub(&tl.loop, c.mode, c.reply);
    auto cfg = config(HealthKind::Http, "http://127.0.0.1:" + std::to_string(stub.port) + "/");
    cfg.timeout_ms = 50;
    Changes ch;
    HealthChecker hc(&tl.loop, cfg, {}, reaper, ch.cb());
    hc.start();
    REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
    CHECK(ch.seen == std::vector{HealthStatus::Unhealthy});
    CHECK(ch.detail.find(c.detail) != std::string::npos);
  }
}

TEST_CASE("http check: the whole response is read, at most 64 KiB of it") {
  TestLoop tl;
  NoReaper reaper;
  struct Case {
    std::string reply;
    HealthStatus status;
    std::string detail;
  };
  const std::string big(70000, 'x');
  for (const auto& c : {Case{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ncut short", HealthStatus::Unhealthy,
                             "closed the connection before the response body ended"},
                        Case{"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + big, HealthStatus::Unhealthy,
                             "response exceeds 64 KiB"},
                        Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                             HealthStatus::Healthy, "HTTP 200"}}) {
    CAPTURE(c.detail);
    HttpStub stub(&tl.loop, HttpStub::Reply, c.reply);
    Changes ch;
    HealthChecker hc(&tl.loop, config(HealthKind::Http, "http://127.0.0.1:" + std::to_string(stub.port) + "/"), {},
                     reaper, ch.cb());
    hc.start();
    REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
    CHECK(ch.seen == std::vector{c.status});
    CHECK(ch.detail.find(c.detail) != std::string::npos);
  }
}

TEST_CASE("stop() mid-check cancels it; restarting resets to Unknown") {
  TestLoop tl;
  NoReaper reaper;
  HttpStub silent(&tl.loop, HttpStub::Silent);
  Changes ch;
  auto hc = std::make_unique<HealthChecker>(
      &tl.loop, config(HealthKind::Http, "http://127.0.0.1:" + std::to_string(silent.port) + "/"), HealthContext{}, reaper,
      ch.cb());
  hc->start();
  REQUIRE(tl.run_until([&] { return silent.requests == 1; }));
  hc->stop();
  CHECK(hc->status() == HealthStatus::Unknown);
  tl.run_until([] { return false; }, 20);  // nothing may report after stop()
  CHECK(ch.seen.empty());
  hc->start(5);
  REQUIRE(tl.run_until([&] { return silent.requests == 2; }));
  hc.reset();  // destroyed mid-check: the loop must still close cleanly
  CHECK(ch.seen.empty());
}

namespace {

// A SystemCalls that records what a command check asks of it; nothing forks.
struct RecordingSystem final : SystemCalls {
  std::vector<SpawnRequest> spawned;
  std::vector<std::pair<pid_t, int>> signalled;
  Result<SpawnedProcess> spawn(const SpawnRequest& req) override {
    spawned.push_back(req);
    return SpawnedProcess{4242, -1, -1};
  }
  Result<void> signal_group(pid_t pgid, int sig) override {
    signalled.emplace_back(pgid, sig);
    return {};
  }
  bool group_exists(pid_t) override { return false; }
  GroupCensus group_census() override { return GroupCensus::of_groups({}); }
  std::optional<Reaped> reap_one() override { return std::nullopt; }
  Result<void> become_subreaper() override { return {}; }
  Millis now(uv_loop_t* loop) override { return static_cast<Millis>(uv_now(loop)); }
};

}  // namespace

TEST_CASE("command check: spawned and killed through the service's SystemCalls, with the service's request") {
  TestLoop tl;
  NoReaper reaper;  // the child never exits: the check times out
  RecordingSystem sys;
  HealthConfig c;
  c.kind = HealthKind::Command;
  c.command = {"/bin/check", "--fast"};
  c.interval_ms = 1000;
  c.timeout_ms = 20;
  c.retries = 1;
  HealthContext ctx;
  ctx.run.argv = {"/bin/service"};
  ctx.run.cpu_affinity = {1};
  ctx.run.env = {"PROCD_SERVICE=web"};
  ctx.sys = &sys;
  Changes ch;
  HealthChecker hc(&tl.loop, c, ctx, reaper, ch.cb());
  hc.start(0);
  REQUIRE(tl.run_until([&] { return !ch.seen.empty(); }));
  CHECK(ch.seen.back() == HealthStatus::Unhealthy);
  REQUIRE(sys.spawned.size() == 1);
  CHECK(sys.spawned[0].argv == std::vector<std::string>{"/bin/check", "--fast"});
  CHECK(sys.spawned[0].cpu_affinity == std::vector<int>{1});
  CHECK(sys.spawned[0].env == std::vector<std::string>{"PROCD_SERVICE=web"});
  REQUIRE(sys.signalled.size() == 1);  // the timed-out check's group, through the seam
  CHECK(sys.signalled[0] == std::pair<pid_t, int>{4242, SIGKILL});
  hc.stop();
}
