#include "support/allocation_hooks.hpp"

#include <cstdlib>
#include <new>
#include <utility>

namespace sluice::test {
thread_local std::size_t allocations_made = 0;
thread_local bool refuse_next_allocation = false;
thread_local std::size_t refuse_allocations_from = 0;
}  // namespace sluice::test

// Not inlined: gcc would take the inlined free() for the wrong partner of a `new`. The array
// and aligned-less nothrow forms of libstdc++ call this one.
[[gnu::noinline]] void* operator new(std::size_t size) {
  using namespace sluice::test;
  if (std::exchange(refuse_next_allocation, false)) throw std::bad_alloc();
  if (refuse_allocations_from != 0 && size >= refuse_allocations_from) throw std::bad_alloc();
  ++allocations_made;
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
