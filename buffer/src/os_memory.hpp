#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sluice::detail {

// Bytes currently mapped from the OS for buffers (chunks and huge mappings).
extern std::atomic<std::int64_t> g_reserved_bytes;

// Anonymous read-write mapping of `bytes` aligned to `alignment` (a power of two that is a
// multiple of the page size); nullptr with errno set when the OS refuses.
void* map_aligned(std::size_t bytes, std::size_t alignment) noexcept;

// Returns a mapping made by map_aligned.
void unmap(void* address, std::size_t bytes) noexcept;

}  // namespace sluice::detail
