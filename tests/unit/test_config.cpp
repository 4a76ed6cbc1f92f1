// Config loading: every documented default, every SPEC key read, paths
// resolved against the config directory, services in file order, sizes,
// signal names, and the small helpers.
#include <doctest/doctest.h>

#include <csignal>
#include <sys/resource.h>

#include "procd/config_load.hpp"
#include "procd/signal_names.hpp"

using namespace procd;

namespace {
const std::vector<std::string> kNoEnv;

Config load_ok(const std::string& text) {
  LoadOptions opts;
  opts.environment = &kNoEnv;
  opts.as_root = false;
  auto r = load_config_text(text, "/etc/stack/procd.toml", opts);
  for (const auto& e : r.errors) MESSAGE(e.format());
  REQUIRE(r.ok());
  return *r.config;
}
}  // namespace

TEST_CASE("config: an empty file gives every documented default") {
  Config c = load_ok("");
  CHECK(c.path == "/etc/stack/procd.toml");
  CHECK(c.dir == "/etc/stack");
  CHECK(c.name == "procd");
  CHECK(c.pid_file == "/etc/stack/.procd.pid");
  CHECK(c.hot_reload);
  CHECK(c.logging.level == LogLevel::Info);
  CHECK_FALSE(c.logging.json);
  CHECK(c.logging.color);
  CHECK(c.logging.file.empty());
  CHECK(c.logging.max_file_size == 104857600);
  CHECK(c.logging.max_files == 5);
  CHECK(c.shutdown.graceful == 30000);
  CHECK(c.shutdown.force == 45000);
  CHECK(c.shutdown.kill == 60000);
  CHECK(c.monitoring.enable_metrics);
  CHECK(c.monitoring.metrics_interval_ms == 1000);
  CHECK(c.monitoring.track_resources);
  CHECK(c.monitoring.health_checks);
  CHECK(c.control.socket == "/etc/stack/.procd.sock");
  CHECK(c.control.mode == 0600);
  CHECK(c.control.group.empty());
  CHECK(c.control.http.empty());
  CHECK(c.signals.sighup == SighupAction::Reload);
  CHECK(c.signals.forward == std::vector<int>{SIGUSR1, SIGUSR2, SIGWINCH});
  CHECK(c.services.empty());
}

TEST_CASE("config: a minimal service gets every service default") {
  Config c = load_ok("[services.web]\ncommand = [\"./server\"]\n");
  REQUIRE(c.services.size() == 1);
  const ServiceConfig& s = c.services[0];
  CHECK(s.name == "web");
  CHECK(s.command == std::vector<std::string>{"./server"});
  CHECK(s.working_dir.empty());
  CHECK(s.env.empty());
  CHECK(s.env_file.empty());
  CHECK(s.user.empty());
  CHECK_FALSE(s.umask);
  CHECK(s.autostart);
  CHECK(s.depends_on.empty());
  CHECK(s.stop_signal == SIGTERM);
  CHECK(s.stop_timeout_ms == -1);
  CHECK(c.stop_timeout_of(s) == 30000);
  CHECK(s.success_exit_codes == std::vector<int>{0});
  CHECK(s.memory_limit == 0);
  CHECK_FALSE(s.critical);
  CHECK(s.nice == 0);
  CHECK(s.rlimits.empty());
  CHECK(s.restart.policy == RestartPolicyKind::Never);
  CHECK(s.restart.delay_ms == 100);
  CHECK(s.restart.initial_delay_ms == 1000);
  CHECK(s.restart.max_delay_ms == 60000);
  CHECK(s.restart.max_attempts == 5);
  CHECK(s.ready.kind == ReadyKind::Started);
  CHECK(s.start_timeout_ms == 90000);
  CHECK(s.watchdog_ms == 0);
  CHECK(s.health.kind == HealthKind::None);
  CHECK(s.log.file.empty());
  CHECK(s.log.merge_stderr);
  CHECK_FALSE(s.log.timestamps);
  CHECK(c.find_service("web") == &c.services[0]);
  CHECK(c.find_service("nope") == nullptr);
}

