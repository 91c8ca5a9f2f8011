// The allocator's registry of arenas, its slow paths, huge mappings, the malloc mode
// (SLUICE_POOL=OFF) and metrics.

#include "sluice/buffer/pooled_allocator.hpp"

#include <fmt/format.h>
#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>

#include "os_memory.hpp"
#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/detail/leak_tracker.hpp"
#include "sluice/core/log.hpp"

namespace sluice {

bool loop_arena_hooks_registered() noexcept;  // loop_arena.cpp

using detail::Arena;
using detail::StorageHeader;
using detail::StorageKind;

namespace {

// Larger requests are refused before any size arithmetic can overflow.
constexpr std::size_t kMaxAllocation = std::size_t{1} << 46;
constexpr std::size_t kHugeAlignment = 4096;

struct Registry {
  std::mutex mutex;
  Arena shared;  // for threads without an arena; guarded by mutex
  boost::intrusive::list<Arena,
                         boost::intrusive::member_hook<Arena, boost::intrusive::list_member_hook<>,
                                                       &Arena::registry_hook>>
      arenas;  // bound and abandoned thread arenas; guarded by mutex
  std::size_t abandoned = 0;
  std::size_t shared_slow_calls = 0;
  // Remote frees reclaimed by arenas since deleted: the metrics' count must not drop when a
  // thread arena goes. Guarded by mutex.
  std::int64_t remote_frees_of_deleted_arenas = 0;
};

Registry& registry() {
  static auto* instance = new Registry;  // never destroyed: buffers may die during exit
  return *instance;
}

// Linking the allocator links the hooks that give each event-loop thread its arena.
[[maybe_unused]] const bool loop_hooks = loop_arena_hooks_registered();

std::atomic<std::int64_t> g_huge_buffers{0};
std::atomic<std::int64_t> g_huge_bytes{0};
std::atomic<std::int64_t> g_malloc_live[detail::kClassCount + 1];  // last slot: over 1 MiB
std::atomic<std::int64_t> g_malloc_bytes{0};

// Unregisters and deletes an empty thread arena. Requires the registry lock.
void delete_arena(Registry& reg, Arena* arena) noexcept {
  reg.remote_frees_of_deleted_arenas += arena->remote_frees();
  reg.arenas.erase(reg.arenas.iterator_to(*arena));
  delete arena;
}

// Frees what threads sent to arenas whose own thread has ended, and deletes those that are
// empty. Requires the registry lock.
void reclaim_abandoned(Registry& reg) noexcept {
  if (reg.abandoned == 0) return;
  for (auto it = reg.arenas.begin(); it != reg.arenas.end();) {
    Arena& arena = *it++;
    // Only frees that arrived since the last look can have changed an abandoned arena.
    if (!arena.abandoned || !arena.has_remote_frees()) continue;
    // Trimmed, not just drained: no thread allocates from it again, so what a live arena keeps
    // for reuse (cached runs, spare slabs, a reserve chunk) would only hold memory until its
    // last buffer went, however long that is.
    arena.trim();
    if (arena.empty()) {
      --reg.abandoned;
      delete_arena(reg, &arena);
    }
  }
}

PooledAllocator::Allocation pooled_result(StorageHeader* header) noexcept {
  const unsigned size_class = header->size_class;
  std::byte* data = header->kind == StorageKind::kSlabSlot ? detail::slot_data(header)
                                                           : header->span->page_data();
  return {header, data, detail::class_size(size_class)};
}

PooledAllocator::Allocation allocate_huge(std::size_t bytes) {
  const std::size_t mapped = (bytes + kHugeAlignment - 1) & ~(kHugeAlignment - 1);
  auto span = std::unique_ptr<detail::Span>(new (std::nothrow) detail::Span);
  void* mapping = span ? detail::map_aligned(mapped, kHugeAlignment) : nullptr;
  if (mapping == nullptr) {
    throw OutOfMemoryError(fmt::format("mapping a buffer of {} bytes failed: {}", bytes,
                                       std::strerror(span ? errno : ENOMEM)));
  }
  span->state = detail::SpanState::kHuge;
  span->mapping = static_cast<std::byte*>(mapping);
  span->mapping_bytes = mapped;
  span->header.stamp(StorageKind::kHuge, detail::kClassCount);
  span->header.span = span.get();
  g_huge_buffers.fetch_add(1, std::memory_order_relaxed);
  g_huge_bytes.fetch_add(static_cast<std::int64_t>(mapped), std::memory_order_relaxed);
  auto* raw = span.release();
  return {&raw->header, raw->mapping, mapped};
}

void free_huge(StorageHeader* header) noexcept {
  detail::Span* span = header->span;
  g_huge_buffers.fetch_sub(1, std::memory_order_relaxed);
  g_huge_bytes.fetch_sub(static_cast<std::int64_t>(span->mapping_bytes), std::memory_order_relaxed);
  detail::unmap(span->mapping, span->mapping_bytes);
  delete span;
}

unsigned malloc_class(std::size_t bytes) noexcept {
  return bytes <= detail::kMaxRunSize ? detail::size_class_of(bytes) : detail::kClassCount;
}

// The SLUICE_POOL=OFF paths; a pooled build compiles them too, so that they stay compilable.
[[maybe_unused]] PooledAllocator::Allocation allocate_malloc(std::size_t bytes) {
  void* memory = std::malloc(detail::kSlotHeaderSize + (bytes == 0 ? 1 : bytes));
  if (memory == nullptr) {
    throw OutOfMemoryError(fmt::format("malloc of a buffer of {} bytes failed", bytes));
  }
  auto* header = static_cast<StorageHeader*>(memory);
  header->stamp(StorageKind::kMalloc, 0);
  header->malloc_bytes = bytes;
  g_malloc_live[malloc_class(bytes)].fetch_add(1, std::memory_order_relaxed);
  g_malloc_bytes.fetch_add(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
  return {header, detail::slot_data(header), bytes};
}

void free_malloc(StorageHeader* header) noexcept {
  g_malloc_live[malloc_class(header->malloc_bytes)].fetch_sub(1, std::memory_order_relaxed);
  g_malloc_bytes.fetch_sub(static_cast<std::int64_t>(header->malloc_bytes),
                           std::memory_order_relaxed);
  std::free(header);
}

}  // namespace

PooledAllocator::Allocation PooledAllocator::allocate_slow(std::size_t bytes) {
  if (bytes > kMaxAllocation) {
    throw SizeOverflowError(
        fmt::format("allocate: {} bytes is over the {} byte limit", bytes, kMaxAllocation));
  }
  if constexpr (!SLUICE_POOL) return allocate_malloc(bytes);
  if (bytes > detail::kMaxRunSize) return allocate_huge(bytes);
  const unsigned size_class = detail::size_class_of(bytes);
  auto allocate_from = [size_class](Arena& arena) {
    return size_class < detail::kSlabClassCount ? arena.allocate_slot(size_class)
                                                : arena.allocate_run(size_class);
  };
  if (Arena* arena = detail::t_arena) return pooled_result(allocate_from(*arena));
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  if (++reg.shared_slow_calls % 256 == 0) reclaim_abandoned(reg);
  return pooled_result(allocate_from(reg.shared));
}

void PooledAllocator::deallocate_slow(StorageHeader* header) noexcept {
  if constexpr (SLUICE_LEAK_TRACKING) detail::forget_allocation(header);
  switch (header->kind) {
    case StorageKind::kSlabSlot:
    case StorageKind::kRun: {
      Arena* owner = header->span->arena;
      if (owner == detail::t_arena) {
        owner->free_local(header);
        return;
      }
      Registry& reg = registry();
      if (owner == &reg.shared) {
        std::lock_guard lock(reg.mutex);
        owner->free_local(header);
        return;
      }
      owner->push_remote_free(header);
      return;
    }
    case StorageKind::kHuge:
      free_huge(header);
      return;
    case StorageKind::kMalloc:
      free_malloc(header);
      return;
    case StorageKind::kExternal:
      header->destroy(header);
      return;
  }
}

PooledAllocator::ThreadArena::ThreadArena() {
  if (detail::t_arena != nullptr) {
    throw std::logic_error("PooledAllocator::ThreadArena: this thread already has an arena");
  }
  auto arena = std::make_unique<Arena>();
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  reg.arenas.push_back(*arena);
  arena_ = arena.release();
  detail::t_arena = arena_;
}

PooledAllocator::ThreadArena::~ThreadArena() {
  if (detail::t_arena != arena_) [[unlikely]] {
    logger().critical(
        "PooledAllocator::ThreadArena destroyed off the thread that made it: an arena is "
        "its thread's for life");
    std::abort();
  }
  // From here on this thread frees into the arena through its remote list, like any other.
  Arena* arena = std::exchange(detail::t_arena, nullptr);
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  arena->trim();
  if (arena->empty()) {
    delete_arena(reg, arena);
    return;
  }
  arena->abandoned = true;
  ++reg.abandoned;
  std::int64_t live = 0;
  for (unsigned size_class = 0; size_class < detail::kClassCount; ++size_class) {
    live += arena->live_in_class(size_class);
  }
  logger().debug("thread arena closed with {} buffers still live; reclaimed when freed", live);
}

void PooledAllocator::trim() noexcept {
  Registry& reg = registry();
  if (Arena* arena = detail::t_arena) arena->trim();
  std::lock_guard lock(reg.mutex);
  if (detail::t_arena == nullptr) reg.shared.trim();
  reclaim_abandoned(reg);
}

namespace {
constexpr std::chrono::milliseconds kDefaultLoopTrimPeriod = std::chrono::seconds(10);
std::atomic<std::int64_t> g_loop_trim_period_ms{kDefaultLoopTrimPeriod.count()};
}  // namespace

void PooledAllocator::set_loop_trim_period(std::chrono::milliseconds period) noexcept {
  g_loop_trim_period_ms.store(std::max<std::int64_t>(period.count(), 0), std::memory_order_relaxed);
}

std::chrono::milliseconds PooledAllocator::loop_trim_period() noexcept {
  return std::chrono::milliseconds(g_loop_trim_period_ms.load(std::memory_order_relaxed));
}

AllocatorMetrics PooledAllocator::metrics() {
  AllocatorMetrics metrics;
  if constexpr (!SLUICE_POOL) {
    for (unsigned size_class = 0; size_class <= detail::kClassCount; ++size_class) {
      const auto live = g_malloc_live[size_class].load(std::memory_order_relaxed);
      metrics.live_buffers += live;
      if (size_class < detail::kClassCount) {
        metrics.live_per_class[size_class] = live;
      } else {
        metrics.huge_buffers = live;
      }
    }
    metrics.live_bytes = g_malloc_bytes.load(std::memory_order_relaxed);
    return metrics;
  }
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  reclaim_abandoned(reg);
  auto add_arena = [&metrics](const Arena& arena) {
    for (unsigned size_class = 0; size_class < detail::kClassCount; ++size_class) {
      metrics.live_per_class[size_class] += arena.live_in_class(size_class);
    }
    metrics.chunks += arena.chunk_count();
    metrics.remote_frees += arena.remote_frees();
  };
  add_arena(reg.shared);
  for (const Arena& arena : reg.arenas)
    add_arena(arena);
  metrics.remote_frees += reg.remote_frees_of_deleted_arenas;
  metrics.arenas = static_cast<std::int64_t>(reg.arenas.size());
  for (unsigned size_class = 0; size_class < detail::kClassCount; ++size_class) {
    const auto live = metrics.live_per_class[size_class];
    metrics.live_buffers += live;
    metrics.live_bytes += live * static_cast<std::int64_t>(detail::class_size(size_class));
  }
  metrics.huge_buffers = g_huge_buffers.load(std::memory_order_relaxed);
  metrics.live_buffers += metrics.huge_buffers;
  metrics.live_bytes += g_huge_bytes.load(std::memory_order_relaxed);
  metrics.reserved_bytes = detail::g_reserved_bytes.load(std::memory_order_relaxed);
  return metrics;
}

std::string PooledAllocator::leak_report(std::size_t max_sites) {
  if constexpr (SLUICE_LEAK_TRACKING) return detail::live_allocation_report(max_sites);
  return fmt::format(
      "{} live buffers (configure with -DSLUICE_LEAK_TRACKING=ON to see where they were "
      "allocated)\n",
      metrics().live_buffers);
}

std::string AllocatorMetrics::to_string() const {
  std::string text = fmt::format(
      "live {} buffers / {} bytes, reserved {} bytes in {} chunks + {} huge, {} remote frees, "
      "{} arenas",
      live_buffers, live_bytes, reserved_bytes, chunks, huge_buffers, remote_frees, arenas);
  for (unsigned size_class = 0; size_class < detail::kClassCount; ++size_class) {
    if (live_per_class[size_class] != 0) {
      text += fmt::format("\n  class {:>2} ({:>7} B): {} live", size_class,
                          detail::class_size(size_class), live_per_class[size_class]);
    }
  }
  return text;
}

}  // namespace sluice
