#include "body_transfer.hpp"

#include <algorithm>

#include "sluice/buffer/mapped_region.hpp"
#include "sluice/codec/chunked_input.hpp"
#include "sluice/codec/http/http_response.hpp"

namespace sluice::examples {
namespace {

// A file region handed out as mapped windows, one at a time. Through a ChunkedWriteHandler the
// next window is mapped only once the previous one has (nearly) drained, so a 5 GiB file is
// never mapped all at once and a client that goes away leaves at most one window behind.
class MappedFileInput final : public ChunkedInput {
 public:
  MappedFileInput(std::shared_ptr<const File> file, std::uint64_t offset, std::uint64_t count)
      : file_(std::move(file)), offset_(offset), count_(count) {}

  Result<std::optional<Buffer>> next_chunk() override {
    if (done_ == count_) return std::optional<Buffer>();
    const auto window =
        static_cast<std::size_t>(std::min<std::uint64_t>(count_ - done_, kMaxMappedWindow));
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
