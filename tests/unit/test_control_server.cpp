// ControlServer on a real libuv loop and a real unix socket in a temp
// directory: connection lifetimes when the server closes under a handler or
// a pending shutdown, the idle deadline moved by activity, the connection
// cap and the per-turn bound on one peer's requests. Clients are plain
// non-blocking sockets; the loop is bounded by TestLoop (no sleeps, no forks).
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "procd/control_server.hpp"
#include "test_loop.hpp"

using namespace procd;
using json = nlohmann::json;

namespace {

// A client end: connect, write, and read what has arrived without blocking.
struct Client {
  int fd = -1;
  std::string got;
  bool eof = false;
  explicit Client(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~Client() { ::close(fd); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // CHECK, not REQUIRE: this also runs inside a uv callback, which an exception must not cross.
  void send(const std::string& s) { CHECK(::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size())); }
  // Drain what is readable; true once the server closed its end.
  bool closed() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = true;
      return eof;
    }
  }
};

ControlConfig socket_in(const TempDir& dir) {
  ControlConfig cfg;
  cfg.socket = dir.file("ctl.sock");
  return cfg;
}

const std::string kPing = "{\"v\":1,\"cmd\":\"ping\"}\n";

}  // namespace

TEST_CASE("control server: a handler closes the server while clients are connected") {
  TempDir dir;
  TestLoop tl;
  int handled = 0;
  std::unique_ptr<ControlServer> server;
  server = std::make_unique<ControlServer>(&tl.loop, [&](ControlConnection& c, Request) {
    ++handled;
    c.send(reply_ok());
    server->close();  // `procd stop`: the supervisor closes the socket from inside the handler
  });
  REQUIRE(server->listen(socket_in(dir)).ok());
  Client idle1(dir.file("ctl.sock")), idle2(dir.file("ctl.sock")), asking(dir.file("ctl.sock"));
  // Two requests in one read: the loop in on_read must stop after the first.
  asking.send(kPing + kPing);
  idle2.send("{\"v\":1,\"cmd\":");  // a request in flight, half sent
  REQUIRE(tl.run_until([&] { return handled > 0; }));
  CHECK(handled == 1);
  REQUIRE(tl.run_until([&] { return idle1.closed() && idle2.closed() && asking.closed(); }));
  server.reset();
}

TEST_CASE("control server: a connection with a pending shutdown when the server closes") {
  TempDir dir;
  TestLoop tl;
  int handled = 0;
  // A reply larger than the socket buffer to a client that does not read:
  // the write stays queued, so the shutdown after it stays pending.
  const std::string big = reply_ok({{"pad", std::string(1 << 20, 'x')}});
  ControlServer server(&tl.loop, [&](ControlConnection& c, Request) {
    ++handled;
    c.send(big);
    c.close();  // uv_shutdown: waits for the write
  });
  REQUIRE(server.listen(socket_in(dir)).ok());
  Client a(dir.file("ctl.sock")), b(dir.file("ctl.sock"));
  a.send(kPing);
  b.send(kPing);
  REQUIRE(tl.run_until([&] { return handled == 2; }));
  server.close();  // both shutdowns are cancelled by the pipes' close
  REQUIRE(tl.run_until([&] { return a.closed() && b.closed(); }));
}

TEST_CASE("control server: the server is destroyed with connections still closing") {
  TempDir dir;
  TestLoop tl;
  int handled = 0;
  const std::string big = reply_ok({{"pad", std::string(1 << 20, 'x')}});
  auto server = std::make_unique<ControlServer>(&tl.loop, [&](ControlConnection& c, Request) {
    ++handled;
    c.send(big);  // not read by the client: the shutdown below stays pending
    c.close();
  });
  REQUIRE(server->listen(socket_in(dir)).ok());
  Client a(dir.file("ctl.sock")), b(dir.file("ctl.sock"));
  a.send(kPing);
  REQUIRE(tl.run_until([&] { return handled == 1; }));
  server.reset();  // close callbacks run later, in ~TestLoop
  CHECK_FALSE(std::filesystem::exists(dir.file("ctl.sock")));
}

