// The CPU and memory of one service over the last minutes, for the
// dashboard's charts: a fixed ring of samples, at most one per `spacing`
// (the sampler may run every 100 ms; the chart needs no more than a point
// every few seconds), so its size is bounded whatever the sampling period:
// kCapacity * spacing covers the window (120 x 5 s = 10 minutes). The ring
// grows with the samples kept (nothing for a service that is never sampled:
// resource tracking off, or never running; 2.9 KiB a service otherwise). Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace procd {

struct ResourceSample {
  std::int64_t t_ms = 0;  // the caller's clock
  double cpu_percent = 0;
  std::uint64_t rss_bytes = 0;
};

class ResourceHistory {
 public:
  static constexpr std::size_t kCapacity = 120;
  static constexpr std::int64_t kDefaultSpacingMs = 5000;

  explicit ResourceHistory(std::int64_t spacing_ms = kDefaultSpacingMs) : spacing_ms_(spacing_ms) {}

  // Kept when at least `spacing` after the last kept sample; the oldest
  // sample goes once the ring is full.
  bool add(const ResourceSample& s) {
    if (size_ > 0 && s.t_ms - last().t_ms < spacing_ms_) return false;
    if (ring_.size() < kCapacity) {
      ring_.push_back(s);  // start_ stays 0 until the ring is full
      ++size_;
      return true;
    }
    ring_[start_] = s;
    start_ = (start_ + 1) % kCapacity;
    return true;
  }
  std::size_t size() const { return size_; }
  // Oldest first.
  std::vector<ResourceSample> samples() const {
    std::vector<ResourceSample> out;
    out.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i) out.push_back(ring_[(start_ + i) % ring_.size()]);
    return out;
  }

 private:
  const ResourceSample& last() const { return ring_[(start_ + size_ - 1) % ring_.size()]; }
  std::vector<ResourceSample> ring_;  // grows to kCapacity, then reused in a circle
  std::size_t start_ = 0, size_ = 0;
  std::int64_t spacing_ms_;
};

}  // namespace procd
