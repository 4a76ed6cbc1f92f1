// The HTTP endpoint's Host allow-list (procd/http_host.hpp): loopback
// names and addresses, the listener's own address, a wildcard listener's
// IP literals, [control].http_allowed_hosts, missing / repeated /
// malformed Host headers, and the validation of list entries.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "procd/http_host.hpp"
#include "procd/http_request.hpp"

using namespace procd;

namespace {
int verdict(std::string_view host, std::string_view listener = "127.0.0.1:9100", std::vector<std::string> allowed = {}) {
  return check_http_host(host, 1, true, listener, allowed).status;
}
}  // namespace

TEST_CASE("http host: loopback names and addresses, any port") {
  for (const char* h : {"localhost", "localhost:9100", "LOCALHOST", "localhost.", "app.localhost", "a.b.localhost:1",
                        "127.0.0.1", "127.0.0.1:9100", "127.9.8.7:80", "[::1]", "[::1]:9100", "[0:0::1]",
                        "[::ffff:127.0.0.1]:9100", "localhost:8080", " localhost "})
    CHECK_MESSAGE(verdict(h) == 0, h);
}

TEST_CASE("http host: rebinding names and foreign addresses get 421 naming the host") {
  for (const char* h : {"evil.example", "evil.example:9100", "localhost.evil.example", "xlocalhost", "10.0.0.5",
                        "[fe80::1]:9100", "0.0.0.0"})
    CHECK_MESSAGE(verdict(h) == 421, h);
  auto v = check_http_host("Evil.Example:9100", 1, true, "127.0.0.1:9100", {});
  CHECK(v.status == 421);
  CHECK(v.reason.find("\"evil.example\"") != std::string::npos);
  CHECK(v.reason.find("http_allowed_hosts") != std::string::npos);
  CHECK(check_http_host("[fe80::1]:1", 1, true, "127.0.0.1:9100", {}).reason.find("\"[fe80::1]\"") != std::string::npos);
  CHECK(check_http_host("10.0.0.5:1", 1, true, "127.0.0.1:9100", {}).reason.find("\"10.0.0.5\"") != std::string::npos);
}

TEST_CASE("http host: the listener's own address") {
  CHECK(verdict("10.0.0.5:9100", "10.0.0.5:9100") == 0);
  CHECK(verdict("10.0.0.6:9100", "10.0.0.5:9100") == 421);
  CHECK(verdict("[fd00::5]", "[fd00::5]:9100") == 0);
  CHECK(verdict("[fd00:0::5]:9100", "[fd00::5]:9100") == 0);
  CHECK(verdict("localhost", "10.0.0.5:9100") == 0);  // a loopback name never reaches another host's name
  CHECK(verdict("localhost", "localhost:9100") == 0);
}

TEST_CASE("http host: a wildcard listener takes any IP literal but no name") {
  for (const char* l : {"0.0.0.0:9100", "[::]:9100"}) {
    CHECK(verdict("10.1.2.3:9100", l) == 0);  // a kubelet probing the pod IP
    CHECK(verdict("[fd00::7]", l) == 0);
    CHECK(verdict("localhost", l) == 0);
    CHECK(verdict("pod.cluster.local:9100", l) == 421);
    CHECK(verdict("evil.example", l) == 421);
  }
}

TEST_CASE("http host: http_allowed_hosts names, suffixes, literals and *") {
  std::vector<std::string> allowed = {"procd.example", "*.svc.example", "10.9.9.9", "[fd00::9]", "fd00::10"};
  CHECK(verdict("procd.example:9100", "127.0.0.1:9100", allowed) == 0);
  CHECK(verdict("PROCD.EXAMPLE.", "127.0.0.1:9100", allowed) == 0);
  CHECK(verdict("a.svc.example", "127.0.0.1:9100", allowed) == 0);
  CHECK(verdict("a.b.svc.example:1", "127.0.0.1:9100", allowed) == 0);
  CHECK(verdict("svc.example", "127.0.0.1:9100", allowed) == 421);
  CHECK(verdict("xsvc.example", "127.0.0.1:9100", allowed) == 421);
  CHECK(verdict("procd.example.evil", "127.0.0.1:9100", allowed) == 421);
  CHECK(verdict("10.9.9.9:80", "127.0.0.1:9100", allowed) == 0);
  CHECK(verdict("[fd00::9]:80", "127.0.0.1:9100", allowed) == 0);
  CHECK(verdict("[fd00::10]", "127.0.0.1:9100", allowed) == 0);
  CHECK(verdict("anything.example", "127.0.0.1:9100", {"*"}) == 0);
}

TEST_CASE("http host: missing, repeated and malformed Host headers") {
  CHECK(check_http_host("", 0, true, "127.0.0.1:9100", {}).status == 400);
  CHECK(check_http_host("", 0, false, "127.0.0.1:9100", {}).status == 0);  // HTTP/1.0 (curl -0)
  CHECK(check_http_host("  ", 1, true, "127.0.0.1:9100", {}).status == 400);
  CHECK(check_http_host("evil.example", 1, false, "127.0.0.1:9100", {}).status == 421);
  CHECK(check_http_host("localhost", 2, true, "127.0.0.1:9100", {}).status == 400);
  for (const char* h : {"bad host", "a/b", "localhost:99999", "localhost:9x", "[::1", "[::1]x", "x:y:z", "a..b", ".a",
                        "[not-v6]", "h\xc3\xa9.example", "localhost:123456"})
    CHECK_MESSAGE(verdict(h) == 400, h);
  CHECK(verdict("localhost:") == 0);  // RFC 3986: port = *DIGIT
}

TEST_CASE("http host: the parser counts Host headers and reads the version") {
  HttpRequestParser p;
  auto fed = p.feed("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n");
  REQUIRE(fed.state == HttpRequestParser::State::Complete);
  HttpRequest r = p.take();
  CHECK(r.host_headers == 2);
  CHECK(r.host == "b");
  CHECK(r.http11);
  fed = p.feed("GET / HTTP/1.0\r\n\r\n");
  REQUIRE(fed.state == HttpRequestParser::State::Complete);
  r = p.take();
  CHECK(r.host_headers == 0);
  CHECK_FALSE(r.http11);
}

TEST_CASE("http host: entries of http_allowed_hosts are validated") {
  for (const char* e : {"procd.example", "*.example.com", "10.0.0.5", "[fd00::5]", "fd00::5", "*", "my_app"})
    CHECK_MESSAGE(!allowed_host_error(e).has_value(), e);
  CHECK(allowed_host_error("")->find("empty") != std::string::npos);
  CHECK(allowed_host_error("x.example:80")->find("port") != std::string::npos);
  CHECK(allowed_host_error("[::1]:80")->find("port") != std::string::npos);
  CHECK(allowed_host_error("bad host")->find("not a host name") != std::string::npos);
  CHECK(allowed_host_error("*.10.0.0.5")->find("domain name") != std::string::npos);
}
