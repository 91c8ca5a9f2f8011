#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "sluice/buffer/file_region.hpp"
#include "sluice/channel/handler_context.hpp"

namespace sluice::examples {

// How a file's bytes reach the socket. All four keep at most about a socket buffer's worth
// of the file in flight per connection, and all handle files over 4 GiB.
//
//   sendfile  FileRegion(kSendfile): page cache -> socket in the kernel, no copy in user space
//   splice    FileRegion(kSplice): page cache -> pipe -> socket, no copy in user space
//   mmap      the file mapped in windows of up to 1 GiB, each a Buffer written with sendmsg:
//             the kernel copies from the mapping, the process never touches the bytes
//   copy      ChunkedFile: pread into pooled 64 KiB buffers, then sendmsg (the baseline)
enum class Transfer : std::uint8_t { kSendfile, kSplice, kMmap, kCopy };

std::optional<Transfer> parse_transfer(std::string_view name) noexcept;
// Whether bodies go as a ChunkedStream (mmap, copy), which a ChunkedWriteHandler must pull.
constexpr bool pulls_chunks(Transfer transfer) noexcept {
  return transfer == Transfer::kMmap || transfer == Transfer::kCopy;
}
std::string_view transfer_name(Transfer transfer) noexcept;

// Writes `count` bytes of `file` from `offset` as the body of the response whose head was just
// written (with content_length(count)), then HttpEnd carrying `done`. When pulls_chunks(transfer),
// the pipeline needs a ChunkedWriteHandler between the HTTP codec and the caller. Loop thread
// only.
void write_file_body(HandlerContext& ctx, std::shared_ptr<const File> file, std::uint64_t offset,
                     std::uint64_t count, Transfer transfer, WriteCallback done);

}  // namespace sluice::examples
