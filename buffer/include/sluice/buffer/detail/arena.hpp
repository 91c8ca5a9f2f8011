#pragma once

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>

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

// A free slot links to the next one through its first data bytes, not its header, so that the
// header keeps its kind and class (stamped when the slot is carved) and allocating a slot
// writes only its reference count.
inline StorageHeader* slot_link(StorageHeader* header) noexcept {
  StorageHeader* next;
  std::memcpy(&next, slot_data(header), sizeof next);
  return next;
}
inline void set_slot_link(StorageHeader* header, StorageHeader* next) noexcept {
  std::memcpy(slot_data(header), &next, sizeof next);
}

// One arena per registered thread (the event loops), plus one shared arena, used under a lock,
// for every other thread. An arena is its thread's cache: its fast paths below take no lock and
// issue no atomic read-modify-write. Blocks freed by another thread come back through
// remote_frees_, a lock-free stack the owner drains.
//
// Live counts of slab classes, kept exact without a counter update on every allocation and free:
// a class's live slots are those of its current slab (its `used` less the pin) plus settled_,
// the live slots of all its other slabs. Allocations (always from the current slab) and frees
// into the current slab move only the slab's `used`; a free into another slab also lowers
// settled_; a slab becoming or ceasing to be current moves its count between the two. Metrics
// read the current slab's count under chunk_mutex_, which the owner takes only to unmap a chunk,
// so the span they read stays mapped.
class Arena {
 public:
  Arena();
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Fast path of a slab slot; nullptr when the current slab has no ready slot.
  StorageHeader* try_allocate_slot(unsigned size_class) noexcept {
    Span* slab = current_[size_class].load(std::memory_order_relaxed);
    StorageHeader* header = slab->free_slots;
    if (header == nullptr) [[unlikely]]
      return nullptr;
    unpoison(slot_data(header), class_size(size_class));
    slab->free_slots = slot_link(header);
    slab->set_used(slab->used_count() + 1);
    header->refs = 1;  // kind and class were stamped when the slot was carved
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
    add_owned(run_live_[size_class - kSlabClassCount], 1);
    header->stamp(StorageKind::kRun, size_class);
    unpoison(header->span->page_data(), class_size(size_class));
    return header;
  }

  // Frees a slot this arena owns; called on the owning thread only.
  void free_slot(StorageHeader* header, Span* slab) noexcept {
    set_slot_link(header, slab->free_slots);
    poison(slot_data(header), class_size(slab->size_class));
    slab->free_slots = header;
    const std::uint32_t used = slab->used_count() - 1;
    slab->set_used(used);
    // One bit test: only the current slab carries the pin (a retired slab is never current).
    // A known trade-off: under mixed sizes frees alternate unpredictably between slabs and this
    // branch mispredicts; a branch-free update of settled_ costs every free a counter update
    // instead (measured: +0.5 ns per pair in BM_Alloc, -3 ns per BM_ServerPattern iteration).
    if ((used & Span::kCurrentPin) == 0) [[unlikely]]
      freed_in_other_slab(slab, used);
  }

  // Frees a page run this arena owns; called on the owning thread only.
  void free_run(StorageHeader* header) noexcept {
    Span* run = header->span;
    poison(run->page_data(), class_size(run->size_class));
    RunBin& bin = runs_[run->size_class - kSlabClassCount];
    add_owned(run_live_[run->size_class - kSlabClassCount], -1);
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

  // Any thread. Exact while the owner is quiet, like every count read from another thread.
  std::int64_t live_in_class(unsigned size_class) const noexcept;
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
    boost::intrusive::list<Span, boost::intrusive::member_hook<
                                     Span, boost::intrusive::list_member_hook<>, &Span::list_hook>>
        partial;
    Span* spare = nullptr;  // one empty slab kept to absorb alloc/free churn at a slab edge
  };
  struct RunBin {
    StorageHeader* cache = nullptr;  // recently freed runs of this class, LIFO
    std::uint32_t cached = 0;
    std::uint32_t cache_limit = 0;
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
      Chunk,
      boost::intrusive::member_hook<Chunk, boost::intrusive::list_member_hook<>, &Chunk::hook>>;

  // A free into a slab that is not current: the slot leaves settled_; a slab that emptied or
  // was retired full needs attention.
  void freed_in_other_slab(Span* slab, std::uint32_t used) noexcept {
    add_owned(settled_[slab->size_class], -1);
    if (used == 0 || used >= Span::kRetiredFull) slab_needs_attention(slab);
  }
  std::int64_t live_in_class_locked(unsigned size_class) const noexcept;
  void slab_needs_attention(Span* slab) noexcept;
  Span* new_slab(unsigned size_class);
  Span* allocate_pages(std::uint32_t pages);
  void release_pages(Span* span) noexcept;
  void map_chunk();
  void unmap_chunk(Chunk* chunk) noexcept;
  static void mark_run(Chunk* chunk, std::uint32_t first, std::uint32_t pages,
                       SpanState state) noexcept;

  // What the fast paths touch comes first, indexed by class so that one scaled address reaches
  // it: each slab class's current slab (never null: the exhausted sentinel, whose count is just
  // the pin, when there is no slab), the live slots of its other slabs, and each run class's
  // live runs.
  std::array<std::atomic<Span*>, kSlabClassCount> current_;
  std::array<std::atomic<std::int64_t>, kSlabClassCount> settled_{};
  std::array<std::atomic<std::int64_t>, kClassCount - kSlabClassCount> run_live_{};
  std::array<SmallBin, kSlabClassCount> small_;
  std::array<RunBin, kClassCount - kSlabClassCount> runs_;
  Span exhausted_;  // sentinel slab with no slots
  FreeRuns free_runs_;
  ChunkList chunk_list_;
  std::uint32_t empty_chunks_ = 0;
  std::atomic<std::int64_t> chunks_{0};
  std::atomic<std::int64_t> remote_free_count_{0};
  std::atomic<StorageHeader*> remote_frees_{nullptr};
  mutable std::mutex chunk_mutex_;  // held by the owner to unmap a chunk, by metrics to read spans
};

// The calling thread's arena, or nullptr for threads that use the shared arena.
//
// Position-independent library code (sluice's own objects are built -fPIC) would reach it
// through the general-dynamic model, a __tls_get_addr call in a shared object; initial-exec is one
// load off the thread pointer. Executables (-fPIE or not), where the fast paths inline into user
// code, keep the compiler's choice, local-exec, which is shorter still.
#if defined(__PIC__) && !defined(__PIE__)
#define SLUICE_ARENA_TLS_MODEL [[gnu::tls_model("initial-exec")]]
#else
#define SLUICE_ARENA_TLS_MODEL
#endif
SLUICE_ARENA_TLS_MODEL inline constinit thread_local Arena* t_arena = nullptr;
#undef SLUICE_ARENA_TLS_MODEL

}  // namespace sluice::detail
