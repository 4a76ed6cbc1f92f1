// Unit tests for src/sys/file_io.cpp (open_for_write, read_bounded) and its
// callers' refusals: a symlink, a hard link, a FIFO, a directory are clear
// errors, never followed, never blocking; the planted-at file is unchanged.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "procd/env_file.hpp"
#include "procd/file_io.hpp"
#include "procd/output.hpp"
#include "procd/pid_lock.hpp"
#include "procd/token_file.hpp"
#include "temp_dir.hpp"

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("file_io: open_for_write creates, appends, truncates only after its checks") {
  TempDir d;
  auto path = d.file("log");
  auto fd = procd::open_for_write(path, O_WRONLY | O_CREAT | O_APPEND);
  REQUIRE(fd.ok());
  CHECK(::write(*fd, "a\n", 2) == 2);
  CHECK((::fcntl(*fd, F_GETFL) & O_NONBLOCK) == 0);
  CHECK((::fcntl(*fd, F_GETFD) & FD_CLOEXEC) != 0);
  ::close(*fd);
  auto again = procd::open_for_write(path, O_WRONLY | O_TRUNC);
  REQUIRE(again.ok());
  ::close(*again);
  CHECK(read_text(path).empty());
}

TEST_CASE("file_io: open_for_write refuses a symlink, a hard link, a FIFO, a directory") {
  TempDir d;
  auto victim = d.file("victim");
  write_text(victim, "precious\n");
  auto sym = d.file("sym");
  REQUIRE(::symlink(victim.c_str(), sym.c_str()) == 0);
  auto r = procd::open_for_write(sym, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == procd::Code::IoOpen);
  CHECK(r.error().message.find("symbolic link") != std::string::npos);

  auto hard = d.file("hard");
  REQUIRE(::link(victim.c_str(), hard.c_str()) == 0);
  r = procd::open_for_write(hard, O_WRONLY | O_CREAT | O_TRUNC);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("2 hard links") != std::string::npos);
  CHECK(read_text(victim) == "precious\n");

  auto fifo = d.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  r = procd::open_for_write(fifo, O_WRONLY | O_CREAT | O_APPEND);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == procd::Code::IoOpen);
  r = procd::open_for_write(d.path.string(), O_RDONLY);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("a directory") != std::string::npos);
}

TEST_CASE("file_io: read_bounded reads whole, bounds size, and applies its policy") {
  TempDir d;
  auto path = d.file("conf");
  write_text(path, "hello");
  auto r = procd::read_bounded(path, {});
  REQUIRE(r.ok());
  CHECK(*r == "hello");
  r = procd::read_bounded(path, {.max_bytes = 4});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "larger than 4 bytes");
  CHECK(procd::read_bounded(path, {.max_bytes = 5}).ok());

  auto sym = d.file("sym");
  REQUIRE(::symlink(path.c_str(), sym.c_str()) == 0);
  CHECK_FALSE(procd::read_bounded(sym, {}).ok());
  r = procd::read_bounded(sym, {.follow_symlinks = true});
  REQUIRE(r.ok());
  CHECK(*r == "hello");

  auto fifo = d.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  r = procd::read_bounded(fifo, {.follow_symlinks = true});  // returns at once: no writer is awaited
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "not a regular file (a FIFO)");
  r = procd::read_bounded(d.path.string(), {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "not a regular file (a directory)");
  r = procd::read_bounded("/dev/zero", {.max_bytes = 100, .follow_symlinks = true, .regular_only = false});
  REQUIRE_FALSE(r.ok());  // an endless device is cut at the bound
  CHECK(r.error().message == "larger than 100 bytes");
}

TEST_CASE("file_io: the PID file is refused when hard-linked; the linked file is unchanged") {
  TempDir d;
  auto victim = d.file("victim");
  write_text(victim, "precious\n");
  auto pid_path = d.file("procd.pid");
  REQUIRE(::link(victim.c_str(), pid_path.c_str()) == 0);
  auto lock = procd::PidLock::acquire(pid_path);
  REQUIRE_FALSE(lock.ok());
  CHECK(lock.error().code == procd::Code::IoOpen);
  CHECK(lock.error().message.find("hard links") != std::string::npos);
  CHECK(read_text(victim) == "precious\n");
}

TEST_CASE("file_io: a log file is refused when hard-linked; the linked file is unchanged") {
  TempDir d;
  auto victim = d.file("victim");
  write_text(victim, "precious\n");
  auto log_path = d.file("svc.log");
  REQUIRE(::link(victim.c_str(), log_path.c_str()) == 0);
  procd::RotatingFile f(log_path, 1024, 3);
  auto r = f.open();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == procd::Code::IoOpen);
  CHECK(r.error().message.find(log_path) != std::string::npos);
  CHECK(r.error().message.find("hard links") != std::string::npos);
  CHECK(read_text(victim) == "precious\n");
}

TEST_CASE("file_io: env_file and the token file are bounded reads") {
  TempDir d;
  auto env = d.file("big.env");
  write_text(env, "A=" + std::string((1u << 20) - 2, 'x') + "\n");  // 1 MiB + 1
  auto vars = procd::read_env_file(env);
  REQUIRE_FALSE(vars.ok());
  CHECK(vars.error().message.find("larger than 1048576 bytes") != std::string::npos);
  write_text(env, "A=" + std::string((1u << 20) - 3, 'x') + "\n");  // exactly 1 MiB
  CHECK(procd::read_env_file(env).ok());
  auto token = d.file("token");
  write_text(token, std::string(4097, 't'));
  auto t = procd::read_token_file(token);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().message.find("larger than 4096 bytes") != std::string::npos);
}

TEST_CASE("file_io: the token file is procd's own and private") {
  TempDir d;
  auto token = d.file("token");
  write_text(token, "s3cret\n");
  ::chmod(token.c_str(), 0644);
  auto t = procd::read_token_file(token);
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == procd::Code::ConfigTokenFileUnsafe);
  CHECK(t.error().message.find("mode 644") != std::string::npos);
  CHECK(t.error().message.find("s3cret") == std::string::npos);
  ::chmod(token.c_str(), 0600);
  REQUIRE(procd::read_token_file(token).ok());
  CHECK(*procd::read_token_file(token) == "s3cret");
}
