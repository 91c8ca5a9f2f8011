#include "sluice/codec/chunked_input.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "sluice/channel/channel_error.hpp"

namespace sluice {

ChunkedFile::ChunkedFile(std::shared_ptr<const File> file, std::uint64_t offset,
                         std::uint64_t count, std::size_t chunk_size)
    : file_(std::move(file)), offset_(offset), count_(count), chunk_size_(chunk_size) {
  if (chunk_size == 0) throw std::invalid_argument("ChunkedFile: chunk_size must be positive");
  // Refused here rather than by every chunk's allocation, once the transfer is under way.
  if (chunk_size > Buffer::kMaxCapacity) {
    throw std::invalid_argument("ChunkedFile: chunk_size is over a buffer's maximum capacity");
  }
}

Result<std::optional<Buffer>> ChunkedFile::next_chunk() {
  if (done_ == count_) return std::optional<Buffer>();
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, count_ - done_));
  Buffer chunk = Buffer::allocate(want);
  const std::span<std::byte> room = chunk.writable_span().first(want);
  std::size_t filled = 0;
  while (filled < want) {
    const ssize_t got = ::pread(file_->fd(), room.data() + filled, want - filled,
                                static_cast<off_t>(offset_ + done_ + filled));
    if (got > 0) {
      filled += static_cast<std::size_t>(got);
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;  // before the message's allocation, which may set it
      return Error::from_errno(error, "pread " + file_->path());
    }
    return Error(ChannelErrc::file_truncated,
                 fmt::format("{} ends at {}, before its region's end at {}", file_->path(),
                             offset_ + done_ + filled, offset_ + count_));
  }
  chunk.advance_writer(filled);
  done_ += filled;
  return std::optional<Buffer>(std::move(chunk));
}

}  // namespace sluice
