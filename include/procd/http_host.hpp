// Which Host a request to the HTTP endpoint may name ([control].http):
// the defence against DNS rebinding, where a web page on an attacker's
// name that resolves to 127.0.0.1 reads a localhost listener. Such a page's
// requests carry the attacker's name in Host, never an IP literal (no DNS is
// involved in reaching one), so names are checked strictly:
//
//  * allowed: loopback names (`localhost`, `*.localhost`, RFC 6761: browsers
//    resolve them to loopback themselves), loopback IP literals (127.0.0.0/8,
//    [::1]), the listener's own address, and each entry of
//    [control].http_allowed_hosts (a name, `*.suffix` for any name under
//    it, an IP literal, or `*` for any Host at all);
//  * a listener on a wildcard address (0.0.0.0, [::]) takes any IP-literal
//    Host: a kubelet probes with the pod's IP, Prometheus scrapes by it;
//  * any port is accepted: a port forward (docker -p 8080:9100, kubectl
//    port-forward) shows the client another port, and the port plays no
//    part in rebinding;
//  * HTTP/1.1 without a Host, two Host headers or a malformed one: 400
//    (RFC 9112 section 3.2); HTTP/1.0 without a Host is allowed (curl -0).
//
// Pure: no I/O; IP literals are compared as addresses (inet_pton), names
// case-insensitively and without one trailing dot.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace procd {

struct HostVerdict {
  int status = 0;      // 0: allowed; else 400 or 421
  std::string reason;  // the answer's body (one line), when refused
  bool allowed() const { return status == 0; }
};

// `host`: the Host header's value; `host_headers`: how many Host headers
// came; `http11`: the request is HTTP/1.1 or later; `listener`: the
// listener's address as configured ("127.0.0.1:9100", "[::]:9100",
// "localhost:9100"); `allowed`: [control].http_allowed_hosts.
HostVerdict check_http_host(std::string_view host, int host_headers, bool http11, std::string_view listener,
                            const std::vector<std::string>& allowed);

// Why an entry of http_allowed_hosts is not one (empty, has a port, not a
// name or IP literal), or nullopt for a good entry.
std::optional<std::string> allowed_host_error(std::string_view entry);

}  // namespace procd
