// HealthChecker: one check at a time, scheduled by one timer. While a check
// is in flight the timer is its timeout; after it completes, the timer is
// the interval to the next one. Invariants:
//  * `gen` names the current check; anything that reports with another
//    generation (a late child exit, a connect after a timeout) is ignored.
//  * uv memory belongs to libuv until its callback: the tcp handle is a
//    UvHandle (freed in its close callback, `data` nulled at close so late
//    connect/write/read callbacks see no owner); connect, write and
//    getaddrinfo requests are heap objects deleted by their own callbacks;
//    a pending resolve is detached (owner = nullptr) when cancelled.
//  * child exits arrive through the ChildReaper, perhaps after the checker
//    is gone: the callback holds a weak_ptr to `alive`.
//  * on_change is the last thing a completion does: the owner may destroy
//    the checker from inside it.
// Command checks fork/exec directly (own process group, /dev/null stdio);
// the pure URL helpers are at the end.
#include "procd/health.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <http_parser.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "procd/signal_names.hpp"

extern char** environ;

namespace procd {

const char* health_status_name(HealthStatus s) {
  switch (s) {
    case HealthStatus::Healthy: return "healthy";
    case HealthStatus::Unhealthy: return "unhealthy";
    case HealthStatus::Unknown: break;
  }
  return "unknown";
}

namespace {

constexpr size_t kMaxResponse = 64 * 1024;

struct Resolve {
  uv_getaddrinfo_t req;
  HealthChecker::Impl* owner;
};

struct WriteReq {
  uv_write_t req;
  std::string data;
};

std::string find_program(const std::string& name, const std::vector<std::string>& env, const std::string& wd) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& kv : env)
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    // Constructed, not assigned from ".": GCC 12 -O3 warns -Wrestrict on that assign.
    std::string dir = end == pos ? std::string(".") : path.substr(pos, end - pos);
    if (dir[0] != '/' && !wd.empty()) dir = wd + "/" + dir;
    std::string cand = dir + "/" + name;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    pos = end + 1;
  }
  return {};
}