TEST_CASE("control server: activity moves the idle deadline; silence closes") {
  TempDir dir;
  TestLoop tl;
  int handled = 0;
  ControlServer server(&tl.loop, [&](ControlConnection& c, Request) {
    ++handled;
    c.send(reply_ok());
  }, 200);
  REQUIRE(server.listen(socket_in(dir)).ok());
  Client active(dir.file("ctl.sock")), silent(dir.file("ctl.sock"));
  REQUIRE(tl.run_until([&] { return server.connection_count() == 2; }));
  const std::uint64_t t0 = uv_now(&tl.loop);

  // A request every 100 ms for 1 s, from a timer on the same loop.
  struct Ticker {
    Client* client;
    int sent = 0;
  } ticker{&active};
  uv_timer_t tick;
  uv_timer_init(&tl.loop, &tick);
  tick.data = &ticker;
  uv_timer_start(&tick, [](uv_timer_t* t) {
    auto* k = static_cast<Ticker*>(t->data);
    k->client->send(kPing);
    if (++k->sent == 10) uv_timer_stop(t);
  }, 100, 100);

  REQUIRE(tl.run_until([&] { return silent.closed(); }, 2000));
  CHECK(uv_now(&tl.loop) - t0 >= 190);
  CHECK(json::parse(silent.got.substr(0, silent.got.find('\n')))["error"]["code"] == 6005);
  tl.run_until([&] { return ticker.sent == 10 && handled == 10; }, 2000);
  CHECK(handled == 10);
  CHECK_FALSE(active.closed());  // 1 s of activity, five times the idle timeout
  CHECK(server.connection_count() == 1);
  // Once it falls silent it, too, is closed after the timeout.
  CHECK(tl.run_until([&] { return active.closed(); }, 1000));
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  tl.run_until([] { return false; }, 1);
}

TEST_CASE("control server: at most 256 connections; the next gets an error with a code") {
  TempDir dir;
  TestLoop tl;
  ControlServer server(&tl.loop, [](ControlConnection& c, Request) { c.send(reply_ok()); });
  REQUIRE(server.listen(socket_in(dir)).ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (std::size_t i = 0; i < ControlServer::kMaxConnections; ++i) {
    clients.push_back(std::make_unique<Client>(dir.file("ctl.sock")));
    // Accept as we go: the listen backlog (128) is smaller than the cap.
    if (i % 64 == 63) REQUIRE(tl.run_until([&] { return server.connection_count() == i + 1; }));
  }
  REQUIRE(tl.run_until([&] { return server.connection_count() == ControlServer::kMaxConnections; }));
  Client extra(dir.file("ctl.sock"));
  REQUIRE(tl.run_until([&] { return extra.closed(); }));
  auto reply = parse_reply(extra.got.substr(0, extra.got.find('\n')));
  REQUIRE(reply.ok());
  CHECK_FALSE(reply->ok);
  CHECK(reply->error.code == Code::ResourceControlConnections);
  CHECK(server.connection_count() == ControlServer::kMaxConnections);
  // The ones inside the cap are served; once one leaves, a new one fits.
  clients.front()->send(kPing);
  REQUIRE(tl.run_until([&] {
    clients.front()->closed();
    return clients.front()->got.find('\n') != std::string::npos;
  }));
  CHECK(parse_reply(clients.front()->got.substr(0, clients.front()->got.find('\n')))->ok);
  clients.pop_back();
  REQUIRE(tl.run_until([&] { return server.connection_count() == ControlServer::kMaxConnections - 1; }));
  Client again(dir.file("ctl.sock"));
  REQUIRE(tl.run_until([&] { return server.connection_count() == ControlServer::kMaxConnections; }));
  again.send(kPing);
  REQUIRE(tl.run_until([&] {
    again.closed();
    return again.got.find('\n') != std::string::npos;
  }));
  CHECK(parse_reply(again.got.substr(0, again.got.find('\n')))->ok);
}

TEST_CASE("control server: a flood from one peer is handled a bounded number of requests per turn") {
  TempDir dir;
  TestLoop tl;
  int from_flood = 0, from_other = 0, flood_seen_by_other = -1;
  std::uint64_t flood_id = 0;
  ControlServer server(&tl.loop, [&](ControlConnection& c, Request) {
    if (c.id() == flood_id) {
      ++from_flood;
    } else {
      ++from_other;
      flood_seen_by_other = from_flood;
    }
    c.send(reply_ok());
  });
  REQUIRE(server.listen(socket_in(dir)).ok());
  Client flood(dir.file("ctl.sock"));
  REQUIRE(tl.run_until([&] { return server.connection_count() == 1; }));
  Client other(dir.file("ctl.sock"));
  REQUIRE(tl.run_until([&] { return server.connection_count() == 2; }));
  flood_id = 1;  // ids count from 1 in accept order
  constexpr int kFlood = 100;
  std::string burst;
  for (int i = 0; i < kFlood; ++i) burst += kPing;
  flood.send(burst);  // one write, one read on the server side
  other.send(kPing);
  // run_until checks after every loop turn: never more than the bound per turn.
  int before = 0, most_in_one_turn = 0;
  REQUIRE(tl.run_until([&] {
    most_in_one_turn = std::max(most_in_one_turn, from_flood - before);
    before = from_flood;
    return from_flood == kFlood && from_other == 1;
  }));
  CHECK(most_in_one_turn <= ControlServer::kMaxRequestsPerTurn);
  // The other peer was answered while the flood was still queued.
  CHECK(flood_seen_by_other < kFlood);
  // Every request of the flood got its reply, in order, on one connection.
  REQUIRE(tl.run_until([&] {
    flood.closed();
    return std::count(flood.got.begin(), flood.got.end(), '\n') == kFlood;
  }));
}
