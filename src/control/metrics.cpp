// Prometheus text exposition (format 0.0.4) of a MetricsSnapshot.
// Invariants: every family is written as one contiguous block opened by its
// # HELP and # TYPE lines (the format requires it); a family with no sample
// is left out entirely; label values are escaped (\\, \", \n); a number the
// snapshot does not know (resources not tracked) yields no sample rather
// than a misleading 0.
// Speed: a scrape of 1000 services is ~30 000 lines, so the text is written
// into one string reserved up front, each service's label is escaped once,
// and numbers go through std::to_chars (no format-string parsing per line).
#include "procd/metrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace procd {
namespace {

constexpr std::size_t kHistogramLines = DurationHistogram::kBounds.size() + 3;  // buckets, +Inf, _sum, _count

constexpr std::array<std::string_view, 6> kStates = {"starting", "running", "stopping",
                                                     "stopped",  "failed",  "restarting"};

void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

void append_integer(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Prometheus floats: Go's ParseFloat spellings for the special values, the
// shortest round-trip form otherwise (5, 0.25, 1e+21); whole numbers below
// 2^53 print as integers ("100000", where the shortest form is "1e+05").
void append_number(std::string& out, double v) {
  if (std::isnan(v)) return out.append("NaN"), void();
  if (std::isinf(v)) return out.append(v > 0 ? "+Inf" : "-Inf"), void();
  if (std::trunc(v) == v && std::fabs(v) < 9007199254740992.0) {
    if (v < 0) out += '-';
    return append_integer(out, static_cast<std::uint64_t>(std::fabs(v)));
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// The le="..." texts of the histogram buckets, written once.
const std::array<std::string, DurationHistogram::kBounds.size()>& bucket_bounds() {
  static const auto bounds = [] {
    std::array<std::string, DurationHistogram::kBounds.size()> out;
    for (std::size_t i = 0; i < out.size(); ++i) append_number(out[i], DurationHistogram::kBounds[i]);
    return out;
  }();
  return bounds;
}

class Exposition {
 public:
  Exposition(std::string& out, std::size_t reserve) : out_(out) { out_.reserve(out_.size() + reserve); }

  // Opens a family; its header is written with the first sample, so a
  // family without samples leaves no trace.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    type_ = type;
    help_ = help;
    header_written_ = false;
  }
  // Starts a sample line up to its labels: "name{" (or "name" when bare).
  Exposition& begin(std::string_view suffix = {}) {
    if (!header_written_) {
      out_.append("# HELP ").append(name_).append(" ").append(help_).append("\n# TYPE ");
      out_.append(name_).append(" ").append(type_).append("\n");
      header_written_ = true;
    }
    out_.append(name_).append(suffix);
    return *this;
  }
  Exposition& text(std::string_view s) {
    out_.append(s);
    return *this;
  }
  void value(double v) {
    out_ += ' ';
    append_number(out_, v);
    out_ += '\n';
  }
  void count(std::uint64_t v) {
    out_ += ' ';
    append_integer(out_, v);
    out_ += '\n';
  }
  std::string& raw() { return out_; }

 private:
  std::string& out_;
  std::string_view name_, type_, help_;
  bool header_written_ = false;
};

// Each service's {service="..."} label, escaped once per scrape.
struct Labelled {
  const ServiceMetrics* m;
  std::string label;  // {service="NAME"}
  std::string open;   // {service="NAME",  (for a second label)
};

std::vector<Labelled> label_services(const std::vector<ServiceMetrics>& services) {
  std::vector<Labelled> out;
  out.reserve(services.size());
  for (const auto& s : services) {
    Labelled l{&s, "{service=\"", {}};
    append_escaped(l.label, s.name);
    l.open = l.label + "\",";
    l.label += "\"}";
    out.push_back(std::move(l));
  }
  return out;
}

void histogram(Exposition& x, const std::vector<Labelled>& services, const DurationHistogram* ServiceMetrics::*which) {
  const auto& bounds = bucket_bounds();
  for (const auto& s : services) {
    const DurationHistogram* h = s.m->*which;
    // As a labelled histogram in the Prometheus client libraries: a
    // service's series appear with its first observation (and the
    // exposition of 1000 never-stopped services stays small).
    if (!h || h->count == 0) continue;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cumulative += h->in_bucket[i];
      x.begin("_bucket").text(s.open).text("le=\"").text(bounds[i]).text("\"}").count(cumulative);
    }
    x.begin("_bucket").text(s.open).text("le=\"+Inf\"}").count(h->count);
    x.begin("_sum").text(s.label).value(h->sum);
    x.begin("_count").text(s.label).count(h->count);
  }
}

void render_services(Exposition& x, const std::vector<Labelled>& services) {
  x.family("procd_service_up", "gauge", "Whether the service is running (1) or not (0).");
  for (const auto& s : services) x.begin().text(s.label).count(s.m->state == "running" ? 1 : 0);

  x.family("procd_service_state", "gauge", "The service's current state: 1 for the current one, 0 for the others.");
  for (const auto& s : services) {
    bool known = false;
    for (auto st : kStates) {
      known = known || st == s.m->state;
      x.begin().text(s.open).text("state=\"").text(st).text("\"}").count(st == s.m->state ? 1 : 0);
    }
    // A state this version does not know still shows up, rather than the
    // service seeming to be in none.
    if (!known && !s.m->state.empty()) {
      x.begin().text(s.open).text("state=\"");
      append_escaped(x.raw(), s.m->state);
      x.text("\"}").count(1);
    }
  }

  x.family("procd_service_restarts_total", "counter", "Restarts of the service since procd started.");
  for (const auto& s : services) x.begin().text(s.label).count(static_cast<std::uint64_t>(std::max(0, s.m->restarts)));

  x.family("procd_service_uptime_seconds", "gauge", "Seconds since the service's current run started (0 when not up).");
  for (const auto& s : services) x.begin().text(s.label).value(s.m->uptime_seconds);

  x.family("procd_service_cpu_seconds_total", "counter", "CPU time (user + system) of the service's process group.");
  for (const auto& s : services)
    if (s.m->cpu_seconds) x.begin().text(s.label).value(*s.m->cpu_seconds);

  x.family("procd_service_memory_bytes", "gauge", "Resident memory (RSS) of the service's process group.");
  for (const auto& s : services)
    if (s.m->memory_bytes) x.begin().text(s.label).count(*s.m->memory_bytes);

  x.family("procd_service_healthy", "gauge", "Health check result: 1 healthy, 0 unhealthy (services with a check only).");
  for (const auto& s : services)
    if (s.m->healthy) x.begin().text(s.label).count(*s.m->healthy ? 1 : 0);

  x.family("procd_service_spawns_total", "counter", "Processes spawned for the service since procd started.");
  for (const auto& s : services) x.begin().text(s.label).count(s.m->spawns);

  x.family("procd_service_last_exit_code", "gauge", "Exit code of the service's last run (128+N for signal N); absent before one ended.");
  for (const auto& s : services)
    if (s.m->last_exit_code) x.begin().text(s.label).value(*s.m->last_exit_code);

  x.family("procd_service_start_duration_seconds", "histogram", "Seconds from spawn to ready, per start.");
  histogram(x, services, &ServiceMetrics::start);
  x.family("procd_service_stop_duration_seconds", "histogram", "Seconds from the stop request to the end of the run, per stop.");
  histogram(x, services, &ServiceMetrics::stop);
}

void render_process(Exposition& x, const ProcessMetrics& p) {
  x.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  x.begin().value(p.cpu_seconds);
  x.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  x.begin().count(p.resident_bytes);
  x.family("process_open_fds", "gauge", "Number of open file descriptors.");
  x.begin().count(p.open_fds);
  x.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  x.begin().value(p.start_time_seconds);
}

// Enough for the whole text in the common case, so it is never copied while
// it grows: about 60 bytes of line around each label.
std::size_t estimated_size(const std::vector<Labelled>& services) {
  std::size_t n = 4096;
  for (const auto& s : services) {
    std::size_t lines = 16;
    if (s.m->start && s.m->start->count) lines += kHistogramLines;
    if (s.m->stop && s.m->stop->count) lines += kHistogramLines;
    n += lines * (64 + s.label.size());
  }
  return n;
}

}  // namespace

void render_metrics(const MetricsSnapshot& m, std::string& out) {
  std::vector<Labelled> services = label_services(m.services);
  Exposition x(out, estimated_size(services));
  x.family("procd_build_info", "gauge", "procd's version; always 1.");
  x.begin().text("{version=\"");
  append_escaped(x.raw(), m.version.empty() ? "unknown" : m.version);
  x.text("\"}").count(1);
  x.family("procd_up", "gauge", "Whether the procd supervisor is up (1 when it answers).");
  x.begin().count(1);
  if (m.uptime_seconds) {
    x.family("procd_uptime_seconds", "gauge", "Seconds since the procd supervisor started.");
    x.begin().value(*m.uptime_seconds);
  }
  x.family("procd_spawns_total", "counter", "Service processes spawned since procd started.");
  x.begin().count(m.counters.spawns_total);
  x.family("procd_reloads_total", "counter", "Configuration reloads since procd started, by result.");
  x.begin().text("{result=\"ok\"}").count(m.counters.reloads_ok);
  x.begin().text("{result=\"error\"}").count(m.counters.reloads_failed);

  // One pass per family keeps each family contiguous, as the format demands.
  render_services(x, services);
  if (m.process) render_process(x, *m.process);
}

std::string render_metrics(const MetricsSnapshot& m) {
  std::string out;
  render_metrics(m, out);
  return out;
}

}  // namespace procd
