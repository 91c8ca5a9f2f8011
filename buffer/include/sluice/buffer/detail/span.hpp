#pragma once

#include <boost/intrusive/list_hook.hpp>
#include <boost/intrusive/set_hook.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "sluice/buffer/detail/size_class.hpp"
#include "sluice/buffer/detail/storage_header.hpp"

namespace sluice::detail {

class Arena;

enum class SpanState : std::uint8_t { kFree, kSlab, kRun, kHuge };

// A span describes a run of pages inside a chunk (a slab of slots, a page-run buffer, or free
// pages), or a huge mapping. Chunk spans live in the chunk's header, one per page index: the
// span at a run's first page describes it, and the span at its last page records where it
// starts and whether it is free, so that freeing a run can merge it with both neighbours.
struct Span {
  // Slab: `used` counts the slots handed out, plus kCurrentPin while the slab is its class's
  // current one, plus kRetiredFull while it is full and in no list. The pin keeps a current slab
  // (even an empty one) on the fast path, and tells a free on it from a free on any other slab
  // with one compare (Arena::free_slot). Slots per slab stay far below 2^30.
  static constexpr std::uint32_t kCurrentPin = std::uint32_t{1} << 30;
  static constexpr std::uint32_t kRetiredFull = std::uint32_t{1} << 31;

  StorageHeader header{};  // the storage header of a run or huge buffer
  // kSlab: slots ready to hand out, and where the slots never handed out begin (carved lazily,
  // so a fresh slab's memory is touched only as it is used).
  StorageHeader* free_slots = nullptr;
  std::byte* unused_begin = nullptr;
  // kHuge: the mapping.
  std::byte* mapping = nullptr;
  std::size_t mapping_bytes = 0;
  Arena* arena = nullptr;
  // Slab: slots handed out (see kCurrentPin); run: 1 while live. Only the owning arena writes
  // it; metrics read a current slab's count from other threads, hence the atomic (a relaxed load
  // and store compile to plain moves).
  std::atomic<std::uint32_t> used{0};
  std::uint32_t slots = 0;  // slab: slots per slab
  std::uint16_t first_page = 0;
  std::uint16_t pages = 0;
  SpanState state = SpanState::kFree;
  std::uint8_t size_class = 0;

  boost::intrusive::list_member_hook<> list_hook;  // a bin's list of partly used slabs
  boost::intrusive::set_member_hook<boost::intrusive::optimize_size<true>> tree_hook;  // free runs

  std::uint32_t used_count() const noexcept { return used.load(std::memory_order_relaxed); }
  void set_used(std::uint32_t count) noexcept { used.store(count, std::memory_order_relaxed); }

  std::byte* chunk_base() const noexcept {
    return reinterpret_cast<std::byte*>(reinterpret_cast<std::uintptr_t>(this) & ~(kChunkSize - 1));
  }
  std::byte* page_data() const noexcept {
    return chunk_base() + (std::size_t{first_page} << kPageShift);
  }
  std::byte* slab_end() const noexcept { return page_data() + (std::size_t{pages} << kPageShift); }
};

}  // namespace sluice::detail
