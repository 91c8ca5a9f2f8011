#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/file_region.hpp"
#include "sluice/core/result.hpp"

namespace sluice {

// A source of bytes produced a chunk at a time, so that a large body is read only as fast as
// the peer takes it (see ChunkedWriteHandler).
class ChunkedInput {
 public:
  virtual ~ChunkedInput() = default;
  // The next chunk; an empty optional when there is no more. An error ends the transfer.
  virtual Result<std::optional<Buffer>> next_chunk() = 0;
  // Bytes in all, and bytes produced so far.
  virtual std::uint64_t length() const = 0;
  virtual std::uint64_t progress() const = 0;
};

// The message that carries a ChunkedInput down the pipeline. Without an input (moved from) it
// is an empty stream.
struct ChunkedStream {
  std::unique_ptr<ChunkedInput> input;
};

// `count` bytes of a file from `offset`, read with pread into pooled buffers of `chunk_size`.
// The copy path: what a transport that cannot sendfile uses, and the baseline the zero-copy
// paths are measured against. A file that ends before the region does is an error
// (ChannelErrc::file_truncated).
class ChunkedFile final : public ChunkedInput {
 public:
  static constexpr std::size_t kDefaultChunkSize = 64 * 1024;

  // Throws std::invalid_argument for a chunk_size of 0 (the stream would never advance) or
  // over Buffer::kMaxCapacity (no chunk could be allocated).
  ChunkedFile(std::shared_ptr<const File> file, std::uint64_t offset, std::uint64_t count,
              std::size_t chunk_size = kDefaultChunkSize);

  Result<std::optional<Buffer>> next_chunk() override;
  std::uint64_t length() const override { return count_; }
  std::uint64_t progress() const override { return done_; }

 private:
  std::shared_ptr<const File> file_;
  std::uint64_t offset_;
  std::uint64_t count_;
  std::size_t chunk_size_;
  std::uint64_t done_ = 0;
};

}  // namespace sluice
