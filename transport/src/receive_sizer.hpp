#pragma once

#include <algorithm>
#include <array>
#include <cstddef>

#include "sluice/channel/channel_options.hpp"

namespace sluice::detail {

// Picks each read's buffer size from what recent reads returned: a read that fills its buffer
// means more is waiting, so the next buffer is larger; two reads in a row that would have fit
// two sizes down shrink it. Sizes step through 16-byte multiples up to 512, then doublings.
class ReceiveSizer {
 public:
  explicit ReceiveSizer(const ReceiveBufferSizing& sizing) noexcept
      : minimum_(index_of(sizing.minimum)),
        maximum_(index_of(sizing.maximum)),
        index_(std::clamp(index_of(sizing.initial), minimum_, maximum_)) {}

  std::size_t next() const noexcept { return kSizes[index_]; }

  void record(std::size_t bytes_read, std::size_t capacity) noexcept {
    if (bytes_read >= capacity) {
      index_ = std::min(index_ + kGrowSteps, maximum_);
      shrink_votes_ = 0;
    } else if (index_ > minimum_ && bytes_read <= kSizes[std::max(index_, minimum_ + 1) - 1] / 2) {
      if (++shrink_votes_ >= 2) {
        index_ = std::max(index_ - 1, minimum_);
        shrink_votes_ = 0;
      }
    } else {
      shrink_votes_ = 0;
    }
  }

 private:
  static constexpr std::size_t kGrowSteps = 4;
  static constexpr auto kSizes = [] {
    std::array<std::size_t, 32 + 17> sizes{};
    std::size_t i = 0;
    for (std::size_t size = 16; size < 512; size += 16)
      sizes[i++] = size;
    for (std::size_t size = 512; i < sizes.size(); size *= 2)
      sizes[i++] = size;
    return sizes;
  }();

  static std::size_t index_of(std::size_t size) noexcept {
    const auto* it = std::lower_bound(kSizes.begin(), kSizes.end(), size);
    return it == kSizes.end() ? kSizes.size() - 1 : static_cast<std::size_t>(it - kSizes.begin());
  }

  std::size_t minimum_;
  std::size_t maximum_;
  std::size_t index_;
  unsigned shrink_votes_ = 0;
};

}  // namespace sluice::detail
