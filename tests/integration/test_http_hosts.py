"""The HTTP endpoint's Host allow-list (README "HTTP endpoint", DNS
rebinding): a request whose Host is not a loopback name, the listener's
address or in [control] http_allowed_hosts gets 421 on every route; a
missing Host is 400 on HTTP/1.1 and allowed on HTTP/1.0; a listener on a
wildcard address takes any IP-literal Host (a kubelet probes with the pod
IP) but no name; the list applies live on reload; `procd check` locates a
bad entry."""
import os
import socket
import subprocess

from procdtest import PROCD, Procd, check, run_tests
from test_http import SERVICES, free_port, http_top, wait_http

ROUTES = ["/healthz", "/readyz", "/status", "/metrics", "/logs?n=1", "/", "/history"]


def raw(port, path, head_lines, version="1.1", method="GET"):
    """One request with exactly the given header lines; (status, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        wire = "%s %s HTTP/%s\r\n%s\r\n" % (method, path, version, "".join(h + "\r\n" for h in head_lines))
        s.sendall(wire.encode())
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep and b"Content-Length: " in head:
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    finally:
        s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]) if head else 0, body


def status_of(port, host, path="/healthz", version="1.1"):
    return raw(port, path, ["Host: " + host, "Connection: close"], version)[0]


def test_host_allow_list_on_loopback():
    port = free_port()
    top = http_top(port, extra='http_allowed_hosts = ["procd.example", "*.svc.example"]\n')
    p = Procd(SERVICES, top=top)
    with p:
        wait_http(p, port)
        for host in ("127.0.0.1:%d" % port, "127.0.0.1", "localhost:%d" % port, "LocalHost", "localhost.",
                     "app.localhost:%d" % port, "[::1]:%d" % port, "127.0.0.2", "procd.example:%d" % port,
                     "PROCD.example", "a.svc.example", "localhost:8080"):
            check(status_of(port, host) == 200, "Host %s: %d" % (host, status_of(port, host)))
        for path in ROUTES:
            st, body = raw(port, path, ["Host: evil.example:%d" % port, "Connection: close"])
            check(st == 421 and b"evil.example" in body and b"http_allowed_hosts" in body,
                  "%s with Host evil.example: %d %r" % (path, st, body))
        for host in ("10.1.2.3:%d" % port, "svc.example", "procd.example.evil.example", "localhost.evil.example",
                     "[fe80::1]:%d" % port):
            check(status_of(port, host) == 421, "Host %s: %d" % (host, status_of(port, host)))
        st, body = raw(port, "/services/web/stop", ["Host: evil.example", "Authorization: Bearer x"], method="POST")
        check(st == 421, "POST with Host evil.example: %d %r" % (st, body))
        # missing, repeated or malformed Host
        st, body = raw(port, "/status", ["Connection: close"])
        check(st == 400 and b"Host" in body, "HTTP/1.1 without Host: %d %r" % (st, body))
        check(raw(port, "/status", [], version="1.0")[0] == 200, "HTTP/1.0 without Host")
        check(status_of(port, "evil.example", version="1.0") == 421, "HTTP/1.0 with a bad Host")
        st, body = raw(port, "/status", ["Host: localhost", "Host: evil.example"])
        check(st == 400, "two Host headers: %d %r" % (st, body))
        for host in ("bad host", "a/b", "localhost:99999", "[::1", "x:y:z"):
            check(status_of(port, host) == 400, "malformed Host %r: %d" % (host, status_of(port, host)))
        # the list applies live on reload
        p.rewrite(SERVICES, top=http_top(port, extra='http_allowed_hosts = ["other.example"]\n'))
        r = subprocess.run([PROCD, "-c", p.config, "reload"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, r.stderr)
        check(status_of(port, "procd.example") == 421, "procd.example after the reload")
        check(status_of(port, "other.example:%d" % port) == 200, "other.example after the reload")
        check(status_of(port, "localhost") == 200, "localhost after the reload")


def test_wildcard_listener_takes_ip_literals_not_names():
    port = free_port()
    p = Procd(SERVICES, top='[control]\nhttp = "0.0.0.0:%d"\n' % port)
    with p:
        wait_http(p, port)
        for host in ("10.1.2.3:%d" % port, "192.168.0.7", "[fd00::7]:%d" % port, "localhost", "127.0.0.1:%d" % port):
            check(status_of(port, host, "/readyz") == 200, "Host %s on 0.0.0.0: %d" % (host, status_of(port, host)))
        for host in ("evil.example", "pod.cluster.local:%d" % port):
            check(status_of(port, host) == 421, "Host %s on 0.0.0.0: %d" % (host, status_of(port, host)))


def test_check_locates_a_bad_allowed_host():
    d = Procd(SERVICES, top='[control]\nhttp = "127.0.0.1:9100"\nhttp_allowed_hosts = ["ok.example", "bad host", "x.example:80", ""]\n')
    try:
        r = subprocess.run([PROCD, "-c", d.config, "check"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 2, (r.returncode, r.stdout, r.stderr))
        lines = [l for l in r.stderr.splitlines() if "error[1004]" in l and "control.http_allowed_hosts" in l]
        check(len(lines) == 3, r.stderr)
        check(all(l.startswith(d.config + ":5:") for l in lines), r.stderr)
        check(any("bad host" in l for l in lines) and any("port" in l for l in lines), r.stderr)
        d.rewrite(SERVICES, top='[control]\nhttp_allowed_hosts = "one.example"\n')
        r = subprocess.run([PROCD, "-c", d.config, "check"], capture_output=True, text=True, timeout=20)
        check(r.returncode == 2 and "error[1003]" in r.stderr and "http_allowed_hosts" in r.stderr, r.stderr)
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_tests([
        test_host_allow_list_on_loopback,
        test_wildcard_listener_takes_ip_literals_not_names,
        test_check_locates_a_bad_allowed_host,
    ])
