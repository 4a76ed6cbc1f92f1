// Prometheus text exposition (format 0.0.4) of a status snapshot. Pure: the
// input is the JSON object `procd status --json` prints, the output a string.
// Invariants: every family is written as one contiguous block opened by its
// # HELP and # TYPE lines (the format requires it); a family with no sample
// is left out entirely; label values are escaped (\\, \", \n); a number the
// snapshot does not know (null, missing: resources not tracked) yields no
// sample rather than a misleading 0, except uptime, which is 0 when the
// service is not up.
#include "procd/metrics.hpp"

#include <fmt/format.h>

#include <array>
#include <iterator>
#include <cmath>
#include <string_view>

namespace procd {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 6> kStates = {"starting", "running", "stopping",
                                                     "stopped",  "failed",  "restarting"};

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

// Prometheus floats: Go's ParseFloat spellings for the special values.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);  // shortest round-trip form: 5, 0.25, 1e+21
}

std::optional<double> number_of(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string string_of(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

class Exposition {
 public:
  // Opens a family; its header is written lazily with the first sample, so
  // a family without samples leaves no trace.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    type_ = type;
    help_ = help;
    header_written_ = false;
  }
  void sample(std::string_view labels, double value) {
    if (!header_written_) {
      out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_, type_);
      header_written_ = true;
    }
    fmt::format_to(std::back_inserter(out_), "{}{} {}\n", name_, labels, format_value(value));
  }
  // A histogram's samples: name + suffix (_bucket, _sum, _count).
  void sample_suffix(std::string_view suffix, std::string_view labels, double value) {
    if (!header_written_) {
      out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_, type_);
      header_written_ = true;
    }
    fmt::format_to(std::back_inserter(out_), "{}{}{} {}\n", name_, suffix, labels, format_value(value));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  std::string_view name_, type_, help_;
  bool header_written_ = false;
};

std::string service_label(const std::string& name) { return fmt::format("{{service=\"{}\"}}", escape_label(name)); }

void histogram(Exposition& x, const std::vector<ServiceMetricsExtra>& services,
               const DurationHistogram* ServiceMetricsExtra::*which) {
  for (const auto& s : services) {
    const DurationHistogram* h = s.*which;
    // As a labelled histogram in the Prometheus client libraries: a
    // service's series appear with its first observation (and the
    // exposition of 1000 never-stopped services stays small).
    if (!h || h->count == 0) continue;
    std::string name = escape_label(s.name);
    for (std::size_t i = 0; i < DurationHistogram::kBounds.size(); ++i)
      x.sample_suffix("_bucket", fmt::format("{{service=\"{}\",le=\"{}\"}}", name, format_value(DurationHistogram::kBounds[i])),
                      static_cast<double>(h->cumulative(i)));
    x.sample_suffix("_bucket", fmt::format("{{service=\"{}\",le=\"+Inf\"}}", name), static_cast<double>(h->count));
    x.sample_suffix("_sum", service_label(s.name), h->sum);
    x.sample_suffix("_count", service_label(s.name), static_cast<double>(h->count));
  }
}

void render_extras(Exposition& x, const MetricsExtras& e) {
  x.family("procd_service_spawns_total", "counter", "Processes spawned for the service since procd started.");
  for (const auto& s : e.services) x.sample(service_label(s.name), static_cast<double>(s.spawns));
  x.family("procd_service_last_exit_code", "gauge", "Exit code of the service's last run (128+N for signal N); absent before one ended.");
  for (const auto& s : e.services)
    if (s.last_exit_code) x.sample(service_label(s.name), *s.last_exit_code);
  x.family("procd_service_start_duration_seconds", "histogram", "Seconds from spawn to ready, per start.");
  histogram(x, e.services, &ServiceMetricsExtra::start);
  x.family("procd_service_stop_duration_seconds", "histogram", "Seconds from the stop request to the end of the run, per stop.");
  histogram(x, e.services, &ServiceMetricsExtra::stop);
  if (!e.process) return;
  x.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  x.sample("", e.process->cpu_seconds);
  x.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  x.sample("", static_cast<double>(e.process->resident_bytes));
  x.family("process_open_fds", "gauge", "Number of open file descriptors.");
  x.sample("", static_cast<double>(e.process->open_fds));
  x.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  x.sample("", e.process->start_time_seconds);
}

}  // namespace

