// The CPU and memory of one service over the last minutes, for the
// dashboard's charts: a fixed ring of samples, at most one per `spacing`
// (the sampler may run every 100 ms; the chart needs no more than a point
// every few seconds), so its size is bounded whatever the sampling period:
// kCapacity * spacing covers the window (120 x 5 s = 10 minutes). Pure.
#pragma once

#include <array>
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
    ring_[(start_ + size_) % kCapacity] = s;
    if (size_ < kCapacity) ++size_;
    else start_ = (start_ + 1) % kCapacity;
    return true;
  }
  std::size_t size() const { return size_; }
  // Oldest first.
  std::vector<ResourceSample> samples() const {
    std::vector<ResourceSample> out;
    out.reserve(size_);
    for (std::size_t i = 0; i < size_; ++i) out.push_back(ring_[(start_ + i) % kCapacity]);
    return out;
  }

 private:
  const ResourceSample& last() const { return ring_[(start_ + size_ - 1) % kCapacity]; }
  std::array<ResourceSample, kCapacity> ring_{};
  std::size_t start_ = 0, size_ = 0;
  std::int64_t spacing_ms_;
};

}  // namespace procd
