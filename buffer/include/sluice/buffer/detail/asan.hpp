#pragma once

#include <cstddef>

// Under AddressSanitizer, the bytes of a freed pooled buffer are poisoned so that a use after
// free through a stale pointer is reported even though the pool keeps the memory.
#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLUICE_ASAN 1
#endif
#endif

#if defined(SLUICE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace sluice::detail {

inline void poison([[maybe_unused]] const void* address,
                   [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(SLUICE_ASAN)
  ASAN_POISON_MEMORY_REGION(address, bytes);
#endif
}

inline void unpoison([[maybe_unused]] const void* address,
                     [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(SLUICE_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(address, bytes);
#endif
}

}  // namespace sluice::detail
