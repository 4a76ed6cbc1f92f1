// Unit tests for src/control/metrics.cpp: exact exposition lines for a
// status snapshot, family blocks contiguous with HELP/TYPE first, label
// escaping, and samples left out when the snapshot does not know a value.
#include <doctest/doctest.h>

#include <cmath>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "procd/metrics.hpp"

using namespace procd;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

MetricsSnapshot snapshot(SupervisorCounters counters = {}) {
  MetricsSnapshot m;
  m.uptime_seconds = 5.5;
  m.counters = counters;
  ServiceMetrics web;
  web.name = "web";
  web.state = "running";
  web.restarts = 2;
  web.uptime_seconds = 4;
  web.last_exit_code = 1;
  web.healthy = true;
  web.cpu_seconds = 1.25;
  web.memory_bytes = 1048576;
  ServiceMetrics db;
  db.name = "db";
  db.state = "failed";
  db.restarts = 5;
  db.last_exit_code = 137;
  db.healthy = false;
  ServiceMetrics job;
  job.name = "job";
  job.state = "stopped";
  m.services = {web, db, job};
  return m;
}

}  // namespace

TEST_CASE("metrics: supervisor families") {
  std::string text = render_metrics(snapshot(SupervisorCounters{7, 3, 1}));
  CHECK(text.rfind("# HELP procd_build_info ", 0) == 0);
  CHECK(has_line(text, "# TYPE procd_up gauge"));
  CHECK(has_line(text, "procd_up 1"));
  CHECK(has_line(text, "# TYPE procd_uptime_seconds gauge"));
  CHECK(has_line(text, "procd_uptime_seconds 5.5"));
  CHECK(has_line(text, "# TYPE procd_spawns_total counter"));
  CHECK(has_line(text, "procd_spawns_total 7"));
  CHECK(has_line(text, "# TYPE procd_reloads_total counter"));
  CHECK(has_line(text, "procd_reloads_total{result=\"ok\"} 3"));
  CHECK(has_line(text, "procd_reloads_total{result=\"error\"} 1"));
  CHECK(text.back() == '\n');
}

TEST_CASE("metrics: service families") {
  std::string text = render_metrics(snapshot());
  CHECK(has_line(text, "# TYPE procd_service_up gauge"));
  CHECK(has_line(text, "procd_service_up{service=\"web\"} 1"));
  CHECK(has_line(text, "procd_service_up{service=\"db\"} 0"));
  CHECK(has_line(text, "procd_service_up{service=\"job\"} 0"));

  CHECK(has_line(text, "procd_service_state{service=\"web\",state=\"running\"} 1"));
  CHECK(has_line(text, "procd_service_state{service=\"web\",state=\"stopped\"} 0"));
  CHECK(has_line(text, "procd_service_state{service=\"db\",state=\"failed\"} 1"));
  CHECK(has_line(text, "procd_service_state{service=\"db\",state=\"restarting\"} 0"));

  CHECK(has_line(text, "# TYPE procd_service_restarts_total counter"));
  CHECK(has_line(text, "procd_service_restarts_total{service=\"web\"} 2"));
  CHECK(has_line(text, "procd_service_restarts_total{service=\"db\"} 5"));

  CHECK(has_line(text, "procd_service_uptime_seconds{service=\"web\"} 4"));
  CHECK(has_line(text, "procd_service_uptime_seconds{service=\"db\"} 0"));

  CHECK(has_line(text, "# TYPE procd_service_cpu_seconds_total counter"));
  CHECK(has_line(text, "procd_service_cpu_seconds_total{service=\"web\"} 1.25"));
  CHECK(has_line(text, "procd_service_memory_bytes{service=\"web\"} 1048576"));
  // Unknown resources (null, missing) give no sample at all.
  CHECK(text.find("procd_service_cpu_seconds_total{service=\"db\"}") == std::string::npos);
  CHECK(text.find("procd_service_memory_bytes{service=\"job\"}") == std::string::npos);

  CHECK(has_line(text, "procd_service_healthy{service=\"web\"} 1"));
  CHECK(has_line(text, "procd_service_healthy{service=\"db\"} 0"));
  CHECK(text.find("procd_service_healthy{service=\"job\"}") == std::string::npos);
}

TEST_CASE("metrics: every family is one block with HELP then TYPE first") {
  std::string text = render_metrics(snapshot());
  std::vector<std::string> seen;
  std::string current;
  auto lines = lines_of(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l.rfind("# HELP ", 0) == 0) {
      current = l.substr(7, l.find(' ', 7) - 7);
      for (const auto& s : seen) CHECK(s != current);  // never reopened
      seen.push_back(current);
      REQUIRE(i + 1 < lines.size());
      CHECK(lines[i + 1].rfind("# TYPE " + current + " ", 0) == 0);
      continue;
    }
    if (l.rfind("# TYPE ", 0) == 0) continue;
    CAPTURE(l);
    CHECK(l.rfind(current, 0) == 0);
    CHECK((l[current.size()] == ' ' || l[current.size()] == '{'));
  }
  CHECK(seen.size() == 14);  // with procd_build_info; histograms and process_* are absent here
}

