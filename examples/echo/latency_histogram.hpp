#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace sluice::examples {

// Latencies in microseconds: exact below 32 us, then 32 buckets per doubling (each at most
// 1/32 of its lower edge wide), up to 2^34 us (about 4.8 hours); longer ones share the last.
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
  // The latency at quantile q (0..1), as the upper edge of its bucket: the least latency that
  // at least q of those recorded do not exceed (the nearest rank, ceil(q * total), as
  // HdrHistogram reports). q * total is first rounded down by a relative 1e-13, far above the
  // error of the product and below any real fraction of a rank, so that a q like 0.15
  // (0.15000000000000002) does not step a whole rank past an exact product.
  std::uint64_t percentile(double q) const noexcept {
    if (total_ == 0) return 0;
    const double exact = std::clamp(q, 0.0, 1.0) * static_cast<double>(total_);
    const auto rank = std::clamp<std::uint64_t>(
        static_cast<std::uint64_t>(std::ceil(exact - exact * 1e-13)), 1, total_);
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

  // Doubling d >= 0 holds [32 << d, 64 << d): the shift that brings its values into 32..63
  // is d, and the bucket within it is the shifted value minus 32.
  static std::size_t bucket_of(std::uint64_t micros) noexcept {
    if (micros < kSubBuckets) return static_cast<std::size_t>(micros);
    const unsigned doubling = 63u - static_cast<unsigned>(__builtin_clzll(micros)) - 5;
    const std::uint64_t sub = (micros >> doubling) - kSubBuckets;  // 0..31
    const std::size_t index = kSubBuckets * (doubling + 1) + static_cast<std::size_t>(sub);
    return index < kSubBuckets * kDoublings ? index : kSubBuckets * kDoublings - 1;
  }
  static std::uint64_t upper_edge(std::size_t index) noexcept {
    if (index < kSubBuckets) return index;
    const std::size_t doubling = index / kSubBuckets - 1;
    const std::size_t sub = index % kSubBuckets;
    return ((kSubBuckets + sub + 1) << doubling) - 1;
  }

  std::array<std::uint64_t, kSubBuckets * kDoublings> counts_{};
  std::uint64_t total_ = 0;
};

}  // namespace sluice::examples