std::string render_metrics(const nlohmann::json& status, const SupervisorCounters& counters, const MetricsExtras& extras) {
  Exposition x;
  x.family("procd_build_info", "gauge", "procd's version; always 1.");
  x.sample(fmt::format("{{version=\"{}\"}}", escape_label(extras.version.empty() ? "unknown" : extras.version)), 1);
  x.family("procd_up", "gauge", "Whether the procd supervisor is up (1 when it answers).");
  x.sample("", 1);
  if (auto up = number_of(status, "uptime_ms")) {
    x.family("procd_uptime_seconds", "gauge", "Seconds since the procd supervisor started.");
    x.sample("", *up / 1000.0);
  }
  x.family("procd_spawns_total", "counter", "Service processes spawned since procd started.");
  x.sample("", static_cast<double>(counters.spawns_total));
  x.family("procd_reloads_total", "counter", "Configuration reloads since procd started, by result.");
  x.sample("{result=\"ok\"}", static_cast<double>(counters.reloads_ok));
  x.sample("{result=\"error\"}", static_cast<double>(counters.reloads_failed));

  static const json kEmpty = json::array();
  auto it = status.find("services");
  const json& services = it != status.end() && it->is_array() ? *it : kEmpty;

  // One pass per family keeps each family contiguous, as the format demands.
  auto per_service = [&](auto&& emit) {
    for (const auto& svc : services) {
      if (!svc.is_object()) continue;
      emit(svc, service_label(string_of(svc, "name")));
    }
  };

  x.family("procd_service_up", "gauge", "Whether the service is running (1) or not (0).");
  per_service([&](const json& s, const std::string& l) { x.sample(l, string_of(s, "state") == "running" ? 1 : 0); });

  x.family("procd_service_state", "gauge", "The service's current state: 1 for the current one, 0 for the others.");
  per_service([&](const json& s, const std::string&) {
    std::string name = escape_label(string_of(s, "name"));
    std::string state = string_of(s, "state");
    bool known = false;
    for (auto st : kStates) {
      known = known || st == state;
      x.sample(fmt::format("{{service=\"{}\",state=\"{}\"}}", name, st), st == state ? 1 : 0);
    }
    // A state this version does not know still shows up, rather than the
    // service seeming to be in none.
    if (!known && !state.empty()) x.sample(fmt::format("{{service=\"{}\",state=\"{}\"}}", name, escape_label(state)), 1);
  });

  x.family("procd_service_restarts_total", "counter", "Restarts of the service since procd started.");
  per_service([&](const json& s, const std::string& l) { x.sample(l, number_of(s, "restarts").value_or(0)); });

  x.family("procd_service_uptime_seconds", "gauge", "Seconds since the service's current run started (0 when not up).");
  per_service([&](const json& s, const std::string& l) { x.sample(l, number_of(s, "uptime_ms").value_or(0) / 1000.0); });

  x.family("procd_service_cpu_seconds_total", "counter", "CPU time (user + system) of the service's process group.");
  per_service([&](const json& s, const std::string& l) {
    if (auto v = number_of(s, "cpu_seconds")) x.sample(l, *v);
  });

  x.family("procd_service_memory_bytes", "gauge", "Resident memory (RSS) of the service's process group.");
  per_service([&](const json& s, const std::string& l) {
    if (auto v = number_of(s, "rss_bytes")) x.sample(l, *v);
  });

  x.family("procd_service_healthy", "gauge", "Health check result: 1 healthy, 0 unhealthy (services with a check only).");
  per_service([&](const json& s, const std::string& l) {
    std::string h = string_of(s, "health");
    if (h == "healthy" || h == "unhealthy") x.sample(l, h == "healthy" ? 1 : 0);
  });

  render_extras(x, extras);
  return x.take();
}

}  // namespace procd
