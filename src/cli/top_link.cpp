// The two TopLinks (top_link.hpp). The socket one is the control protocol
// as `procd status`, `logs -f` and `events` speak it. The HTTP one uses
// the routes of the HTTP endpoint: GET /status, /events (server-sent
// events: each `data:` line is one event item; comments and blank lines
// are skipped), /logs?service=NAME&n=N&follow=1 (JSON lines), and POST
// /services/NAME/start|stop|restart and /reload with the bearer token. The
// endpoint has no route to send a signal: `S` says so (6003).
#include "top_link.hpp"

#include <fmt/format.h>

#include "control_internal.hpp"
#include "procd/control_client.hpp"

namespace procd::cli {
namespace {

using json = nlohmann::json;

constexpr int kStreamOpenMs = 5000;
constexpr int kReloadMs = 120000;

class SocketStream : public TopStream {
 public:
  explicit SocketStream(std::unique_ptr<ControlClient> c) : c_(std::move(c)) {}
  int fd() const override { return c_->fd(); }
  Result<std::optional<json>> next() override { return c_->next_item(0); }

 private:
  std::unique_ptr<ControlClient> c_;
};

class SocketLink : public TopLink {
 public:
  explicit SocketLink(std::string socket) : socket_(std::move(socket)) {}
  std::string where() const override { return "on " + socket_; }
  Result<std::unique_ptr<TopStream>> events() override { return open(make_request("events"), 2000); }
  Result<std::unique_ptr<TopStream>> logs(const std::string& service, int lines) override {
    return open(make_request("logs", {service}, false, json{{"lines", lines}, {"follow", true}}), kStreamOpenMs);
  }
  Result<json> status() override { return call_ok(socket_, make_request("status"), 5000); }
  Result<Reply> verb(const std::string& verb, const std::string& service, const std::string& sig) override {
    if (verb == "reload") return send_request(socket_, make_request("reload"), kReloadMs);
    if (verb == "signal") return send_request(socket_, make_request("signal", {service}, false, json{{"signal", sig}}));
    return send_request(socket_, make_request(verb, {service}), 30000);
  }
  bool lost(const Error& e) const override { return e.code == Code::ControlUnreachable || e.code == Code::IoSocket; }

 private:
  Result<std::unique_ptr<TopStream>> open(const Request& req, int timeout_ms) {
    auto c = std::make_unique<ControlClient>();
    if (auto r = c->connect(socket_, 1000); !r.ok()) return r.error();
    if (auto r = c->open_stream(req, timeout_ms); !r.ok()) return r.error();
    return std::unique_ptr<TopStream>(std::make_unique<SocketStream>(std::move(c)));
  }
  std::string socket_;
};

Result<json> parse_json(const std::string& url, const std::string& text) {
  if (json_nesting_exceeds(text)) return make_error(Code::HttpReplyMalformed, fmt::format("{}: a reply nested too deep", url));
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error(Code::HttpReplyMalformed, fmt::format("{}: a reply that is not a JSON object", url));
  return j;
}

class HttpStream : public TopStream {
 public:
  HttpStream(std::unique_ptr<HttpLineStream> s, bool sse, std::string url) : s_(std::move(s)), sse_(sse), url_(std::move(url)) {}
  int fd() const override { return s_->fd(); }
  Result<std::optional<json>> next() override {
    for (;;) {
      auto line = s_->next_line();
      if (!line.ok()) return line.error();
      if (!*line) return std::optional<json>();
      std::string_view text = **line;
      if (sse_) {  // only `data:` lines carry an item
        if (text.rfind("data:", 0) != 0) continue;
        text.remove_prefix(text.size() > 5 && text[5] == ' ' ? 6 : 5);
      }
      if (text.empty()) continue;
      auto j = parse_json(url_, std::string(text));
      if (!j.ok()) return j.error();
      return std::optional<json>(std::move(*j));
    }
  }

 private:
  std::unique_ptr<HttpLineStream> s_;
  bool sse_;
  std::string url_;
};

// Service names and numbers only: the characters a name may have are safe in a query.
std::string query_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '@') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

class HttpLink : public TopLink {
 public:
  explicit HttpLink(HttpEndpoint ep) : ep_(std::move(ep)) {}
  std::string where() const override { return "at " + ep_.url; }
  Result<std::unique_ptr<TopStream>> events() override { return open("/events", true); }
  Result<std::unique_ptr<TopStream>> logs(const std::string& service, int lines) override {
    return open(fmt::format("/logs?service={}&n={}&follow=1", query_escape(service), lines), false);
  }
  Result<json> status() override {
    auto r = http_call(ep_, "GET", "/status", kHttpReplyMs);
    if (!r.ok()) return r.error();
    if (r->status != 200) return http_status_error(ep_, *r);
    return parse_json(ep_.url, r->body);
  }
  Result<Reply> verb(const std::string& verb, const std::string& service, const std::string&) override {
    if (verb == "signal")
      return make_error(Code::RuntimeNotAvailable, "signals cannot be sent over HTTP (procd's endpoint has no such route); use the control socket");
    std::string path = verb == "reload" ? "/reload" : fmt::format("/services/{}/{}", query_escape(service), verb);
    auto r = http_call(ep_, "POST", path, verb == "reload" ? kReloadMs : kHttpReplyMs);
    if (!r.ok()) return r.error();
    // 200, and 422 for a refused reload, carry a control reply; anything else is an HTTP error.
    if (r->status != 200 && !(verb == "reload" && r->status == 422)) return http_status_error(ep_, *r);
    std::string line = r->body;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    auto reply = parse_reply(line);
    if (!reply.ok()) return make_error(Code::HttpReplyMalformed, fmt::format("{}: {}", ep_.url, reply.error().message));
    return reply;
  }
  bool lost(const Error& e) const override { return e.code == Code::HttpUnreachable; }

 private:
  Result<std::unique_ptr<TopStream>> open(const std::string& path, bool sse) {
    auto s = std::make_unique<HttpLineStream>();
    if (auto r = s->open(ep_, path, kStreamOpenMs); !r.ok()) return r.error();
    return std::unique_ptr<TopStream>(std::make_unique<HttpStream>(std::move(s), sse, ep_.url));
  }
  HttpEndpoint ep_;
};

}  // namespace

std::unique_ptr<TopLink> socket_link(std::string socket) { return std::make_unique<SocketLink>(std::move(socket)); }
std::unique_ptr<TopLink> http_link(HttpEndpoint endpoint) { return std::make_unique<HttpLink>(std::move(endpoint)); }

}  // namespace procd::cli
