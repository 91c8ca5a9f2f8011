// The slow paths of an arena: carving slabs, finding and merging page runs, mapping and
// unmapping chunks, and the remote-free stack. The fast paths are inline in arena.hpp.

#include "sluice/buffer/detail/arena.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "os_memory.hpp"
#include "sluice/buffer/buffer_error.hpp"

namespace sluice::detail {
namespace {

// Empty chunks an arena keeps mapped, so that a load oscillating around a chunk boundary does
// not map and unmap one on every swing.
constexpr std::uint32_t kReservedEmptyChunks = 1;

// Slots carved from a fresh slab at once: enough to stay on the fast path for a while, few
// enough not to touch much memory ahead of use.
constexpr std::size_t kCarveBatch = 16;

// Bytes of recently freed runs each large class keeps for reuse.
constexpr std::size_t kRunCacheBytes = 512 * 1024;

struct PagesFirst {
  bool operator()(const Span& span, std::uint32_t pages) const noexcept {
    return span.pages < pages;
  }
  bool operator()(std::uint32_t pages, const Span& span) const noexcept {
    return pages < span.pages;
  }
};

}  // namespace

Arena::Arena() {
  exhausted_.state = SpanState::kSlab;
  exhausted_.set_used(Span::kCurrentPin);
  for (auto& current : current_)
    current.store(&exhausted_, std::memory_order_relaxed);
  for (unsigned size_class = kSlabClassCount; size_class < kClassCount; ++size_class) {
    runs_[size_class - kSlabClassCount].cache_limit = static_cast<std::uint32_t>(
        std::max<std::size_t>(1, kRunCacheBytes / class_size(size_class)));
  }
}

Arena::~Arena() {
  for (SmallBin& bin : small_)
    bin.partial.clear();
  free_runs_.clear();
  while (!chunk_list_.empty())
    unmap_chunk(&chunk_list_.front());
}

std::int64_t Arena::live_in_class_locked(unsigned size_class) const noexcept {
  if (size_class >= kSlabClassCount) {
    return run_live_[size_class - kSlabClassCount].load(std::memory_order_relaxed);
  }
  const Span* current = current_[size_class].load(std::memory_order_acquire);
  const std::int64_t live = settled_[size_class].load(std::memory_order_relaxed) +
                            std::int64_t{current->used_count()} - Span::kCurrentPin;
  // Read while the owner runs, the two parts may come from different moments.
  return live < 0 ? 0 : live;
}

std::int64_t Arena::live_in_class(unsigned size_class) const noexcept {
  std::lock_guard lock(chunk_mutex_);
  return live_in_class_locked(size_class);
}

bool Arena::empty() const noexcept {
  std::lock_guard lock(chunk_mutex_);
  for (unsigned size_class = 0; size_class < kClassCount; ++size_class) {
    if (live_in_class_locked(size_class) != 0) return false;
  }
  return true;
}

StorageHeader* Arena::allocate_slot(unsigned size_class) {
  if (has_remote_frees()) drain_remote_frees();
  SmallBin& bin = small_[size_class];
  const std::size_t stride = class_size(size_class) + kSlotHeaderSize;
  for (;;) {
    if (StorageHeader* header = try_allocate_slot(size_class)) return header;
    Span* slab = current_[size_class].load(std::memory_order_relaxed);
    if (slab != &exhausted_ && slab->unused_begin + stride <= slab->slab_end()) {
      // Carve the next few never-used slots into the free list, highest address first so that
      // they come out in address order.
      const std::size_t room =
          static_cast<std::size_t>(slab->slab_end() - slab->unused_begin) / stride;
      const std::size_t count = std::min(room, kCarveBatch);
      StorageHeader* head = nullptr;
      for (std::size_t i = count; i-- > 0;) {
        auto* header = reinterpret_cast<StorageHeader*>(slab->unused_begin + i * stride);
        header->stamp(StorageKind::kSlabSlot, size_class);
        header->span = slab;
        set_slot_link(header, head);
        poison(slot_data(header), class_size(size_class));
        head = header;
      }
      slab->free_slots = head;
      slab->unused_begin += count * stride;
      continue;
    }
    // The current slab is full: retire it until a free brings it back, then take a partly used
    // slab, the spare empty one, or a new one. Its live slots join settled_, the new current
    // slab's leave it.
    if (slab != &exhausted_) {
      const std::uint32_t live = slab->used_count() - Span::kCurrentPin;
      add_owned(settled_[size_class], live);
      slab->set_used(live + Span::kRetiredFull);
      current_[size_class].store(&exhausted_, std::memory_order_relaxed);
    }
    if (!bin.partial.empty()) {
      slab = &bin.partial.front();
      bin.partial.pop_front();
    } else if (bin.spare != nullptr) {
      slab = std::exchange(bin.spare, nullptr);
    } else {
      slab = new_slab(size_class);  // current_ is the sentinel if this throws
    }
    add_owned(settled_[size_class], -std::int64_t{slab->used_count()});
    slab->set_used(slab->used_count() + Span::kCurrentPin);
    // Release: a metrics reader that finds this slab also sees its span initialised.
    current_[size_class].store(slab, std::memory_order_release);
  }
}

Span* Arena::new_slab(unsigned size_class) {
  const SlabGeometry geometry = kSlabGeometry[size_class];
  Span* slab = allocate_pages(geometry.pages);
  slab->state = SpanState::kSlab;
  slab->size_class = static_cast<std::uint8_t>(size_class);
  slab->slots = geometry.slots;
  slab->set_used(0);
  slab->free_slots = nullptr;
  slab->unused_begin = slab->page_data();
  return slab;
}

void Arena::slab_needs_attention(Span* slab) noexcept {
  SmallBin& bin = small_[slab->size_class];
  if (const std::uint32_t used = slab->used_count(); used & Span::kRetiredFull) {
    slab->set_used(used - Span::kRetiredFull);
    if (used != Span::kRetiredFull) {
      bin.partial.push_front(*slab);
      return;
    }
  } else {
    // Emptied while in the partial list (the current slab is pinned and never gets here).
    bin.partial.erase(bin.partial.iterator_to(*slab));
  }
  // The slab is empty and in no list: keep it as the spare, or give its pages back.
  if (bin.spare == nullptr) {
    bin.spare = slab;
  } else {
    release_pages(slab);
  }
}

StorageHeader* Arena::allocate_run(unsigned size_class) {
  if (has_remote_frees()) drain_remote_frees();
  if (StorageHeader* header = try_allocate_cached_run(size_class)) return header;
  Span* run = allocate_pages(run_pages(size_class));
  run->state = SpanState::kRun;
  run->size_class = static_cast<std::uint8_t>(size_class);
  run->set_used(1);
  run->header.span = run;
  run->header.stamp(StorageKind::kRun, size_class);
  add_owned(run_live_[size_class - kSlabClassCount], 1);
  return &run->header;
}

void Arena::free_local(StorageHeader* header) noexcept {
  // Ask the span, not header->kind: a block drained from the remote-free stack has had its
  // first 8 bytes (count, kind, class) overwritten by the stack's link; only `span` survives.
  if (header->span->state == SpanState::kSlab) {
    // The remote-free stack links through the header: give the slot back its kind and class.
    header->stamp(StorageKind::kSlabSlot, header->span->size_class);
    free_slot(header, header->span);
  } else {
    free_run(header);
  }
}

void Arena::push_remote_free(StorageHeader* header) noexcept {
  StorageHeader* head = remote_frees_.load(std::memory_order_relaxed);
  do {
    header->set_next_free(head);
  } while (!remote_frees_.compare_exchange_weak(head, header, std::memory_order_release,
                                                std::memory_order_relaxed));
}

std::size_t Arena::drain_remote_frees() noexcept {
  StorageHeader* header = remote_frees_.exchange(nullptr, std::memory_order_acquire);
  std::size_t count = 0;
  while (header != nullptr) {
    StorageHeader* next = header->next_free();
    free_local(header);
    header = next;
    ++count;
  }
  add_owned(remote_free_count_, static_cast<std::int64_t>(count));
  return count;
}

void Arena::trim() noexcept {
  drain_remote_frees();
  for (RunBin& bin : runs_) {
    while (StorageHeader* header = bin.cache) {
      bin.cache = header->next_free();
      --bin.cached;
      release_pages(header->span);
    }
  }
  for (unsigned size_class = 0; size_class < kSlabClassCount; ++size_class) {
    SmallBin& bin = small_[size_class];
    if (bin.spare != nullptr) release_pages(std::exchange(bin.spare, nullptr));
    Span* current = current_[size_class].load(std::memory_order_relaxed);
    if (current != &exhausted_ && current->used_count() == Span::kCurrentPin) {
      current_[size_class].store(&exhausted_, std::memory_order_relaxed);
      release_pages(current);
    }
  }
  for (auto it = chunk_list_.begin(); it != chunk_list_.end();) {
    Chunk& chunk = *it++;
    if (chunk.free_pages == kChunkUsablePages) {
      free_runs_.erase(free_runs_.iterator_to(chunk.spans[kChunkFirstPage]));
      --empty_chunks_;
      unmap_chunk(&chunk);
    }
  }
}

// --- pages ---------------------------------------------------------------------------------

void Arena::mark_run(Chunk* chunk, std::uint32_t first, std::uint32_t pages,
                     SpanState state) noexcept {
  for (Span* span : {&chunk->spans[first], &chunk->spans[first + pages - 1]}) {
    span->first_page = static_cast<std::uint16_t>(first);
    span->pages = static_cast<std::uint16_t>(pages);
    span->state = state;
    span->arena = chunk->arena;
  }
}

Span* Arena::allocate_pages(std::uint32_t pages) {
  auto it = free_runs_.lower_bound(pages, PagesFirst{});
  if (it == free_runs_.end()) {
    map_chunk();
    it = free_runs_.lower_bound(pages, PagesFirst{});
  }
  Span& run = *it;
  free_runs_.erase(it);
  Chunk* chunk = Chunk::of(&run);
  const std::uint32_t first = run.first_page;
  const std::uint32_t total = run.pages;
  if (total > pages) {
    mark_run(chunk, first + pages, total - pages, SpanState::kFree);
    free_runs_.insert(chunk->spans[first + pages]);
  }
  if (chunk->free_pages == kChunkUsablePages) --empty_chunks_;
  chunk->free_pages -= pages;
  mark_run(chunk, first, pages, SpanState::kRun);
  Span* span = &chunk->spans[first];
  unpoison(span->page_data(), std::size_t{pages} << kPageShift);
  return span;
}

void Arena::release_pages(Span* span) noexcept {
  Chunk* chunk = Chunk::of(span);
  std::uint32_t first = span->first_page;
  std::uint32_t pages = span->pages;
  poison(span->page_data(), std::size_t{pages} << kPageShift);
  chunk->free_pages += pages;
  if (first > kChunkFirstPage) {
    const Span& previous_tail = chunk->spans[first - 1];
    if (previous_tail.state == SpanState::kFree) {
      Span& previous = chunk->spans[previous_tail.first_page];
      free_runs_.erase(free_runs_.iterator_to(previous));
      first = previous.first_page;
      pages += previous.pages;
    }
  }
  const std::uint32_t next_first = first + pages;
  if (next_first < kPagesPerChunk) {
    Span& next = chunk->spans[next_first];
    if (next.state == SpanState::kFree) {
      free_runs_.erase(free_runs_.iterator_to(next));
      pages += next.pages;
    }
  }
  if (chunk->free_pages == kChunkUsablePages) {
    if (empty_chunks_ >= kReservedEmptyChunks) {
      unmap_chunk(chunk);
      return;
    }
    ++empty_chunks_;
  }
  mark_run(chunk, first, pages, SpanState::kFree);
  free_runs_.insert(chunk->spans[first]);
}

void Arena::map_chunk() {
  void* memory = map_aligned(kChunkSize, kChunkSize);
  if (memory == nullptr) {
    throw OutOfMemoryError("mapping a " + std::to_string(kChunkSize >> 20) +
                           " MiB chunk failed: " + std::strerror(errno));
  }
  auto* chunk = ::new (memory) Chunk;
  chunk->arena = this;
  chunk->free_pages = kChunkUsablePages;
  chunk_list_.push_back(*chunk);
  add_owned(chunks_, 1);
  ++empty_chunks_;
  mark_run(chunk, kChunkFirstPage, kChunkUsablePages, SpanState::kFree);
  free_runs_.insert(chunk->spans[kChunkFirstPage]);
}

void Arena::unmap_chunk(Chunk* chunk) noexcept {
  chunk_list_.erase(chunk_list_.iterator_to(*chunk));
  // Metrics may be reading a span in this chunk (live_in_class): wait for them.
  std::lock_guard lock(chunk_mutex_);
  chunk->~Chunk();
  add_owned(chunks_, -1);
  unmap(chunk, kChunkSize);
}

}  // namespace sluice::detail
