// Validation rules that join two sections: a service's readiness against
// what [monitoring] and [control] make possible. Each is an error at the
// value it is about (code, line:col, dotted key path), so `procd check`
// refuses what would otherwise fail only at run time, forever.
#include <doctest/doctest.h>

#include <sys/un.h>

#include "procd/config_load.hpp"

using namespace procd;

namespace {
const std::vector<std::string> kNoEnv;

std::vector<Error> errors_of(const std::string& text, const std::string& path = "/etc/p/t.toml") {
  LoadOptions opts;
  opts.environment = &kNoEnv;
  opts.as_root = false;
  auto r = load_config_text(text, path, opts);
  CHECK(r.config.has_value() == r.errors.empty());
  for (const auto& e : r.errors) MESSAGE(e.format());
  return r.errors;
}

Error only_error(const std::string& text, Code code, int line, int column, const std::string& path = "/etc/p/t.toml") {
  auto errors = errors_of(text, path);
  REQUIRE(errors.size() == 1);
  const Error& e = errors[0];
  CHECK(e.code == code);
  REQUIRE(e.where);
  CHECK(e.where->line == line);
  CHECK(e.where->column == column);
  return e;
}

const std::string kWeb = "[services.web]\ncommand = \"x\"\n";
const std::string kHealthOff = "[monitoring]\nhealth_checks = false\n";
const std::string kTcp = "health = { tcp = \"127.0.0.1:5432\" }\n";

// An absolute control socket path of `len` bytes.
std::string socket_of(std::size_t len) { return "/tmp/" + std::string(len - 5, 's'); }

}  // namespace

TEST_CASE("validation: ready = \"health\" needs [monitoring] health_checks") {
  auto e = only_error(kHealthOff + kWeb + "ready = \"health\"\n" + kTcp, Code::ConfigHealthChecksOff, 5, 9);
  CHECK(e.key_path == "services.web.ready");
  CHECK(e.message == "ready = \"health\" needs health checks, but [monitoring] health_checks = false");
  CHECK(errors_of(kWeb + "ready = \"health\"\n" + kTcp).empty());  // health checks on (the default)
  CHECK(errors_of(kHealthOff + kWeb + kTcp).empty());               // a [health] that is simply not run
  CHECK(errors_of("[monitoring]\nhealth_checks = true\n" + kWeb + "ready = \"health\"\n" + kTcp).empty());
  // Every such service is named.
  auto both = errors_of(kHealthOff + kWeb + "ready = \"health\"\n" + kTcp +
                        "[services.db]\ncommand = \"x\"\nready = \"health\"\n" + kTcp);
  REQUIRE(both.size() == 2);
  CHECK(both[1].key_path == "services.db.ready");
}

TEST_CASE("validation: the notify socket (control socket + \".notify\") fits a unix socket address") {
  const std::size_t max_path = sizeof(sockaddr_un::sun_path) - 1;  // 107: the NUL takes the last byte
  const std::string fits = socket_of(max_path - 7), over = socket_of(max_path - 6);
  CHECK((fits + ".notify").size() == 107);
  CHECK(errors_of("[control]\nsocket = \"" + fits + "\"\n" + kWeb + "ready = \"notify\"\n").empty());
  auto e = only_error("[control]\nsocket = \"" + over + "\"\n" + kWeb + "ready = \"notify\"\n",
                      Code::ConfigSocketPathTooLong, 2, 10);
  CHECK(e.key_path == "control.socket");
  CHECK(e.message.find("\"" + over + ".notify\"") != std::string::npos);
  CHECK(e.message.find("108 bytes") != std::string::npos);
  CHECK(e.message.find("service \"web\"") != std::string::npos);
  // watchdog_ms needs the notify socket too.
  only_error("[control]\nsocket = \"" + over + "\"\n" + kWeb + "ready = \"notify\"\nwatchdog_ms = 1000\n",
             Code::ConfigSocketPathTooLong, 2, 10);
  // Without a notify service the notify socket is never made.
  CHECK(errors_of("[control]\nsocket = \"" + over + "\"\n" + kWeb).empty());
  // The default socket (.t.sock beside t.toml), in a deep config directory: at the service's `ready`.
  std::string dir = "/" + std::string(max_path - 7 - std::string("/.t.sock").size() - 1, 'd');
  CHECK(errors_of(kWeb + "ready = \"notify\"\n", dir + "/t.toml").empty());
  auto deep = only_error(kWeb + "ready = \"notify\"\n", Code::ConfigSocketPathTooLong, 3, 9, dir + "d/t.toml");
  CHECK(deep.key_path == "services.web.ready");
  CHECK(deep.message.find(dir + "d/.t.sock.notify") != std::string::npos);
}

TEST_CASE("validation: two services naming one log file is an error naming both places") {
  const std::string two = kWeb + "[services.web.log]\nfile = \"out.log\"\n" +
                          "[services.db]\ncommand = \"x\"\n[services.db.log]\nfile = \"/etc/p/out.log\"\n";
  auto e = only_error(two, Code::ConfigLogFileShared, 8, 8);
  CHECK(e.key_path == "services.db.log.file");
  CHECK(e.message.find("/etc/p/out.log") != std::string::npos);
  CHECK(e.message.find("/etc/p/t.toml:4:8") != std::string::npos);  // the first place, file:line:col
  CHECK(e.message.find("services.web.log.file") != std::string::npos);
  // A service's stderr_file on another's file, and procd's own log file, count too.
  only_error(kWeb + "[services.web.log]\nfile = \"a.log\"\n[services.db]\ncommand = \"x\"\n"
             "[services.db.log]\nstderr = \"separate\"\nfile = \"b.log\"\nstderr_file = \"a.log\"\n",
             Code::ConfigLogFileShared, 10, 15);
  only_error("[logging]\nfile = \"a.log\"\n" + kWeb + "[services.web.log]\nfile = \"a.log\"\n",
             Code::ConfigLogFileShared, 6, 8);
  // Different files are fine.
  CHECK(errors_of(kWeb + "[services.web.log]\nfile = \"a.log\"\n[services.db]\ncommand = \"x\"\n"
                  "[services.db.log]\nfile = \"b.log\"\n").empty());
}
