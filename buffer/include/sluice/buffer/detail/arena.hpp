#pragma once

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "sluice/buffer/detail/asan.hpp"
#include "sluice/buffer/detail/size_class.hpp"
#include "sluice/buffer/detail/span.hpp"
#include "sluice/buffer/detail/storage_header.hpp"

namespace sluice::detail {

// Counters that only their owner writes and anyone may read: a plain load and store, no locked
// instruction, yet no data race for a metrics reader on another thread.
inline void add_owned(std::atomic<std::int64_t>& counter, std::int64_t delta) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

// A 4 MiB chunk, aligned to its size so that any address inside finds its chunk by masking.
//
//   +---------------------------+------------------------------------------------------+
//   | Chunk header: spans[512]  | pages: slabs of slots | page runs | free runs  ...   |
//   +---------------------------+------------------------------------------------------+
//   ^ chunk base (4 MiB aligned)  ^ kFirstPage                                 4 MiB ^
//
//   slab of class c:  [hdr|bytes][hdr|bytes][hdr|bytes] ...  stride = class_size(c) + 16
struct Chunk {
  Arena* arena;
  boost::intrusive::list_member_hook<> hook;
  std::uint32_t free_pages;
  Span spans[kPagesPerChunk];

  static Chunk* of(const void* address) noexcept {
    return reinterpret_cast<Chunk*>(reinterpret_cast<std::uintptr_t>(address) & ~(kChunkSize - 1));
  }
};

// The chunk header takes the first pages; the rest hold slabs and runs.
inline constexpr std::uint32_t kChunkFirstPage =
    static_cast<std::uint32_t>((sizeof(Chunk) + kPageSize - 1) / kPageSize);
inline constexpr std::uint32_t kChunkUsablePages = kPagesPerChunk - kChunkFirstPage;
static_assert(kChunkUsablePages * kPageSize >= kMaxRunSize);

inline std::byte* slot_data(StorageHeader* header) noexcept {
  return reinterpret_cast<std::byte*>(header) + kSlotHeaderSize;
}

// One arena per registered thread (the event loops), plus one shared arena, used under a lock,
// for every other thread. An arena is its thread's cache: its fast paths below take no lock and
// issue no atomic read-modify-write. Blocks freed by another thread come back through
// remote_frees_, a lock-free stack the owner drains.
class Arena {
 public:
  Arena();
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Fast path of a slab slot; nullptr when the current slab has no ready slot.
  StorageHeader* try_allocate_slot(unsigned size_class) noexcept {
    SmallBin& bin = small_[size_class];
    Span* slab = bin.current;
    StorageHeader* header = slab->free_slots;
    if (header == nullptr) [[unlikely]]
      return nullptr;
    slab->free_slots = header->next_free();
    ++slab->used;
    add_owned(bin.live, 1);
    header->stamp(StorageKind::kSlabSlot, size_class);
    unpoison(slot_data(header), class_size(size_class));
    return header;
  }

  // Fast path of a page run from this class's cache of recently freed runs.
  StorageHeader* try_allocate_cached_run(unsigned size_class) noexcept {
    RunBin& bin = runs_[size_class - kSlabClassCount];
    StorageHeader* header = bin.cache;
    if (header == nullptr) [[unlikely]]
      return nullptr;
    bin.cache = header->next_free();
    --bin.cached;
    add_owned(bin.live, 1);
    header->stamp(StorageKind::kRun, size_class);
    unpoison(header->span->page_data(), class_size(size_class));
    return header;
  }

  // Frees a slot this arena owns; called on the owning thread only.
  void free_slot(StorageHeader* header, Span* slab) noexcept {
    poison(slot_data(header), class_size(slab->size_class));
    header->set_next_free(slab->free_slots);
    slab->free_slots = header;
    const std::uint32_t used = --slab->used;
    add_owned(small_[slab->size_class].live, -1);
    // One compare catches both rare cases: the slab emptied (used == 0), or it was retired
    // full and must rejoin its bin (kRetiredFull set).
    if (used - 1 >= Span::kRetiredFull - 1) [[unlikely]]
      slab_needs_attention(slab);
  }

