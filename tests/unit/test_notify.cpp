// sd_notify: the pure datagram parser, plus NotifyServer and
// notify_manager() against real unix datagram sockets in a temp directory,
// driven by an in-process uv loop bounded by a timer (no sleeps, no forks).
#include <doctest/doctest.h>

#include "test_loop.hpp"
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <optional>

#include "procd/notify.hpp"

using namespace procd;

namespace {


struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/procd-notify-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Restores NOTIFY_SOCKET as the test runner had it.
struct EnvGuard {
  std::optional<std::string> saved;
  EnvGuard() {
    if (const char* v = std::getenv("NOTIFY_SOCKET")) saved = v;
  }
  ~EnvGuard() {
    if (saved) ::setenv("NOTIFY_SOCKET", saved->c_str(), 1);
    else ::unsetenv("NOTIFY_SOCKET");
  }
};

int bound_dgram(const std::string& name, bool abstract) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  socklen_t len;
  if (abstract) {
    std::memcpy(a.sun_path + 1, name.data(), name.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  } else {
    std::memcpy(a.sun_path, name.c_str(), name.size() + 1);
    len = sizeof a;
  }
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0);
  return fd;
}

}  // namespace

TEST_CASE("parse_notify_message: one key per line, the last assignment wins") {
  auto m = parse_notify_message("READY=1\nSTATUS=Serving requests\nMAINPID=42\n");
  CHECK(m.size() == 3);
  CHECK(m["READY"] == "1");
  CHECK(m["STATUS"] == "Serving requests");
  CHECK(m["MAINPID"] == "42");

  m = parse_notify_message("STATUS=a\nSTATUS=b");
  CHECK(m.size() == 1);
  CHECK(m["STATUS"] == "b");
}

TEST_CASE("parse_notify_message: lines without '=' and empty input are ignored") {
  CHECK(parse_notify_message("").empty());
  CHECK(parse_notify_message("\n\n").empty());
  CHECK(parse_notify_message("garbage\nno equals here").empty());
  auto m = parse_notify_message("junk\nWATCHDOG=1\n\n=novalue\nSTATUS=\n");
  CHECK(m.size() == 2);
  CHECK(m["WATCHDOG"] == "1");
  CHECK(m["STATUS"] == "");  // an empty value is still an assignment
  m = parse_notify_message("STATUS=a=b");
  CHECK(m["STATUS"] == "a=b");  // only the first '=' splits
}

TEST_CASE("NotifyServer: a datagram's sender comes from SCM_CREDENTIALS") {
  TempDir dir;
  EnvGuard env;
  std::string path = dir.path + "/notify.sock";
  TestLoop tl;
  std::optional<pid_t> sender;
  std::map<std::string, std::string> fields;
  int messages = 0;
  NotifyServer srv(&tl.loop, [&](pid_t pid, const std::map<std::string, std::string>& f) {
    sender = pid;
    fields = f;
    ++messages;
  });
  auto r = srv.listen(path);
  REQUIRE(r.ok());
  CHECK(srv.path() == path);
  struct stat st;
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0666);

  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  CHECK(manager_notify_enabled());
  REQUIRE(notify_manager("READY=1\nSTATUS=up\n").ok());
  REQUIRE(notify_manager("WATCHDOG=1").ok());
  REQUIRE(tl.run_until([&] { return messages == 2; }));
  REQUIRE(sender.has_value());
  CHECK(*sender == ::getpid());
  CHECK(fields.size() == 1);
  CHECK(fields["WATCHDOG"] == "1");

  srv.close();
  CHECK(::lstat(path.c_str(), &st) != 0);  // close() unlinks
  srv.close();                             // idempotent
}

TEST_CASE("NotifyServer: replaces a stale socket, refuses anything else") {
  TempDir dir;
  TestLoop tl;
  NotifyServer srv(&tl.loop, [](pid_t, const std::map<std::string, std::string>&) {});

  std::string stale = dir.path + "/stale.sock";
  ::close(bound_dgram(stale, false));  // leaves the socket file behind
  CHECK(srv.listen(stale).ok());
  srv.close();

  std::string regular = dir.path + "/regular";
  { FILE* f = std::fopen(regular.c_str(), "w"); REQUIRE(f); std::fclose(f); }
  auto r = srv.listen(regular);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::ControlSocketUnsafe);
  CHECK(r.error().message.find(regular) != std::string::npos);
  CHECK(std::filesystem::exists(regular));  // never removed

  std::string link = dir.path + "/link";
  REQUIRE(::symlink(stale.c_str(), link.c_str()) == 0);
  r = srv.listen(link);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::ControlSocketUnsafe);

  r = srv.listen(dir.path + "/" + std::string(200, 'x'));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::IoSocket);
}

