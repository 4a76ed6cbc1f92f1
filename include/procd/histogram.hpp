// A Prometheus-style histogram of durations in seconds (start -> ready,
// stop duration): fixed bucket bounds, a count and a sum. Pure and small;
// rendered by render_metrics() as _bucket{le=...} (cumulative), _sum, _count.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace procd {

struct DurationHistogram {
  // Seconds: a service that is ready in 5 ms and one that needs 2 minutes
  // both land in a bucket that says so.
  static constexpr std::array<double, 14> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,  5,     10,   30,  60,  120};
  std::array<std::uint64_t, kBounds.size()> in_bucket{};  // not cumulative: observations <= bound, > previous
  std::uint64_t count = 0;
  double sum = 0;

  void observe(double seconds) {
    if (seconds < 0) seconds = 0;
    ++count;
    sum += seconds;
    for (std::size_t i = 0; i < kBounds.size(); ++i)
      if (seconds <= kBounds[i]) {
        ++in_bucket[i];
        return;
      }
  }
  // Observations <= kBounds[i] (what le="bound" reports).
  std::uint64_t cumulative(std::size_t i) const {
    std::uint64_t n = 0;
    for (std::size_t j = 0; j <= i && j < in_bucket.size(); ++j) n += in_bucket[j];
    return n;
  }
};

}  // namespace procd