  // Frees a page run this arena owns; called on the owning thread only.
  void free_run(StorageHeader* header) noexcept {
    Span* run = header->span;
    poison(run->page_data(), class_size(run->size_class));
    RunBin& bin = runs_[run->size_class - kSlabClassCount];
    add_owned(bin.live, -1);
    if (bin.cached >= bin.cache_limit) [[unlikely]] {
      release_pages(run);
      return;
    }
    header->set_next_free(bin.cache);
    bin.cache = header;
    ++bin.cached;
  }

  // Slow paths (arena.cpp). Both throw OutOfMemoryError when the OS refuses memory.
  StorageHeader* allocate_slot(unsigned size_class);
  StorageHeader* allocate_run(unsigned size_class);

  // Frees a block of any pooled kind this arena owns (the owner, or a holder of the lock).
  void free_local(StorageHeader* header) noexcept;

  // Called from another thread: queues the block for the owner.
  void push_remote_free(StorageHeader* header) noexcept;
  bool has_remote_frees() const noexcept {
    return remote_frees_.load(std::memory_order_relaxed) != nullptr;
  }
  // Owner only: frees everything other threads queued. Returns how many blocks.
  std::size_t drain_remote_frees() noexcept;

  // Owner only: returns cached runs, spare slabs and every empty chunk to the OS.
  void trim() noexcept;

  std::int64_t live_in_class(unsigned size_class) const noexcept {
    return size_class < kSlabClassCount
               ? small_[size_class].live.load(std::memory_order_relaxed)
               : runs_[size_class - kSlabClassCount].live.load(std::memory_order_relaxed);
  }
  std::int64_t chunk_count() const noexcept { return chunks_.load(std::memory_order_relaxed); }
  std::int64_t remote_frees() const noexcept {
    return remote_free_count_.load(std::memory_order_relaxed);
  }
  bool empty() const noexcept;

  // Registry bookkeeping, guarded by the allocator's lock.
  boost::intrusive::list_member_hook<> registry_hook;
  bool abandoned = false;

 private:
  struct SmallBin {
    Span* current;  // never null: the arena's exhausted sentinel when there is no slab
    boost::intrusive::list<Span, boost::intrusive::member_hook<Span, boost::intrusive::list_member_hook<>, &Span::list_hook>> partial;
    Span* spare = nullptr;  // one empty slab kept to absorb alloc/free churn at a slab edge
    std::atomic<std::int64_t> live{0};
  };
  struct RunBin {
    StorageHeader* cache = nullptr;  // recently freed runs of this class, LIFO
    std::uint32_t cached = 0;
    std::uint32_t cache_limit = 0;
    std::atomic<std::int64_t> live{0};
  };
  struct RunOrder {
    bool operator()(const Span& a, const Span& b) const noexcept {
      return a.pages != b.pages ? a.pages < b.pages : &a < &b;
    }
  };
  using FreeRuns = boost::intrusive::multiset<
      Span, boost::intrusive::member_hook<Span, decltype(Span::tree_hook), &Span::tree_hook>,
      boost::intrusive::compare<RunOrder>>;
  using ChunkList = boost::intrusive::list<
      Chunk, boost::intrusive::member_hook<Chunk, boost::intrusive::list_member_hook<>, &Chunk::hook>>;

  void slab_needs_attention(Span* slab) noexcept;
  Span* new_slab(unsigned size_class);
  Span* allocate_pages(std::uint32_t pages);
  void release_pages(Span* span) noexcept;
  void map_chunk();
  void unmap_chunk(Chunk* chunk) noexcept;
  static void mark_run(Chunk* chunk, std::uint32_t first, std::uint32_t pages, SpanState state) noexcept;

  std::array<SmallBin, kSlabClassCount> small_;
  std::array<RunBin, kClassCount - kSlabClassCount> runs_;
  Span exhausted_;  // sentinel slab with no slots
  FreeRuns free_runs_;
  ChunkList chunk_list_;
  std::uint32_t empty_chunks_ = 0;
  std::atomic<std::int64_t> chunks_{0};
  std::atomic<std::int64_t> remote_free_count_{0};
  std::atomic<StorageHeader*> remote_frees_{nullptr};
};

// The calling thread's arena, or nullptr for threads that use the shared arena.
inline constinit thread_local Arena* t_arena = nullptr;

}  // namespace sluice::detail
