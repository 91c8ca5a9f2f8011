#include "body_transfer.hpp"

#include <unistd.h>

#include <algorithm>

#include "sluice/buffer/mapped_region.hpp"
#include "sluice/codec/chunked_input.hpp"
#include "sluice/codec/http/http_response.hpp"

namespace sluice::examples {
namespace {

// A file region handed out as mapped windows, one at a time. Through a ChunkedWriteHandler the
// next window is mapped only once the previous one has (nearly) drained, so a 5 GiB file is
// never mapped all at once and a client that goes away leaves at most one window behind.
//
// The region's last page is read with pread rather than mapped. A file that shrinks under a
// mapping reads as zeros up to the end of the page holding its new end, and faults (EFAULT in
// sendmsg) only from the next page on: had that page been the region's last, the response would
// complete with zeros in place of the lost bytes. Read instead, the shrink shows (a short pread)
// and the transfer fails like the other mechanisms'.
class MappedFileInput final : public ChunkedInput {
 public:
  MappedFileInput(std::shared_ptr<const File> file, std::uint64_t offset, std::uint64_t count)
      : file_(std::move(file)), offset_(offset), count_(count) {
    if (count == 0) return;
    static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t last = offset + count - 1;
    const std::uint64_t last_page = last - last % page;
    mapped_ = last_page > offset ? last_page - offset : 0;
    tail_.emplace(file_, offset_ + mapped_, count_ - mapped_, static_cast<std::size_t>(page));
  }

  Result<std::optional<Buffer>> next_chunk() override {
    if (done_ == count_) return std::optional<Buffer>();
    if (done_ >= mapped_) {
      auto chunk = tail_->next_chunk();
      if (chunk.ok() && chunk.value()) done_ += chunk.value()->readable_bytes();
      return chunk;
    }
    const auto window =
        static_cast<std::size_t>(std::min<std::uint64_t>(mapped_ - done_, kMaxMappedWindow));
    auto mapped = map_file_region(*file_, offset_ + done_, window);
    if (!mapped) return std::move(mapped).error();
    done_ += window;
    return std::optional<Buffer>(std::move(mapped).value());
  }
  std::uint64_t length() const override { return count_; }
  std::uint64_t progress() const override { return done_; }

 private:
  std::shared_ptr<const File> file_;
  std::uint64_t offset_;
  std::uint64_t count_;
  std::uint64_t mapped_ = 0;  // the leading bytes sent from mappings, whole pages up to the last
  std::optional<ChunkedFile> tail_;
  std::uint64_t done_ = 0;
};

}  // namespace

std::optional<Transfer> parse_transfer(std::string_view name) noexcept {
  if (name == "sendfile") return Transfer::kSendfile;
  if (name == "splice") return Transfer::kSplice;
  if (name == "mmap") return Transfer::kMmap;
  if (name == "copy") return Transfer::kCopy;
  return std::nullopt;
}

std::string_view transfer_name(Transfer transfer) noexcept {
  switch (transfer) {
    case Transfer::kSendfile:
      return "sendfile";
    case Transfer::kSplice:
      return "splice";
    case Transfer::kMmap:
      return "mmap";
    case Transfer::kCopy:
      return "copy";
  }
  return "?";
}

void write_file_body(HandlerContext& ctx, std::shared_ptr<const File> file, std::uint64_t offset,
                     std::uint64_t count, Transfer transfer, WriteCallback done) {
  switch (transfer) {
    case Transfer::kSendfile:
      // One region for the whole range: the transport splits it into sendfile calls of under
      // 2 GiB itself.
      ctx.write(FileRegion(std::move(file), offset, count, FileTransfer::kSendfile));
      break;
    case Transfer::kSplice:
      ctx.write(FileRegion(std::move(file), offset, count, FileTransfer::kSplice));
      break;
    case Transfer::kMmap:
      ctx.write(ChunkedStream{std::make_unique<MappedFileInput>(std::move(file), offset, count)});
      break;
    case Transfer::kCopy:
      ctx.write(ChunkedStream{std::make_unique<ChunkedFile>(std::move(file), offset, count)});
      break;
  }
  ctx.write(http::HttpEnd{}, std::move(done));
}

}  // namespace sluice::examples
