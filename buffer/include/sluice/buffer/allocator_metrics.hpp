#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "sluice/buffer/detail/size_class.hpp"

namespace sluice {

// A snapshot of the buffer allocator. Counts of arenas owned by running loop threads are read
// without stopping them, so they are exact once those threads are quiet; blocks freed by another
// thread count as live until their owner reclaims them.
struct AllocatorMetrics {
  std::int64_t live_buffers = 0;    // storage blocks handed out and not yet returned
  std::int64_t live_bytes = 0;      // their capacity in bytes
  std::int64_t reserved_bytes = 0;  // bytes mapped from the OS (chunks and huge mappings)
  std::int64_t chunks = 0;          // 4 MiB chunks mapped
  std::int64_t huge_buffers = 0;    // buffers over 1 MiB, each its own mapping
  std::int64_t remote_frees = 0;    // blocks freed by a thread other than their owner, and
                                    // reclaimed, since the start (ended arenas' included)
  std::int64_t arenas = 0;          // thread arenas, including abandoned ones still draining
  std::array<std::int64_t, detail::kClassCount> live_per_class{};  // live blocks by size class

  // One line of totals, then one line per size class that has live blocks.
  std::string to_string() const;
};

}  // namespace sluice
