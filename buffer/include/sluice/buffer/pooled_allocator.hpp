#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "sluice/buffer/allocator_metrics.hpp"
#include "sluice/buffer/detail/arena.hpp"
#include "sluice/buffer/detail/size_class.hpp"
#include "sluice/buffer/detail/storage_header.hpp"
#include "sluice/core/config.hpp"

namespace sluice {

// The process-wide buffer allocator (see docs/ARCHITECTURE.md, "The allocator").
//
// Each event-loop thread binds an arena of its own (ThreadArena), so its allocations and frees
// take no lock and no atomic read-modify-write; all other threads share one arena behind a
// mutex. A block freed on a thread that does not own it is queued to its owner, which reclaims
// it on its next slow path or loop iteration. Buffer is the normal way to use this allocator;
// the raw interface is public for benchmarks and for code that builds its own storage.
class PooledAllocator {
 public:
  struct Allocation {
    detail::StorageHeader* header;  // one reference, owned by the caller
    std::byte* data;
    std::size_t capacity;  // usable bytes at data, at least the size asked for
  };

  // Throws OutOfMemoryError when the OS refuses memory, SizeOverflowError for absurd sizes.
  static Allocation allocate(std::size_t bytes);
  // Returns a block whose last reference is gone; any thread.
  static void deallocate(detail::StorageHeader* header) noexcept;

  // While alive, the constructing thread allocates from an arena of its own. Event loops hold
  // one for their thread's lifetime. When it dies, blocks still live stay valid; the arena is
  // reclaimed once they have all been freed. Not movable: it belongs to its thread, and
  // destroyed on another the process aborts, saying so (that thread's own arena, or none,
  // would be taken for it).
  class ThreadArena {
   public:
    ThreadArena();  // throws std::logic_error if the thread already has an arena
    ~ThreadArena();
    ThreadArena(const ThreadArena&) = delete;
    ThreadArena& operator=(const ThreadArena&) = delete;

   private:
    detail::Arena* arena_;
  };

  static bool thread_has_arena() noexcept { return detail::t_arena != nullptr; }

  // Reclaims blocks other threads freed back to the calling thread's arena. Cheap when there
  // are none; event loops call it once per iteration.
  static void collect() noexcept {
    if (detail::Arena* arena = detail::t_arena; arena != nullptr && arena->has_remote_frees()) {
      arena->drain_remote_frees();
    }
  }

  // Returns to the OS what the calling thread's arena (or the shared arena) holds unused:
  // cached runs, spare slabs, empty chunks. Also reclaims arenas of threads that have ended.
  static void trim() noexcept;

  // How often each event loop trims its arena, so that the memory a burst of traffic took
  // goes back to the OS once the burst is over, even on a loop that has gone idle (an idle
  // loop runs no iterations, so nothing else would). Loops whose threads start afterwards use
  // it; zero turns it off. Default 10 s: a trim of a busy arena only drops caches that the
  // next allocations refill, a few page faults every period.
  static void set_loop_trim_period(std::chrono::milliseconds period) noexcept;
  static std::chrono::milliseconds loop_trim_period() noexcept;

  static AllocatorMetrics metrics();

  // Live buffers grouped by allocation site, most first (SLUICE_LEAK_TRACKING builds); other
  // builds report the live count only.
  static std::string leak_report(std::size_t max_sites = 20);

 private:
  static Allocation allocate_slow(std::size_t bytes);
  static void deallocate_slow(detail::StorageHeader* header) noexcept;
};

inline PooledAllocator::Allocation PooledAllocator::allocate(std::size_t bytes) {
#if SLUICE_POOL
  using namespace detail;
  if (Arena* arena = t_arena; arena != nullptr) [[likely]] {
    if (bytes <= kMaxSlabSize) {
      const unsigned size_class = size_class_of(bytes);
      if (StorageHeader* header = arena->try_allocate_slot(size_class)) [[likely]]
        return {header, slot_data(header), class_size(size_class)};
    } else if (bytes <= kMaxRunSize) {
      const unsigned size_class = size_class_of(bytes);
      if (StorageHeader* header = arena->try_allocate_cached_run(size_class)) [[likely]]
        return {header, header->span->page_data(), class_size(size_class)};
    }
  }
#endif
  return allocate_slow(bytes);
}

inline void PooledAllocator::deallocate(detail::StorageHeader* header) noexcept {
#if SLUICE_POOL && !SLUICE_LEAK_TRACKING
  using namespace detail;
  if (header->kind == StorageKind::kSlabSlot) {
    Span* slab = header->span;
    if (slab->arena == t_arena) [[likely]] {
      slab->arena->free_slot(header, slab);
      return;
    }
  } else if (header->kind == StorageKind::kRun) {
    Span* run = header->span;
    if (run->arena == t_arena) [[likely]] {
      run->arena->free_run(header);
      return;
    }
  }
#endif
  deallocate_slow(header);
}

}  // namespace sluice
