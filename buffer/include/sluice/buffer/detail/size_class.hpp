#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace sluice::detail {

// Size classes: a 16-byte quantum up to 64 bytes, then 4 classes per doubling
// (80, 96, 112, 128, 160, 192, ...). Classes up to kMaxSlabSize are slots in slabs; classes
// up to kMaxRunSize are page runs; anything larger is a huge mapping of its own.
inline constexpr std::size_t kQuantum = 16;
inline constexpr std::size_t kMaxSlabSize = 32 * 1024;
inline constexpr std::size_t kMaxRunSize = 1024 * 1024;
inline constexpr std::size_t kPageShift = 13;
inline constexpr std::size_t kPageSize = std::size_t{1} << kPageShift;  // 8 KiB
inline constexpr std::size_t kChunkShift = 22;
inline constexpr std::size_t kChunkSize = std::size_t{1} << kChunkShift;  // 4 MiB
inline constexpr std::size_t kPagesPerChunk = kChunkSize / kPageSize;

// The class arithmetic, usable in constant expressions; the allocator's fast paths read the
// tables below instead (a load is a few instructions shorter than the bit arithmetic, and these
// run on every allocation and free).
constexpr unsigned compute_size_class(std::size_t size) noexcept {
  if (size <= 64) return static_cast<unsigned>((size + kQuantum - 1) / kQuantum) - (size != 0);
  // For 2^k < size <= 2^(k+1) the group's four classes are 2^k + i * 2^(k-2), i = 1..4.
  const unsigned k = static_cast<unsigned>(std::bit_width(size - 1)) - 1;
  const unsigned in_group = static_cast<unsigned>((size - 1) >> (k - 2)) - 4;
  return 4 + (k - 6) * 4 + in_group;
}

constexpr std::size_t compute_class_size(unsigned size_class) noexcept {
  if (size_class < 4) return kQuantum * (size_class + 1);
  const unsigned k = (size_class - 4) / 4 + 6;
  const unsigned i = (size_class - 4) % 4 + 1;
  return (std::size_t{1} << k) + i * (std::size_t{1} << (k - 2));
}

inline constexpr unsigned kClassCount = compute_size_class(kMaxRunSize) + 1;

// Slab sizes find their class in one load, by 16-byte step (every class boundary is a multiple
// of 16, so the step loses nothing): 2 KiB of table, and no branch that mixed sizes would
// mispredict.
inline constexpr std::size_t kLookupMax = kMaxSlabSize;
inline constexpr auto kClassByQuantum = [] {
  std::array<std::uint8_t, kLookupMax / kQuantum + 1> table{};
  for (std::size_t step = 0; step < table.size(); ++step) {
    table[step] = static_cast<std::uint8_t>(compute_size_class(step * kQuantum));
  }
  return table;
}();

inline constexpr auto kClassSizes = [] {
  std::array<std::uint32_t, kClassCount> table{};
  for (unsigned c = 0; c < kClassCount; ++c)
    table[c] = static_cast<std::uint32_t>(compute_class_size(c));
  return table;
}();

// Index of the smallest class holding `size` bytes; size must be in [0, kMaxRunSize].
constexpr unsigned size_class_of(std::size_t size) noexcept {
  if (size <= kLookupMax) return kClassByQuantum[(size + kQuantum - 1) / kQuantum];
  return compute_size_class(size);
}

constexpr std::size_t class_size(unsigned size_class) noexcept {
  return kClassSizes[size_class];
}

inline constexpr unsigned kSlabClassCount = size_class_of(kMaxSlabSize) + 1;

static_assert(class_size(kSlabClassCount - 1) == kMaxSlabSize);
static_assert(class_size(kClassCount - 1) == kMaxRunSize);
static_assert(class_size(size_class_of(65)) == 80 && class_size(size_class_of(129)) == 160);
static_assert([] {
  // Every class boundary is a multiple of 16, so the first and last size of each 16-byte step
  // stand for the whole step (and the check stays within clang's constexpr step budget).
  for (std::size_t step = 1; step <= kLookupMax / kQuantum; ++step) {
    const std::size_t last = step * kQuantum;
    if (size_class_of(last) != compute_size_class(last) ||
        size_class_of(last - kQuantum + 1) != compute_size_class(last - kQuantum + 1)) {
      return false;
    }
  }
  if (size_class_of(0) != compute_size_class(0)) return false;
  for (unsigned c = 0; c < kClassCount; ++c) {
    if (class_size(c) % kQuantum != 0 || (c > 0 && class_size(c) <= class_size(c - 1)))
      return false;
  }
  return true;
}());

// Every slab slot starts with a 16-byte StorageHeader; the buffer's bytes follow it, so a
// 16 KiB buffer occupies 16 KiB + 16 of its slab (not the next class up, 20 KiB).
inline constexpr std::size_t kSlotHeaderSize = 16;

struct SlabGeometry {
  std::uint32_t pages;  // slab length in pages
  std::uint32_t slots;  // slots per slab
};

// The fewest pages (at most 64) whose slots waste at most 1/32 of the slab, or the least
// wasteful length when none does.
constexpr SlabGeometry slab_geometry(unsigned size_class) noexcept {
  const std::size_t stride = class_size(size_class) + kSlotHeaderSize;
  SlabGeometry best{1, 0};
  std::size_t best_waste = kPageSize;
  for (std::uint32_t pages = 1; pages <= 64; ++pages) {
    const std::size_t bytes = pages * kPageSize;
    const std::size_t slots = bytes / stride;
    if (slots == 0) continue;
    const std::size_t waste = bytes - slots * stride;
    if (waste * 32 <= bytes) return {pages, static_cast<std::uint32_t>(slots)};
    if (best.slots == 0 || waste * best.pages * kPageSize < best_waste * bytes) {
      best = {pages, static_cast<std::uint32_t>(slots)};
      best_waste = waste;
    }
  }
  return best;
}

inline constexpr auto kSlabGeometry = [] {
  std::array<SlabGeometry, kSlabClassCount> table{};
  for (unsigned c = 0; c < kSlabClassCount; ++c)
    table[c] = slab_geometry(c);
  return table;
}();

constexpr std::uint32_t run_pages(unsigned size_class) noexcept {
  return static_cast<std::uint32_t>(class_size(size_class) / kPageSize);
}

}  // namespace sluice::detail
