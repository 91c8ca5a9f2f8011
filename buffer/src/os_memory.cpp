#include "os_memory.hpp"

#include <sys/mman.h>

#include "sluice/buffer/detail/asan.hpp"

namespace sluice::detail {

std::atomic<std::int64_t> g_reserved_bytes{0};

namespace {

void* map(std::size_t bytes) noexcept {
  void* address =
      ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return address == MAP_FAILED ? nullptr : address;
}

}  // namespace

void* map_aligned(std::size_t bytes, std::size_t alignment) noexcept {
  void* address = map(bytes);
  if (address == nullptr) return nullptr;
  if ((reinterpret_cast<std::uintptr_t>(address) & (alignment - 1)) != 0) {
    // The kernel placed it unaligned: map enough to contain an aligned block and cut the
    // excess off both ends.
    ::munmap(address, bytes);
    auto* wide = static_cast<std::byte*>(map(bytes + alignment));
    if (wide == nullptr) return nullptr;
    const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(wide);
    const std::uintptr_t aligned = (begin + alignment - 1) & ~(alignment - 1);
    const std::size_t head = aligned - begin;
    if (head != 0) ::munmap(wide, head);
    const std::size_t tail = alignment - head;
    if (tail != 0) ::munmap(reinterpret_cast<std::byte*>(aligned) + bytes, tail);
    address = reinterpret_cast<void*>(aligned);
  }
  g_reserved_bytes.fetch_add(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
  return address;
}

void unmap(void* address, std::size_t bytes) noexcept {
  // Poisoned shadow must not outlive the mapping: whoever maps these addresses next would
  // inherit it.
  unpoison(address, bytes);
  ::munmap(address, bytes);
  g_reserved_bytes.fetch_sub(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
}

}  // namespace sluice::detail
