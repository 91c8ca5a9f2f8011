#pragma once

#include <cassert>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "sluice/core/fd.hpp"
#include "sluice/core/result.hpp"

namespace sluice {

// An open file shared by the regions that send it. The descriptor closes when the last
// FileRegion (or other holder) lets go.
class File {
 public:
  File(Fd fd, std::string path, std::uint64_t size) noexcept
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}

  // Opens the regular file at `path` read-only (O_CLOEXEC) and reads its size; errno errors
  // name the path. A directory fails with EISDIR, any other kind of file (a FIFO, a socket, a
  // device) with std::errc::invalid_argument, without being opened: it never blocks.
  static Result<std::shared_ptr<File>> open(const std::string& path);

  int fd() const noexcept { return fd_.get(); }
  const std::string& path() const noexcept { return path_; }
  // The size when opened (the file may change later; transfers check what they get).
  std::uint64_t size() const noexcept { return size_; }

 private:
  Fd fd_;
  std::string path_;
  std::uint64_t size_;
};

// The largest offset a file can have (off_t is signed).
inline constexpr std::uint64_t kMaxFileOffset =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// How a transport moves a FileRegion's bytes to a socket.
enum class FileTransfer : std::uint8_t {
  kSendfile,  // sendfile(2): page cache to socket, no copy through user space (the default)
  kSplice,    // splice(2) file -> pipe -> socket
};

// `count` bytes of a file from `offset`, written by the transport straight from the page cache
// to the socket. A file that turns out shorter than the region fails the write with
// ChannelErrc::file_truncated and closes the channel. Move-only, like every message.
class FileRegion {
 public:
  // Throws std::invalid_argument for bytes without a file to send them from, or a region whose
  // start or end lies past the largest file offset: the transport would dereference the one and
  // wrap its position round on the other.
  FileRegion(std::shared_ptr<const File> file, std::uint64_t offset, std::uint64_t count,
             FileTransfer transfer = FileTransfer::kSendfile)
      : file_(std::move(file)), offset_(offset), count_(count), transfer_(transfer) {
    if (count_ != 0 && !file_) throw std::invalid_argument("FileRegion: bytes without a file");
    if (offset_ > kMaxFileOffset || count_ > kMaxFileOffset - offset_) {
      throw std::invalid_argument("FileRegion: ends past the largest file offset");
    }
  }
  // The source is left with nothing to send: its file is gone, so its size must go too, or it
  // would be written and counted as pending bytes with no file to send them from.
  FileRegion(FileRegion&& other) noexcept
      : file_(std::move(other.file_)),
        offset_(other.offset_),
        count_(std::exchange(other.count_, 0)),
        transferred_(std::exchange(other.transferred_, 0)),
        transfer_(other.transfer_) {}
  FileRegion& operator=(FileRegion&& other) noexcept {
    if (this != &other) {
      file_ = std::move(other.file_);
      offset_ = other.offset_;
      count_ = std::exchange(other.count_, 0);
      transferred_ = std::exchange(other.transferred_, 0);
      transfer_ = other.transfer_;
    }
    return *this;
  }
  FileRegion(const FileRegion&) = delete;
  FileRegion& operator=(const FileRegion&) = delete;

  const File& file() const noexcept { return *file_; }
  int fd() const noexcept { return file_->fd(); }
  std::uint64_t offset() const noexcept { return offset_; }
  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t transferred() const noexcept { return transferred_; }
  std::uint64_t remaining() const noexcept { return count_ - transferred_; }
  // The file offset the next byte comes from.
  std::uint64_t position() const noexcept { return offset_ + transferred_; }
  FileTransfer transfer() const noexcept { return transfer_; }
  // `bytes` went out; at most remaining(), or remaining() would wrap around.
  void advance(std::uint64_t bytes) noexcept {
    assert(bytes <= remaining());
    transferred_ += bytes;
  }

 private:
  std::shared_ptr<const File> file_;
  std::uint64_t offset_;
  std::uint64_t count_;
  std::uint64_t transferred_ = 0;
  FileTransfer transfer_;
};

}  // namespace sluice
