#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice::detail {

struct Span;

enum class StorageKind : std::uint8_t {
  kSlabSlot,  // a slot of a slab; the header sits in front of the bytes
  kRun,       // a page run; the header lives in the run's Span
  kHuge,      // a mapping of its own; the header lives in its Span
  kMalloc,    // SLUICE_POOL=OFF: malloc'd, header in front of the bytes
  kExternal,  // memory sluice did not allocate (a file mapping); `destroy` releases it
};

// The shared part of every buffer's storage: the reference count and what is needed to return
// the memory. Buffer handles point here. While a run or a remotely freed block waits in a list,
// the first 8 bytes of its header link it to the next (see next_free); a free slab slot links
// through its data instead (arena.hpp, slot_link), so a free slot costs no memory beyond its
// header.
struct alignas(16) StorageHeader {
  std::uint32_t refs;  // accessed through std::atomic_ref
  StorageKind kind;
  std::uint8_t size_class;
  std::uint16_t reserved;
  union {
    Span* span;                                       // pooled kinds
    void (*destroy)(StorageHeader* header) noexcept;  // kExternal
    std::size_t malloc_bytes;                         // kMalloc: the capacity asked for
  };

  std::atomic_ref<std::uint32_t> ref_count() noexcept { return std::atomic_ref(refs); }

  // Stamps a freshly allocated header: one reference, kind and class in one 8-byte store.
  void stamp(StorageKind new_kind, unsigned new_class) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
      // Composed in a register: the compiler keeps four field stores when the class varies.
      const std::uint64_t word = std::uint64_t{1} |
                                 std::uint64_t{static_cast<std::uint8_t>(new_kind)} << 32 |
                                 std::uint64_t{static_cast<std::uint8_t>(new_class)} << 40;
      std::memcpy(static_cast<void*>(this), &word, sizeof word);
    } else {
      refs = 1;
      kind = new_kind;
      size_class = static_cast<std::uint8_t>(new_class);
      reserved = 0;
    }
  }

  StorageHeader* next_free() const noexcept {
    StorageHeader* next;
    std::memcpy(&next, static_cast<const void*>(this), sizeof next);
    return next;
  }
  void set_next_free(StorageHeader* next) noexcept {
    std::memcpy(static_cast<void*>(this), &next, sizeof next);
  }
};

static_assert(sizeof(StorageHeader) == 16);
static_assert(offsetof(StorageHeader, kind) == 4 && offsetof(StorageHeader, size_class) == 5);

}  // namespace sluice::detail