TEST_CASE("config: every SPEC key is read") {
  Config c = load_ok(R"(
name = "my-stack"
pid_file = "/run/procd.pid"
hot_reload = false
[logging]
level = "debug"
json = true
color = false
file = "log/procd.log"
max_file_size = "10M"
max_files = 2
[shutdown]
graceful = 100
force = 200
kill = 300
[monitoring]
enable_metrics = false
metrics_interval_ms = 250
track_resources = false
health_checks = false
[control]
socket = "/tmp/p.sock"
mode = "0660"
group = "procd"
http = "127.0.0.1:9100"
[signals]
sighup = "forward"
forward = ["SIGUSR1", "HUP", 28]
[services.db]
command = "postgres -D '/var/lib/pg data'"
ready = "notify"
start_timeout_ms = 5000
watchdog_ms = 2000
[services.web]
command = ["./server", "--port", "8080"]
working_dir = "app"
env = { RUST_LOG = "info", PORT = 8080 }
umask = "022"
autostart = false
depends_on = { db = "ready", migrate = "completed" }
stop_signal = "INT"
stop_timeout_ms = 10000
success_exit_codes = [0, 143]
memory_limit = "512M"
critical = true
nice = 5
rlimits = { nofile = 65536, core = "unlimited" }
ready = { log = "listening on [0-9]+" }
[services.web.restart]
policy = "exponential-backoff"
initial_delay_ms = 500
max_delay_ms = 8000
max_attempts = 0
[services.web.health]
http = "http://127.0.0.1:8080/healthz"
interval_ms = 2000
timeout_ms = 500
retries = 2
[services.web.log]
file = "/var/log/web.log"
max_file_size = 1024
max_files = 1
stderr = "separate"
timestamps = true
[services.migrate]
command = "sh -c './manage.py migrate'"
depends_on = ["db"]
restart = "never"
ready = { min_uptime_ms = 1500 }
[services.cron]
command = ["cron", "-f"]
restart = { policy = "always", delay_ms = 50, start_limit = { burst = 3, interval_ms = 1000 } }
health = { tcp = "127.0.0.1:5432" }
)");
  CHECK(c.name == "my-stack");
  CHECK(c.pid_file == "/run/procd.pid");
  CHECK_FALSE(c.hot_reload);
  CHECK(c.logging.level == LogLevel::Debug);
  CHECK(c.logging.json);
  CHECK_FALSE(c.logging.color);
  CHECK(c.logging.file == "/etc/stack/log/procd.log");
  CHECK(c.logging.max_file_size == 10 * 1024 * 1024);
  CHECK(c.logging.max_files == 2);
  CHECK(c.shutdown.graceful == 100);
  CHECK(c.shutdown.force == 200);
  CHECK(c.shutdown.kill == 300);
  CHECK_FALSE(c.monitoring.enable_metrics);
  CHECK(c.monitoring.metrics_interval_ms == 250);
  CHECK_FALSE(c.monitoring.track_resources);
  CHECK_FALSE(c.monitoring.health_checks);
  CHECK(c.control.socket == "/tmp/p.sock");
  CHECK(c.control.mode == 0660);
  CHECK(c.control.group == "procd");
  CHECK(c.control.http == "127.0.0.1:9100");
  CHECK(c.signals.sighup == SighupAction::Forward);
  CHECK(c.signals.forward == std::vector<int>{SIGUSR1, SIGHUP, 28});

  REQUIRE(c.services.size() == 4);
  const auto& db = c.services[0];
  CHECK(db.name == "db");
  CHECK(db.command == std::vector<std::string>{"postgres", "-D", "/var/lib/pg data"});
  CHECK(db.ready.kind == ReadyKind::Notify);
  CHECK(db.start_timeout_ms == 5000);
  CHECK(db.watchdog_ms == 2000);

  const auto& web = c.services[1];
  CHECK(web.name == "web");
  CHECK(web.working_dir == "/etc/stack/app");
  CHECK(web.env == std::map<std::string, std::string>{{"PORT", "8080"}, {"RUST_LOG", "info"}});
  REQUIRE(web.umask);
  CHECK(*web.umask == 022);
  CHECK_FALSE(web.autostart);
  REQUIRE(web.depends_on.size() == 2);
  CHECK(web.stop_signal == SIGINT);
  CHECK(web.stop_timeout_ms == 10000);
  CHECK(c.stop_timeout_of(web) == 10000);
  CHECK(web.success_exit_codes == std::vector<int>{0, 143});
  CHECK(web.memory_limit == 512ull * 1024 * 1024);
  CHECK(web.critical);
  CHECK(web.nice == 5);
  REQUIRE(web.rlimits.size() == 2);
  CHECK(web.ready.kind == ReadyKind::LogMatch);
  CHECK(web.ready.log_regex == "listening on [0-9]+");
  CHECK(web.restart.policy == RestartPolicyKind::ExponentialBackoff);
  CHECK(web.restart.initial_delay_ms == 500);
  CHECK(web.restart.max_delay_ms == 8000);
  CHECK(web.restart.max_attempts == 0);
  CHECK(web.health.kind == HealthKind::Http);
  CHECK(web.health.target == "http://127.0.0.1:8080/healthz");
  CHECK(web.health.host == "127.0.0.1");  // parsed once, here; the checker uses these
  CHECK(web.health.port == 8080);
  CHECK(web.health.path == "/healthz");
  CHECK(web.health.interval_ms == 2000);
  CHECK(web.health.timeout_ms == 500);
  CHECK(web.health.retries == 2);
  CHECK(web.log.file == "/var/log/web.log");
  CHECK(web.log.max_file_size == 1024);
  CHECK(web.log.max_files == 1);
  CHECK_FALSE(web.log.merge_stderr);
  CHECK(web.log.timestamps);

  const auto& migrate = c.services[2];
  CHECK(migrate.command == std::vector<std::string>{"sh", "-c", "./manage.py migrate"});
  REQUIRE(migrate.depends_on.size() == 1);
  CHECK(migrate.depends_on[0].service == "db");
  CHECK(migrate.depends_on[0].condition == DependCondition::Ready);
  CHECK(migrate.ready.kind == ReadyKind::MinUptime);
  CHECK(migrate.ready.min_uptime_ms == 1500);

  const auto& cron = c.services[3];
  CHECK(cron.restart.policy == RestartPolicyKind::Always);
  CHECK(cron.restart.delay_ms == 50);
  CHECK(cron.restart.start_limit_burst == 3);
  CHECK(cron.restart.start_limit_interval_ms == 1000);
  CHECK(cron.health.kind == HealthKind::Tcp);
  CHECK(cron.health.target == "127.0.0.1:5432");
  CHECK(cron.health.host == "127.0.0.1");
  CHECK(cron.health.port == 5432);
}