TEST_CASE("notify_manager: unset is a no-op, abstract names work, errors are IoSocket") {
  EnvGuard env;
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(manager_notify_enabled());
  CHECK(notify_manager("READY=1").ok());
  ::setenv("NOTIFY_SOCKET", "", 1);
  CHECK_FALSE(manager_notify_enabled());
  CHECK(notify_manager("READY=1").ok());

  std::string name = "procd-test-notify-" + std::to_string(::getpid());
  int fd = bound_dgram(name, true);
  ::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
  CHECK(manager_notify_enabled());
  REQUIRE(notify_manager("STOPPING=1").ok());
  char buf[64] = {};
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // unix datagrams are queued by sendto itself
  ::close(fd);
  CHECK(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) == "STOPPING=1");

  ::setenv("NOTIFY_SOCKET", "/nonexistent/procd/notify.sock", 1);
  auto r = notify_manager("READY=1");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Code::IoSocket);
}

// SPEC Part 2 "Hostile local peers": the socket is 0666, so a local flood
// must not keep procd in one read loop. A peer that refills the queue as
// fast as procd drains it (simulated: one more datagram sent per datagram
// handled) must still let a due timer run after kNotifyBatch datagrams.
TEST_CASE("NotifyServer: a flood is handled in batches, timers run in between") {
  TempDir dir;
  const std::string path = dir.path + "/notify.sock";
  struct Probe {
    int handled = 0;
    int handled_when_timer_fired = -1;
  } probe;
  uv_timer_t timer;  // before the loop: closed by the time the loop is
  TestLoop tl;
  uv_timer_init(&tl.loop, &timer);
  timer.data = &probe;
  int sender = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  REQUIRE(sender >= 0);
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, path.c_str(), path.size() + 1);
  const int total = 10 * static_cast<int>(NotifyServer::kNotifyBatch);
  int sent = 0;
  auto send_one = [&] {
    if (sent < total && ::sendto(sender, "WATCHDOG=1", 10, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 10)
      ++sent;
  };
  NotifyServer srv(&tl.loop, [&](pid_t, const std::map<std::string, std::string>&) {
    if (probe.handled++ == 0) {
      uv_timer_start(&timer, [](uv_timer_t* t) {
        auto* p = static_cast<Probe*>(t->data);
        p->handled_when_timer_fired = p->handled;
      }, 0, 0);
    }
    send_one();
  });
  REQUIRE(srv.listen(path).ok());
  for (int i = 0; i < 4; ++i) send_one();
  CHECK(tl.run_until([&] { return probe.handled == total; }, 5000));
  CHECK(probe.handled_when_timer_fired > 0);
  CHECK(probe.handled_when_timer_fired <= static_cast<int>(NotifyServer::kNotifyBatch));
  ::close(sender);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
}

// The socket's mode is set without naming its path after bind (a symlink
// swapped in between bind and chmod would otherwise have its target
// chmod-ed): fchmod before bind with umask 0 around bind only.
TEST_CASE("NotifyServer: the socket is 0666 whatever the umask, and no path is chmod-ed") {
  TempDir dir;
  std::string path = dir.path + "/notify.sock";
  TestLoop tl;
  NotifyServer srv(&tl.loop, [](pid_t, const std::map<std::string, std::string>&) {});
  mode_t saved = ::umask(077);
  auto r = srv.listen(path);
  mode_t during = ::umask(saved);
  REQUIRE(r.ok());
  CHECK(during == 077);  // the process umask is given back
  struct stat st;
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0666);
  std::ifstream src(std::string(PROCD_SOURCE_ROOT) + "/src/daemon/notify.cpp");
  std::string text((std::istreambuf_iterator<char>(src)), std::istreambuf_iterator<char>());
  REQUIRE_FALSE(text.empty());
  CHECK(text.find("::chmod(") == std::string::npos);
  srv.close();
}