TEST_CASE("metrics: label escaping and odd snapshots") {
  MetricsSnapshot m;
  ServiceMetrics odd;
  odd.name = "a\"b\\c\nd";
  odd.state = "we\"ird";
  m.services = {odd};
  std::string text = render_metrics(m);
  CHECK(has_line(text, "procd_service_up{service=\"a\\\"b\\\\c\\nd\"} 0"));
  // A state this version does not know is still reported.
  CHECK(has_line(text, "procd_service_state{service=\"a\\\"b\\\\c\\nd\",state=\"we\\\"ird\"} 1"));
  // No uptime in the snapshot: no procd_uptime_seconds family at all.
  CHECK(text.find("procd_uptime_seconds") == std::string::npos);
  CHECK(text.find("procd_service_healthy") == std::string::npos);
  CHECK(has_line(text, "procd_build_info{version=\"unknown\"} 1"));

  // No service at all: supervisor families only.
  std::string bare = render_metrics(MetricsSnapshot{});
  CHECK(has_line(bare, "procd_up 1"));
  CHECK(bare.find("procd_service_") == std::string::npos);
}

TEST_CASE("metrics: numbers in Prometheus spellings") {
  MetricsSnapshot m;
  ServiceMetrics s;
  s.name = "n";
  s.state = "running";
  m.services = {s};
  const double values[] = {100000, 0.1, 1e21, -2.5, 1700000000.5, std::nan(""),
                           std::numeric_limits<double>::infinity()};
  const char* texts[] = {"100000", "0.1", "1e+21", "-2.5", "1700000000.5", "NaN", "+Inf"};
  for (std::size_t i = 0; i < std::size(values); ++i) {
    m.services[0].uptime_seconds = values[i];
    CAPTURE(texts[i]);
    CHECK(has_line(render_metrics(m), std::string("procd_service_uptime_seconds{service=\"n\"} ") + texts[i]));
  }
}

TEST_CASE("metrics: 1000 services render every series") {
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back("svc-" + std::to_string(i));
  DurationHistogram started;
  started.observe(0.02);
  MetricsSnapshot m;
  for (const auto& n : names) {
    ServiceMetrics s;
    s.name = n;
    s.state = "running";
    s.start = &started;
    m.services.push_back(s);
  }
  std::string text = render_metrics(m);
  std::size_t buckets = 0;
  for (const auto& l : lines_of(text)) buckets += l.rfind("procd_service_start_duration_seconds_bucket{", 0) == 0;
  CHECK(buckets == 1000 * (DurationHistogram::kBounds.size() + 1));
  CHECK(has_line(text, "procd_service_start_duration_seconds_bucket{service=\"svc-999\",le=\"0.025\"} 1"));
  CHECK(has_line(text, "procd_service_start_duration_seconds_bucket{service=\"svc-999\",le=\"0.01\"} 0"));
  CHECK(has_line(text, "procd_service_state{service=\"svc-0\",state=\"restarting\"} 0"));
}

TEST_CASE("metrics: build info, spawns, last exit, histograms, process series") {
  DurationHistogram started, none;
  started.observe(0.002);
  started.observe(3);
  MetricsSnapshot m = snapshot();
  m.version = "1.2.3";
  m.services[0].spawns = 4;
  m.services[0].last_exit_code = 143;
  m.services[0].start = &started;
  m.services[0].stop = &none;
  m.services[2].last_exit_code.reset();
  m.services[2].start = &none;
  m.process = ProcessMetrics{1.5, 4096, 12, 1700000000.5};
  std::string text = render_metrics(m);
  CHECK(has_line(text, "procd_build_info{version=\"1.2.3\"} 1"));
  CHECK(has_line(text, "# TYPE procd_service_spawns_total counter"));
  CHECK(has_line(text, "procd_service_spawns_total{service=\"web\"} 4"));
  CHECK(has_line(text, "procd_service_last_exit_code{service=\"web\"} 143"));
  CHECK(text.find("procd_service_last_exit_code{service=\"job\"}") == std::string::npos);
  CHECK(has_line(text, "# TYPE procd_service_start_duration_seconds histogram"));
  CHECK(has_line(text, "procd_service_start_duration_seconds_bucket{service=\"web\",le=\"0.005\"} 1"));
  CHECK(has_line(text, "procd_service_start_duration_seconds_bucket{service=\"web\",le=\"2.5\"} 1"));
  CHECK(has_line(text, "procd_service_start_duration_seconds_bucket{service=\"web\",le=\"5\"} 2"));
  CHECK(has_line(text, "procd_service_start_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 2"));
  CHECK(has_line(text, "procd_service_start_duration_seconds_sum{service=\"web\"} 3.002"));
  CHECK(has_line(text, "procd_service_start_duration_seconds_count{service=\"web\"} 2"));
  // no observation yet: no series (and no family at all for stop durations)
  CHECK(text.find("procd_service_start_duration_seconds_count{service=\"job\"}") == std::string::npos);
  CHECK(text.find("procd_service_stop_duration_seconds") == std::string::npos);
  CHECK(has_line(text, "process_cpu_seconds_total 1.5"));
  CHECK(has_line(text, "process_resident_memory_bytes 4096"));
  CHECK(has_line(text, "process_open_fds 12"));
  CHECK(has_line(text, "process_start_time_seconds 1700000000.5"));
}