TEST_CASE("config: services keep file order, not hash or name order") {
  Config c = load_ok(R"(
[services.zeta]
command = "z"
[services.alpha]
command = "a"
[services.mid]
command = "m"
[services.beta]
command = "b"
)");
  std::vector<std::string> names;
  for (const auto& s : c.services) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"zeta", "alpha", "mid", "beta"});
}

TEST_CASE("config: dependency conditions and rlimit values") {
  Config c = load_ok(R"(
[services.a]
command = "a"
[services.b]
command = "b"
depends_on = { a = "started" }
rlimits = { nofile = 1024, core = "unlimited" }
)");
  const auto& b = c.services[1];
  CHECK(b.depends_on[0].condition == DependCondition::Started);
  CHECK(b.rlimits[0].name == "nofile");
  CHECK(b.rlimits[0].resource == RLIMIT_NOFILE);
  CHECK(b.rlimits[0].value == 1024);
  CHECK(b.rlimits[1].name == "core");
  CHECK(b.rlimits[1].value == UINT64_MAX);
}

TEST_CASE("config: reload comparison sees changes") {
  Config a = load_ok("[services.web]\ncommand = \"x\"\n");
  Config b = load_ok("[services.web]\ncommand = \"x\"\n");
  CHECK(a.services[0] == b.services[0]);
  Config c = load_ok("[services.web]\ncommand = \"x\"\nrestart = \"always\"\n");
  CHECK_FALSE(a.services[0] == c.services[0]);
}

TEST_CASE("config: parse_size") {
  CHECK(parse_size("4096").value() == 4096);
  CHECK(parse_size("64k").value() == 64 * 1024);
  CHECK(parse_size("512M").value() == 512ull << 20);
  CHECK(parse_size("512MB").value() == 512ull << 20);
  CHECK(parse_size("512MiB").value() == 512ull << 20);
  CHECK(parse_size("1G").value() == 1ull << 30);
  CHECK(parse_size("2T").value() == 2ull << 40);
  CHECK(parse_size("10B").value() == 10);
  for (const char* bad : {"", "M", "12X", "1.5G", "-1", "5 GiBs", "99999999999999999999", "17179869184T"}) {
    auto r = parse_size(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().code == Code::ConfigInvalidSize);
  }
}

TEST_CASE("config: names of enums") {
  CHECK(std::string(log_level_name(LogLevel::Warn)) == "warn");
  CHECK(std::string(restart_policy_name(RestartPolicyKind::OnFailure)) == "on-failure");
  CHECK(std::string(restart_policy_name(RestartPolicyKind::ExponentialBackoff)) == "exponential-backoff");
}

TEST_CASE("config: signal names") {
  CHECK(parse_signal("SIGTERM") == SIGTERM);
  CHECK(parse_signal("TERM") == SIGTERM);
  CHECK(parse_signal("sigterm") == SIGTERM);
  CHECK(parse_signal("hup") == SIGHUP);
  CHECK(parse_signal("9") == SIGKILL);
  CHECK(parse_signal("SIGRTMIN") == SIGRTMIN);
  CHECK(parse_signal("SIGRTMIN+2") == SIGRTMIN + 2);
  CHECK(parse_signal("RTMAX-1") == SIGRTMAX - 1);
  CHECK_FALSE(parse_signal("SIGNOPE"));
  CHECK_FALSE(parse_signal("0"));
  CHECK_FALSE(parse_signal("999"));
  CHECK_FALSE(parse_signal(""));
  CHECK_FALSE(parse_signal("SIG"));
  CHECK(signal_name(SIGTERM) == "SIGTERM");
  CHECK(signal_name(SIGWINCH) == "SIGWINCH");
  CHECK(signal_name(SIGRTMIN + 3) == "SIGRTMIN+3");
  CHECK(signal_name(200) == "SIG200");
}

TEST_CASE("config: find_config_path prefers the explicit path") {
  CHECK(find_config_path("/x/y.toml") == "/x/y.toml");
}

TEST_CASE("config: load_config on a missing file is error 1013 naming it") {
  auto r = load_config("/nonexistent/dir/procd.toml");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == Code::ConfigFileUnreadable);
  CHECK(r.errors[0].format().rfind("/nonexistent/dir/procd.toml: error[1013]", 0) == 0);
}
