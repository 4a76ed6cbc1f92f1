// The simulator's command line (README.md):
//   sim [--seeds N] [--first-seed S] [--steps K] [--seed S [--keep 0,3,5-9]] [--allow KIND]...
//       [--avoid TRIGGER]... [--known-defects FILE] [--regressions FILE]
//       [--known FILE] [--log FILE [--debug-log]]
// --seeds runs N sequences (seeds S.. S+N-1, 200 steps each by default);
// --seed runs one, printing its whole trace (--keep: only those step
// indexes). A failing sequence is shrunk (shrink(): shortest failing prefix,
// then steps left out) and printed with that trace and its replay command. Every
// `seed steps` line of --regressions is replayed first and must pass;
// --known replays known_failures.txt and tells which still fail;
// --known-defects FILE avoids or allows what each of its lines names. The last
// line is `RESULT: N passed, N failed` (N = sequences). --log keeps procd's
// own log (errors; every message with --debug-log), e.g. to read one seed's.
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "procd/logging.hpp"
#include "sim_driver.hpp"

using namespace procd::sim;

namespace {

// A line of regressions.txt / known_failures.txt: `seed steps [--allow X]
// [--avoid Y]... [# what it is]`, the flags those of the run that found it.
struct Line {
  std::uint64_t seed = 0;
  int steps = 0;
  std::set<std::string> allowed, avoided;
  std::vector<int> keep;  // --keep: a shrunk replay's steps
  std::string note;
};

std::vector<int> parse_keep(const std::string& text);

std::vector<Line> read_lines(const std::string& path) {
  std::vector<Line> out;
  std::ifstream f(path);
  if (!f) {
    fmt::print(stderr, "sim: cannot read {}\n", path);
    std::exit(2);
  }
  std::string text;
  while (std::getline(f, text)) {
    if (text.empty() || text[0] == '#') continue;
    Line l;
    std::istringstream in(text);
    if (!(in >> l.seed >> l.steps)) continue;
    std::string flag, arg;
    while (in >> flag) {
      if (flag[0] == '#') {
        std::getline(in, l.note);
        l.note = flag + l.note;
        break;
      }
      if (!(in >> arg) || (flag != "--allow" && flag != "--avoid" && flag != "--keep") ||
          (flag == "--avoid" && !kAvoidable.count(arg))) {
        fmt::print(stderr, "sim: {}: cannot read the line \"{}\"\n", path, text);
        std::exit(2);
      }
      if (flag == "--keep") l.keep = parse_keep(arg);
      else (flag == "--allow" ? l.allowed : l.avoided).insert(arg);
    }
    out.push_back(l);
  }
  return out;
}

std::string keep_text(const std::vector<int>& keep);

std::string flags_of(const SimOptions& opt) {
  std::string out;
  for (const auto& a : opt.allowed) out += " --allow " + a;
  for (const auto& a : opt.avoided) out += " --avoid " + a;
  if (!opt.keep.empty()) out += " --keep " + keep_text(opt.keep);
  return out;
}

void print_trace(const std::vector<std::string>& trace) {
  for (const auto& t : trace) fmt::print("  | {}\n", t);
}

// "0,3,5-9" for a list of step indexes (and back).
std::string keep_text(const std::vector<int>& keep) {
  std::string out;
  for (std::size_t i = 0; i < keep.size();) {
    std::size_t j = i;
    while (j + 1 < keep.size() && keep[j + 1] == keep[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(keep[i]) : fmt::format("{}-{}", keep[i], keep[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int> parse_keep(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    auto dash = part.find('-');
    int lo = std::stoi(part.substr(0, dash)), hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
    for (int i = lo; i <= hi; ++i) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Shrinks a failure to fewer steps that still fail the same invariant:
// first the shortest failing prefix (a binary search: the same seed with
// fewer steps replays the same events), then delta debugging over the
// steps left (each step draws from an RNG of its own, so a step can be
// left out and the others replay as drawn): chunks of half, a quarter,
// ... down to single steps are removed while the failure stays. Bounded
// by kShrinkRuns replays. Sets opt.steps and opt.keep.
constexpr int kShrinkRuns = 400;

void shrink(SimOptions& opt, const SimOutcome& first) {
  int runs = 0;
  auto fails = [&](int steps, const std::vector<int>& keep) {
    ++runs;
    SimOptions o = opt;
    o.steps = steps, o.keep = keep;
    SimOutcome r = run_sequence(o);
    return r.failed && r.violation.kind == first.violation.kind;
  };
  int hi = std::min(first.step + 1, opt.steps);
  if (!fails(hi, opt.keep)) hi = opt.steps;
  int lo = -1;  // lo passes (-1: none known to), hi fails
  while (hi - lo > 1) {
    int mid = lo + (hi - lo) / 2;
    if (fails(mid, opt.keep)) hi = mid;
    else lo = mid;
  }
  std::vector<int> keep = opt.keep;
  if (keep.empty())
    for (int i = 0; i < hi; ++i) keep.push_back(i);
  std::erase_if(keep, [&](int i) { return i >= hi; });
  for (std::size_t chunk = std::max<std::size_t>(1, keep.size() / 2); chunk >= 1 && runs < kShrinkRuns; chunk /= 2) {
    for (std::size_t at = 0; at < keep.size() && runs < kShrinkRuns;) {
      std::vector<int> fewer(keep.begin(), keep.begin() + static_cast<std::ptrdiff_t>(at));
      fewer.insert(fewer.end(), keep.begin() + static_cast<std::ptrdiff_t>(std::min(at + chunk, keep.size())), keep.end());
      // (never none: an empty keep list means every step)
      if (!fewer.empty() && fails(hi, fewer)) keep = std::move(fewer);  // the same `at` now names the next chunk
      else at += chunk;
    }
    if (chunk == 1) break;
  }
  opt.steps = hi;
  opt.keep = keep.size() == static_cast<std::size_t>(hi) ? std::vector<int>{} : keep;
}

// Runs one sequence; on a failure prints it, shrunk, with its trace.
bool run_one(SimOptions opt, bool verbose, std::map<std::string, int>& allowed_counts) {
  SimOutcome o = run_sequence(opt);
  for (const auto& kind : o.allowed_seen) ++allowed_counts[kind];
  if (verbose) print_trace(o.trace);
  if (!o.failed) {
    if (verbose) fmt::print("seed {} ({} steps): passed, exit code {}\n", opt.seed, opt.steps, o.exit_code);
    return true;
  }
  fmt::print("FAIL seed {} ({} steps): {} at step {}: {}\n", opt.seed, opt.steps, o.violation.kind, o.step, o.violation.detail);
  shrink(opt, o);
  SimOutcome s = run_sequence(opt);
  fmt::print("  shrunk to {} of {} steps ({}: {}); replay: sim --seed {} --steps {}{}\n",
             opt.keep.empty() ? opt.steps : static_cast<int>(opt.keep.size()), opt.steps, s.violation.kind, s.violation.detail,
             opt.seed, opt.steps, flags_of(opt));
  if (!verbose) print_trace(s.trace);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  SimOptions opt;
  int seeds = 2000;
  bool seeds_given = false;
  std::uint64_t first = 1;
  bool one = false;
  std::string regressions, known, log_file;
  bool debug_log = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "sim: {} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") seeds = std::stoi(value()), seeds_given = true;
    else if (a == "--first-seed") first = std::stoull(value());
    else if (a == "--seed") opt.seed = std::stoull(value()), one = true;
    else if (a == "--steps") opt.steps = std::stoi(value());
    else if (a == "--keep") opt.keep = parse_keep(value());
    else if (a == "--allow") opt.allowed.insert(value());
    else if (a == "--avoid") {
      std::string t = value();
      if (!kAvoidable.count(t)) {
        fmt::print(stderr, "sim: --avoid {}: unknown ({})\n", t, fmt::join(kAvoidable, ", "));
        return 2;
      }
      opt.avoided.insert(t);
    }
    else if (a == "--regressions") regressions = value();
    else if (a == "--known") known = value();
    else if (a == "--known-defects") {
      // Every line's name (`# NAME: ...`): its trigger left out if the driver can, else its invariant tolerated.
      for (const Line& l : read_lines(value())) {
        std::string name = l.note.substr(l.note.find_first_not_of("# "));
        name = name.substr(0, name.find(':'));
        (kAvoidable.count(name) ? opt.avoided : opt.allowed).insert(name);
      }
    }
    else if (a == "--log") log_file = value();
    else if (a == "--debug-log") debug_log = true;
    else {
      fmt::print(stderr, "usage: sim [--seeds N] [--first-seed S] [--steps K] [--seed S] [--allow INVARIANT]... "
                         "[--keep STEPS] [--avoid TRIGGER]... [--known-defects FILE] [--regressions FILE] [--known FILE] [--log FILE [--debug-log]]\n");
      return 2;
    }
  }
  // Under sanitizers (PROCD_TEST_SLOWDOWN, as the integration tests) the
  // budget shrinks by that factor: the run looks for memory errors there.
  if (const char* slow = ::getenv("PROCD_TEST_SLOWDOWN"); slow && std::atoi(slow) > 1 && !one) {
    seeds = std::max(1, seeds / std::atoi(slow));
    fmt::print("PROCD_TEST_SLOWDOWN={}: {} sequences\n", slow, seeds);
  }
  // The Supervisor copies procd's environment into every spawn, and PROCD_*
  // variables override the config: a small fixed environment keeps both
  // cheap and the same wherever the simulator runs.
  ::clearenv();
  ::setenv("PATH", "/usr/bin:/bin", 1);
  char tmpl[] = "/tmp/procd-sim-XXXXXX";
  if (!::mkdtemp(tmpl)) return 2;
  opt.dir = tmpl;
  procd::LoggingConfig log;
  log.level = debug_log ? procd::LogLevel::Debug : procd::LogLevel::Error;
  log.file = log_file.empty() ? opt.dir + "/procd.log" : std::filesystem::absolute(log_file).string();
  log.max_file_size = log_file.empty() ? 1048576 : 1073741824;
  log.max_files = 1;
  if (auto r = procd::Log::setup(log); !r.ok()) return 2;

  auto started = std::chrono::steady_clock::now();
  int passed = 0, failed = 0;
  std::map<std::string, int> allowed_counts;
  if (!known.empty()) {
    for (const Line& l : read_lines(known)) {
      SimOptions o = opt;
      o.seed = l.seed, o.steps = l.steps, o.allowed = l.allowed, o.avoided = l.avoided, o.keep = l.keep;
      SimOutcome r = run_sequence(o);
      fmt::print("known: --seed {} --steps {}{}: {}\n  {}\n", l.seed, l.steps, flags_of(o),
                 r.failed ? "still fails: " + r.violation.kind + ": " + r.violation.detail : std::string("passes now"), l.note);
    }
  }
  if (!regressions.empty()) {
    for (const Line& l : read_lines(regressions)) {
      SimOptions o = opt;
      o.seed = l.seed, o.steps = l.steps, o.allowed = l.allowed, o.avoided = l.avoided, o.keep = l.keep;
      (run_one(o, false, allowed_counts) ? passed : failed)++;
    }
  }
  if (one) {
    (run_one(opt, true, allowed_counts) ? passed : failed)++;
  } else if (known.empty() || seeds_given) {  // --known alone replays only those
    for (int i = 0; i < seeds; ++i) {
      opt.seed = first + static_cast<std::uint64_t>(i);
      (run_one(opt, false, allowed_counts) ? passed : failed)++;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const auto& [kind, n] : allowed_counts)
    fmt::print("allowed (known defect, --allow {}): violated in {} sequence(s)\n", kind, n);
  fmt::print("{} sequences of {} steps in {:.1f} s\n", passed + failed, opt.steps, secs);
  fmt::print("RESULT: {} passed, {} failed\n", passed, failed);
  std::filesystem::remove_all(opt.dir);
  return failed == 0 ? 0 : 1;
}
