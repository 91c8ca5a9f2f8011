#pragma once

#include <array>
#include <cstdint>

namespace sluice::examples {

// Latencies in microseconds, in buckets of about 3% (32 per doubling), up to ~17 minutes.
class LatencyHistogram {
 public:
  void record(std::uint64_t micros) noexcept {
    ++counts_[bucket_of(micros)];
    ++total_;
  }
  void merge(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i)
      counts_[i] += other.counts_[i];
    total_ += other.total_;
  }
  std::uint64_t total() const noexcept { return total_; }
  // The latency at quantile q (0..1), as the upper edge of its bucket.
  std::uint64_t percentile(double q) const noexcept {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return upper_edge(i);
    }
    return upper_edge(counts_.size() - 1);
  }

 private:
  static constexpr unsigned kSubBuckets = 32;
  static constexpr unsigned kDoublings = 30;

  static std::size_t bucket_of(std::uint64_t micros) noexcept {
    if (micros < kSubBuckets) return static_cast<std::size_t>(micros);
    const unsigned exponent = 63u - static_cast<unsigned>(__builtin_clzll(micros)) - 4;  // >= 1
    const std::uint64_t sub = (micros >> exponent) - kSubBuckets;                        // 0..31
    const std::size_t index = kSubBuckets * exponent + static_cast<std::size_t>(sub);
    return index < kSubBuckets * kDoublings ? index : kSubBuckets * kDoublings - 1;
  }
  static std::uint64_t upper_edge(std::size_t index) noexcept {
    if (index < kSubBuckets) return index;
    const std::size_t exponent = index / kSubBuckets;
    const std::size_t sub = index % kSubBuckets;
    return ((kSubBuckets + sub + 1) << exponent) - 1;
  }

  std::array<std::uint64_t, kSubBuckets * kDoublings> counts_{};
  std::uint64_t total_ = 0;
};

}  // namespace sluice::examples
