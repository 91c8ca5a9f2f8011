#include "sluice/buffer/mapped_region.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <string>

#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/detail/storage_header.hpp"

namespace sluice {
namespace {

// The storage of a mapped buffer: its header, then what is needed to unmap.
struct MappedStorage {
  detail::StorageHeader header;  // first: the header's address is the storage's
  void* mapping;
  std::size_t mapping_length;

  static void destroy(detail::StorageHeader* header) noexcept {
    auto* storage = reinterpret_cast<MappedStorage*>(header);
    ::munmap(storage->mapping, storage->mapping_length);
    delete storage;
  }
};

}  // namespace

Result<Buffer> map_file_region(const File& file, std::uint64_t offset, std::size_t length) {
  if (length == 0) return Buffer();
  if (length > kMaxMappedWindow) {
    return Error(std::make_error_code(std::errc::value_too_large),
                 "map " + file.path() + ": window over 1 GiB");
  }
  if (offset > file.size() || length > file.size() - offset) {
    // Past its end a file maps as nothing readable: the rest of its last page reads as zeros,
    // the pages after it fault (SIGBUS) when the process reads them. Handed out, such a window
    // was written to a socket as zeros the file never held, or killed whoever read it.
    return Error(BufferErrc::index_out_of_bounds,
                 "map " + file.path() + ": " + std::to_string(length) + " bytes at " +
                     std::to_string(offset) + ", past its end at " + std::to_string(file.size()));
  }
  static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t aligned = offset - offset % page;
  const std::size_t lead = static_cast<std::size_t>(offset - aligned);
  void* mapping =
      ::mmap(nullptr, length + lead, PROT_READ, MAP_SHARED, file.fd(), static_cast<off_t>(aligned));
  if (mapping == MAP_FAILED) return Error::from_errno(errno, "mmap " + file.path());
  ::madvise(mapping, length + lead, MADV_SEQUENTIAL);
  auto* storage = new (std::nothrow) MappedStorage{{}, mapping, length + lead};
  if (storage == nullptr) {
    ::munmap(mapping, length + lead);
    return Error(std::make_error_code(std::errc::not_enough_memory), "map " + file.path());
  }
  storage->header.stamp(detail::StorageKind::kExternal, 0);
  storage->header.destroy = &MappedStorage::destroy;
  return Buffer::adopt(&storage->header, static_cast<std::byte*>(mapping) + lead, length);
}

}  // namespace sluice