// Child side of fork: only async-signal-safe calls. Reports {stage, errno} on `errfd`.
[[noreturn]] void exec_child(const char* exe, char* const argv[], char* const envp[], const char* wd, int errfd) {
  ::setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int s = 1; s < NSIG; ++s) ::signal(s, SIG_DFL);
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // best effort; errfd is close-on-exec already
  int report[2] = {0, 0};
  if (wd && *wd && ::chdir(wd) != 0) {
    report[1] = errno;
  } else {
    ::execve(exe, argv, envp);
    report[0] = 1;
    report[1] = errno;
  }
  [[maybe_unused]] auto n = ::write(errfd, report, sizeof report);
  ::_exit(127);
}

}  // namespace

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
  UvTimer timer;

  // tcp / http
  std::string host, path;
  int port = 0;
  std::string target_error;  // non-empty: the target could not be parsed
  UvHandle<uv_tcp_t> tcp;
  Resolve* resolving = nullptr;
  std::vector<sockaddr_storage> addrs;
  size_t next_addr = 0;
  std::string connect_error;
  http_parser parser{};
  http_parser_settings settings{};
  size_t received = 0;
  bool headers_done = false;
  char readbuf[8192];

  // command
  pid_t child = -1;

  Impl(uv_loop_t* l, HealthConfig c, HealthContext x, ChildReaper& r, OnChange cb)
      : loop(l), cfg(std::move(c)), ctx(std::move(x)), reaper(r), on_change(std::move(cb)) {
    uv_timer_init(loop, timer.reset(this));
    if (cfg.kind == HealthKind::Tcp) {
      if (auto hp = parse_host_port(cfg.target); hp.ok()) {
        host = hp->first;
        port = hp->second;
      } else {
        target_error = hp.error().message;
      }
    } else if (cfg.kind == HealthKind::Http) {
      if (auto u = parse_http_url(cfg.target); u.ok()) {
        host = u->host;
        port = u->port;
        path = u->path;
      } else {
        target_error = u.error().message;
      }
    }
    settings.on_headers_complete = [](http_parser*) { return -1; };  // status is known: stop parsing
  }

  std::string where() const { return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port); }

  void arm(std::int64_t ms) {
    uv_timer_start(
        timer.get(),
        [](uv_timer_t* t) {
          if (auto* self = owner_of<Impl>(t)) self->on_timer();
        },
        static_cast<std::uint64_t>(ms < 0 ? 0 : ms), 0);
  }

  void on_timer() {
    if (!running) return;
    if (in_flight) return finish(gen, false, fmt::format("timed out after {} ms", cfg.timeout_ms));
    begin();
  }

  void cancel_io() {
    tcp.close();
    if (resolving) {
      resolving->owner = nullptr;
      uv_cancel(reinterpret_cast<uv_req_t*>(&resolving->req));
      resolving = nullptr;
    }
    if (child > 0) ::kill(-child, SIGKILL);  // not reaped yet, so the group id is still ours
    child = -1;
  }

  // The one completion path; `on_change` is its last statement.
  void finish(std::uint64_t g, bool ok, std::string what) {
    if (!in_flight || g != gen) return;
    in_flight = false;
    cancel_io();
    detail = std::move(what);
    arm(cfg.interval_ms);
    HealthStatus next = status;
    if (ok) {
      failures = 0;
      next = HealthStatus::Healthy;
    } else if (++failures >= std::max(1, cfg.retries)) {
      next = HealthStatus::Unhealthy;
    }
    if (next == status) return;
    status = next;
    if (on_change) on_change(status, detail);
  }

  void begin() {
    ++gen;
    in_flight = true;
    arm(cfg.timeout_ms);
    switch (cfg.kind) {
      case HealthKind::Tcp:
      case HealthKind::Http: return resolve();
      case HealthKind::Command: return run_command();
      case HealthKind::None: return finish(gen, true, "no check configured");
    }
  }

  // --- tcp / http ---------------------------------------------------------
  void resolve() {
    if (!target_error.empty()) return finish(gen, false, target_error);
    addrs.clear();
    next_addr = 0;
    connect_error.clear();
    sockaddr_storage ss{};
    if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss)) == 0 ||
        uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
      addrs.push_back(ss);
      return connect_next();
    }
    auto* r = new Resolve{{}, this};
    r->req.data = r;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop, &r->req, &Impl::on_resolved, host.c_str(), std::to_string(port).c_str(), &hints);
    if (rc != 0) {
      delete r;
      return finish(gen, false, fmt::format("resolve {}: {}", host, uv_strerror(rc)));
    }
    resolving = r;
  }

  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    std::unique_ptr<Resolve> r(static_cast<Resolve*>(req->data));
    Impl* self = r->owner;
    if (self) {
      self->resolving = nullptr;
      for (addrinfo* a = res; status == 0 && a; a = a->ai_next) {
        sockaddr_storage ss{};
        std::memcpy(&ss, a->ai_addr, std::min<size_t>(a->ai_addrlen, sizeof ss));
        self->addrs.push_back(ss);
      }
    }
    uv_freeaddrinfo(res);
    if (!self) return;
    if (status != 0 || self->addrs.empty())
      return self->finish(self->gen, false, fmt::format("resolve {}: {}", self->host, uv_strerror(status)));
    self->connect_next();
  }

  // Try each resolved address in turn ("localhost" may be ::1 first while the service listens on 127.0.0.1).
  void connect_next() {
    while (next_addr < addrs.size()) {
      const auto* addr = reinterpret_cast<const sockaddr*>(&addrs[next_addr++]);
      uv_tcp_t* h = tcp.reset(this);
      int rc = uv_tcp_init(loop, h);
      if (rc == 0) {
        auto* req = new uv_connect_t{};
        rc = uv_tcp_connect(req, h, addr, &Impl::on_connected);
        if (rc == 0) return;
        delete req;
      }
      tcp.close();
      connect_error = fmt::format("connect {}: {}", where(), uv_strerror(rc));
    }
    finish(gen, false, connect_error.empty() ? fmt::format("connect {}: no address", where()) : connect_error);
  }

  static void on_connected(uv_connect_t* req, int status) {
    std::unique_ptr<uv_connect_t> hold(req);
    auto* self = owner_of<Impl>(req->handle);
    if (!self) return;  // cancelled: the handle is closing
    if (status < 0) {
      self->connect_error = fmt::format("connect {}: {}", self->where(), uv_strerror(status));
      self->tcp.close();
      return self->connect_next();
    }
    if (self->cfg.kind == HealthKind::Tcp) return self->finish(self->gen, true, fmt::format("connected to {}", self->where()));
    self->send_request();
  }

  void send_request() {
    auto* w = new WriteReq{};
    w->req.data = w;
    w->data = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: procd-health\r\n\r\n", path,
                          port == 80 ? (host.find(':') != std::string::npos ? "[" + host + "]" : host) : where());
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    auto* stream = reinterpret_cast<uv_stream_t*>(tcp.get());
    int rc = uv_write(&w->req, stream, &buf, 1, [](uv_write_t* req, int status) {
      std::unique_ptr<WriteReq> hold(static_cast<WriteReq*>(req->data));
      auto* self = owner_of<Impl>(req->handle);
      if (self && status < 0) self->finish(self->gen, false, fmt::format("send to {}: {}", self->where(), uv_strerror(status)));
    });
    if (rc != 0) {
      delete w;
      return finish(gen, false, fmt::format("send to {}: {}", where(), uv_strerror(rc)));
    }
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = this;
    received = 0;
    headers_done = false;
    rc = uv_read_start(
        stream,
        [](uv_handle_t* h, size_t, uv_buf_t* b) {
          auto* self = owner_of<Impl>(h);
          *b = self ? uv_buf_init(self->readbuf, sizeof self->readbuf) : uv_buf_init(nullptr, 0);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
          if (auto* self = owner_of<Impl>(s)) self->on_read(n, b->base);
        });
    if (rc != 0) finish(gen, false, fmt::format("read from {}: {}", where(), uv_strerror(rc)));
  }

  void on_read(ssize_t n, const char* data) {
    if (n == 0) return;
    if (n == UV_EOF) return finish(gen, false, fmt::format("{} closed the connection before a response", where()));
    if (n < 0) return finish(gen, false, fmt::format("read from {}: {}", where(), uv_strerror(static_cast<int>(n))));
    received += static_cast<size_t>(n);
    http_parser_execute(&parser, &settings, data, static_cast<size_t>(n));
    if (parser.http_errno == HPE_CB_headers_complete) {
      unsigned code = parser.status_code;
      return finish(gen, code >= 200 && code < 400, fmt::format("HTTP {}", code));
    }
    if (parser.http_errno != HPE_OK)
      return finish(gen, false, fmt::format("invalid HTTP response from {}: {}", where(),
                                            http_errno_description(static_cast<http_errno>(parser.http_errno))));
    if (received > kMaxResponse) finish(gen, false, fmt::format("response headers from {} exceed 64 KiB", where()));
  }

  // --- command --------------------------------------------------------------
  void run_command() {
    if (cfg.command.empty()) return finish(gen, false, "empty health command");
    std::string exe = find_program(cfg.command[0], ctx.env, ctx.working_dir);
    if (exe.empty()) return finish(gen, false, fmt::format("{}: command not found", cfg.command[0]));
    std::vector<char*> argv, envp;
    for (auto& a : cfg.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : ctx.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* const* env = ctx.env.empty() ? environ : envp.data();
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return finish(gen, false, fmt::format("health check pipe: {}", std::strerror(errno)));
    pid_t pid = ::fork();
    if (pid == 0) exec_child(exe.c_str(), argv.data(), env, ctx.working_dir.c_str(), pipefd[1]);
    int fork_err = errno;
    ::close(pipefd[1]);
    if (pid < 0) {
      ::close(pipefd[0]);
      return finish(gen, false, fmt::format("fork health check: {}", std::strerror(fork_err)));
    }
    ::setpgid(pid, pid);  // also in the child: whichever runs first
    std::weak_ptr<int> token = alive;
    std::uint64_t g = gen;
    reaper.watch_child(pid, [token, this, g](int code, int sig) {
      if (token.expired()) return;
      on_child_exit(g, code, sig);
    });
    child = pid;
    int report[2] = {0, 0};
    ssize_t n;
    do n = ::read(pipefd[0], report, sizeof report);  // EOF at exec: a short, bounded wait
    while (n < 0 && errno == EINTR);
    ::close(pipefd[0]);
    if (n == static_cast<ssize_t>(sizeof report)) {
      child = -1;  // exiting with 127 on its own; the reaper collects it
      finish(gen, false, report[0] ? fmt::format("exec {}: {}", exe, std::strerror(report[1]))
                                   : fmt::format("chdir {}: {}", ctx.working_dir, std::strerror(report[1])));
    }
  }

  void on_child_exit(std::uint64_t g, int code, int sig) {
    if (g != gen || !in_flight) return;
    child = -1;
    if (sig != 0) return finish(g, false, fmt::format("health command killed by {}", signal_name(sig)));
    finish(g, code == 0, code == 0 ? std::string("health command exited 0") : fmt::format("health command exited {}", code));
  }
};

