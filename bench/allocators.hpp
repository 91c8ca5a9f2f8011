#pragma once

// The four allocators the allocation benchmarks compare, behind one shape so that every
// benchmark body is written once and treats them alike:
//
//   Handle        a move-only RAII handle on one block: its destructor (or assigning over it)
//                 frees the block, as a sluice::Buffer does
//   make(size)    allocates a block of `size` bytes
//   data(handle)  its bytes
//   collect()     what an event loop does once per batch: sluice reclaims blocks that other
//                 threads freed; the others have nothing to do
//   live_blocks() blocks still allocated, or -1 when the allocator does not say (checked after a
//                 benchmark, outside the timed loop)
//
// jemalloc and mimalloc both replace malloc for the whole process once linked, and mimalloc also
// exports __libc_malloc. So each allocator is reached through its own entry points: jemalloc's
// mallocx/sdallocx, mimalloc's mi_malloc/mi_free, and glibc's malloc/free looked up inside
// libc.so.6 itself (resolve_allocators() checks where each one lives).

#include <jemalloc/jemalloc.h>
#include <mimalloc.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/pooled_allocator.hpp"

namespace sluice::bench {

// glibc's own malloc and free, set by resolve_allocators().
inline void* (*g_glibc_malloc)(std::size_t) = nullptr;
inline void (*g_glibc_free)(void*) = nullptr;

// Finds glibc's malloc and checks that every figure measures the allocator it is named after.
// Returns a description of what was found; throws std::runtime_error when a check fails.
std::string resolve_allocators();

// The handle of the malloc-style allocators. `Raw` gives allocate(size) and free(pointer, size).
template <typename Raw>
class Owned {
 public:
  Owned() noexcept = default;
  explicit Owned(std::size_t size) noexcept : pointer_(Raw::allocate(size)), size_(size) {}
  Owned(Owned&& other) noexcept
      : pointer_(std::exchange(other.pointer_, nullptr)), size_(other.size_) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) {
      reset();
      pointer_ = std::exchange(other.pointer_, nullptr);
      size_ = other.size_;
    }
    return *this;
  }
  ~Owned() { reset(); }

  void* data() const noexcept { return pointer_; }

 private:
  // sdallocx must not see a null pointer, so the check is here for every allocator.
  void reset() noexcept {
    if (pointer_ != nullptr) Raw::free(std::exchange(pointer_, nullptr), size_);
  }

  void* pointer_ = nullptr;
  std::size_t size_ = 0;
};

struct GlibcRaw {
  static void* allocate(std::size_t size) noexcept { return g_glibc_malloc(size); }
  static void free(void* pointer, std::size_t) noexcept { g_glibc_free(pointer); }
};
struct JemallocRaw {
  static void* allocate(std::size_t size) noexcept { return mallocx(size, 0); }
  static void free(void* pointer, std::size_t size) noexcept { sdallocx(pointer, size, 0); }
};
struct MimallocRaw {
  static void* allocate(std::size_t size) noexcept { return mi_malloc(size); }
  static void free(void* pointer, std::size_t) noexcept { mi_free(pointer); }
};

template <typename Raw>
struct MallocStyle {
  using Handle = Owned<Raw>;
  static Handle make(std::size_t size) noexcept { return Handle(size); }
  static void* data(const Handle& handle) noexcept { return handle.data(); }
  static void collect() noexcept {}
  static std::int64_t live_blocks() noexcept { return -1; }
};

struct SluiceAlloc {
  static constexpr const char* kName = "sluice";
  using Handle = Buffer;
  static Handle make(std::size_t size) { return Buffer::allocate(size); }
  static void* data(Handle& handle) noexcept { return handle.writable_span().data(); }
  static void collect() noexcept { PooledAllocator::collect(); }
  static std::int64_t live_blocks() { return PooledAllocator::metrics().live_buffers; }
};
struct GlibcAlloc : MallocStyle<GlibcRaw> {
  static constexpr const char* kName = "glibc";
};
struct JemallocAlloc : MallocStyle<JemallocRaw> {
  static constexpr const char* kName = "jemalloc";
};
struct MimallocAlloc : MallocStyle<MimallocRaw> {
  static constexpr const char* kName = "mimalloc";
};

}  // namespace sluice::bench
