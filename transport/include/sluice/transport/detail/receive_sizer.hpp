#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "sluice/channel/channel_options.hpp"

namespace sluice::detail {

// Picks each read's buffer size from what recent reads returned: a read that fills its buffer
// means more is waiting, so the next buffer is larger; two reads in a row that would have fit
// two sizes down shrink it. Sizes step through 16-byte multiples up to 512, then doublings.
class ReceiveSizer {
 public:
  explicit ReceiveSizer(const ReceiveBufferSizing& sizing) noexcept
      : minimum_(index_of(sizing.minimum)),
        maximum_(std::max(index_of(sizing.maximum), minimum_)),
        index_(std::clamp(index_of(sizing.initial), minimum_, maximum_)) {}

  std::size_t next() const noexcept { return kSizes[index_]; }

  void record(std::size_t bytes_read, std::size_t capacity) noexcept {
    if (bytes_read >= capacity) {
      index_ = static_cast<Index>(std::min<unsigned>(index_ + kGrowSteps, maximum_));
      shrink_votes_ = 0;
    } else if (index_ > minimum_ && bytes_read <= kSizes[index_ - 1] / 2) {
      if (++shrink_votes_ >= 2) {
        --index_;
        shrink_votes_ = 0;
      }
    } else {
      shrink_votes_ = 0;
    }
  }

 private:
  using Index = std::uint8_t;
  static constexpr unsigned kGrowSteps = 4;
  static constexpr auto kSizes = [] {
    std::array<std::size_t, 32 + 17> sizes{};
    std::size_t i = 0;
    for (std::size_t size = 16; size < 512; size += 16)
      sizes[i++] = size;
    for (std::size_t size = 512; i < sizes.size(); size *= 2)
      sizes[i++] = size;
    return sizes;
  }();

  static Index index_of(std::size_t size) noexcept {
    const auto* it = std::lower_bound(kSizes.begin(), kSizes.end(), size);
    return static_cast<Index>(it == kSizes.end() ? kSizes.size() - 1 : it - kSizes.begin());
  }

  Index minimum_;
  Index maximum_;
  Index index_;
  std::uint8_t shrink_votes_ = 0;
};

}  // namespace sluice::detail