HealthChecker::HealthChecker(uv_loop_t* loop, HealthConfig cfg, HealthContext ctx, ChildReaper& reaper, OnChange on_change)
    : impl_(std::make_unique<Impl>(loop, std::move(cfg), std::move(ctx), reaper, std::move(on_change))) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start(std::uint64_t first_delay_ms) {
  stop();
  impl_->running = true;
  impl_->status = HealthStatus::Unknown;
  impl_->failures = 0;
  impl_->detail.clear();
  impl_->arm(static_cast<std::int64_t>(first_delay_ms));
}

void HealthChecker::stop() {
  if (!impl_) return;
  impl_->running = false;
  impl_->in_flight = false;
  ++impl_->gen;
  impl_->cancel_io();
  uv_timer_stop(impl_->timer.get());
}

HealthStatus HealthChecker::status() const { return impl_->status; }
const std::string& HealthChecker::last_detail() const { return impl_->detail; }

// --- pure helpers -------------------------------------------------------------

namespace {

Error bad(std::string msg) { return make_error(Code::ConfigInvalidValue, std::move(msg)); }

std::optional<int> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return std::nullopt;
  return v;
}

bool clean(std::string_view s) {
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f || c == '/' || c == '@' || c == '[' || c == ']') return false;
  return true;
}

