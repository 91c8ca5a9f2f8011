#pragma once

#include <cstddef>
#include <cstdint>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/file_region.hpp"
#include "sluice/core/result.hpp"

namespace sluice {

// The largest window map_file_region maps at once (a Buffer holds under 2 GiB); larger files
// are sent as several windows.
inline constexpr std::size_t kMaxMappedWindow = std::size_t{1} << 30;

// `length` bytes of `file` from `offset`, mapped read-only into memory and returned as a Buffer
// whose storage is the mapping: the transport writes it with sendmsg like any buffer, the pages
// coming straight from the page cache, and it is unmapped when its last handle dies. The bytes
// are read-only (Buffer::is_external): set() and set_bytes() throw ReadOnlyBufferError, an
// append throws CapacityExceededError (the buffer is full), and after clear() writes go to a
// new pooled block. `offset` need not be page-aligned; a `length` over kMaxMappedWindow is
// refused with std::errc::value_too_large, a window reaching past file.size() (the size when
// the file was opened) with BufferErrc::index_out_of_bounds. A `length` of 0 gives an empty
// Buffer, mapping nothing.
//
// If the file shrinks while mapped, the kernel refuses to copy the vanished pages (EFAULT, and
// the write fails with ChannelErrc::file_truncated) rather than the process faulting, since
// only the kernel reads them.
Result<Buffer> map_file_region(const File& file, std::uint64_t offset, std::size_t length);

}  // namespace sluice
