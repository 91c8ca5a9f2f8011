#include "refuse_allocation.hpp"

#include <cstdlib>
#include <new>
#include <utility>

namespace sluice::test {
thread_local bool refuse_next_allocation = false;
}  // namespace sluice::test

// Not inlined: gcc would take the inlined free() for the wrong partner of a `new`.
[[gnu::noinline]] void* operator new(std::size_t size) {
  if (std::exchange(sluice::test::refuse_next_allocation, false)) throw std::bad_alloc();
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (...) {
    return nullptr;
  }
}
[[gnu::noinline]] void operator delete(void* block) noexcept {
  std::free(block);
}
[[gnu::noinline]] void operator delete(void* block, std::size_t) noexcept {
  std::free(block);
}