// "host:port", "[v6]:port", or (with a default port) "host" / "[v6]".
Result<std::pair<std::string, int>> split_authority(std::string_view text, std::optional<int> default_port) {
  std::string_view host, port;
  bool has_port = false;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return bad(fmt::format("'{}': missing ']' after the IPv6 address", text));
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return bad(fmt::format("'{}': expected ':PORT' after ']'", text));
      port = rest.substr(1);
      has_port = true;
    }
    if (host.find(':') == std::string_view::npos) return bad(fmt::format("'{}': brackets are for IPv6 addresses", text));
  } else {
    auto colon = text.rfind(':');
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (host.find(':') != std::string_view::npos)
      return bad(fmt::format("'{}': write IPv6 addresses in brackets, e.g. [::1]:8080", text));
  }
  if (host.empty()) return bad(fmt::format("'{}': missing host", text));
  if (!clean(host) && host.find(':') == std::string_view::npos) return bad(fmt::format("'{}': invalid host", text));
  int p = 0;
  if (has_port) {
    auto v = parse_port(port);
    if (!v) return bad(fmt::format("'{}': port must be a number from 1 to 65535", text));
    p = *v;
  } else if (default_port) {
    p = *default_port;
  } else {
    return bad(fmt::format("'{}': expected HOST:PORT", text));
  }
  return std::pair<std::string, int>{std::string(host), p};
}

}  // namespace

Result<std::pair<std::string, int>> parse_host_port(const std::string& text) { return split_authority(text, std::nullopt); }

Result<HttpTarget> parse_http_url(const std::string& url) {
  auto starts = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i]) return false;
    return true;
  };
  if (starts("https://")) return bad(fmt::format("'{}': https is not supported; use http:// or a tcp check", url));
  if (!starts("http://")) return bad(fmt::format("'{}': expected http://HOST[:PORT][/PATH]", url));
  std::string_view rest = std::string_view(url).substr(7);
  auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return bad(fmt::format("'{}': credentials in the URL are not supported", url));
  auto hp = split_authority(authority, 80);
  if (!hp.ok()) return bad(fmt::format("'{}': {}", url, hp.error().message));
  HttpTarget t;
  t.host = hp->first;
  t.port = hp->second;
  std::string path(end == std::string_view::npos ? std::string_view{} : rest.substr(end));
  if (auto hash = path.find('#'); hash != std::string::npos) path.erase(hash);
  if (path.empty() || path[0] != '/') path.insert(path.begin(), '/');  // a char: insert(0, "/") trips GCC 12 -Wrestrict
  for (unsigned char c : path)
    if (c <= ' ' || c == 0x7f) return bad(fmt::format("'{}': the path must not contain spaces or control characters", url));
  t.path = std::move(path);
  return t;
}

}  // namespace procd
