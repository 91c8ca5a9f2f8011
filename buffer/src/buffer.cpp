#include "sluice/buffer/buffer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/detail/leak_tracker.hpp"

namespace sluice {
namespace {

// Growth doubles up to this size, then adds this much at a time, so that a large buffer does
// not overshoot by as much again.
constexpr std::size_t kGrowthStep = 4 * 1024 * 1024;
constexpr std::size_t kMinGrowth = 64;

std::size_t growth_target(std::size_t needed, std::size_t max_capacity) noexcept {
  std::size_t target;
  if (needed > kGrowthStep) {
    target = (needed + kGrowthStep - 1) / kGrowthStep * kGrowthStep;
  } else {
    target = std::bit_ceil(std::max(needed, kMinGrowth));
  }
  return std::min(target, max_capacity);
}

}  // namespace

void Buffer::fail_allocate(std::size_t capacity, std::size_t max_capacity) {
  if (max_capacity > kMaxCapacity) {
    throw CapacityExceededError(fmt::format("allocate: max capacity {} is over the limit of {}",
                                            max_capacity, kMaxCapacity));
  }
  throw CapacityExceededError(
      fmt::format("allocate: capacity {} is over max capacity {}", capacity, max_capacity));
}

Buffer Buffer::copy_of(std::span<const std::byte> bytes, AllocationSite site) {
  Buffer buffer = allocate(bytes.size(), kMaxCapacity, site);
  buffer.write_bytes(bytes);
  return buffer;
}

Buffer Buffer::copy_of(std::string_view text, AllocationSite site) {
  return copy_of(std::as_bytes(std::span(text)), site);
}

Buffer Buffer::adopt(detail::StorageHeader* header, std::byte* data, std::size_t size) {
  // Capacity and indices are 32-bit: a larger size was cut to its low bits, a buffer covering
  // a fraction of the storage (or none of it), with no sign anything was lost.
  if (size > kMaxCapacity) {
    throw CapacityExceededError(
        fmt::format("adopt: size {} is over the limit of {}", size, kMaxCapacity));
  }
  return Buffer(header, data, size, size, 0, size);
}

void Buffer::set_reader_index(std::size_t index) {
  if (index > writer_index()) {
    throw IndexOutOfBoundsError(
        fmt::format("set_reader_index: {} is past the writer index {}", index, writer_));
  }
  reader_ = static_cast<std::uint32_t>(index);
}

void Buffer::set_writer_index(std::size_t index) {
  if (index < reader_index() || index > capacity_) {
    throw IndexOutOfBoundsError(
        fmt::format("set_writer_index: {} is outside [reader index {}, capacity {}]", index,
                    reader_, capacity_));
  }
  writer_ = static_cast<std::uint32_t>(index);
  seal_if_external();
}

void Buffer::set_indices(std::size_t reader, std::size_t writer) {
  if (reader > writer || writer > capacity()) {
    throw IndexOutOfBoundsError(
        fmt::format("set_indices: reader {} and writer {} need reader <= writer <= capacity {}",
                    reader, writer, capacity_));
  }
  reader_ = static_cast<std::uint32_t>(reader);
  writer_ = static_cast<std::uint32_t>(writer);
  seal_if_external();
}

void Buffer::fail_read_only(const char* operation) const {
  throw ReadOnlyBufferError(fmt::format(
      "{}: the buffer's bytes are a read-only file mapping; copy them (Buffer::copy_of) to edit",
      operation));
}

void Buffer::grow(std::size_t count) {
  const std::size_t limit = max_writable_bytes();
  if (count > limit) {
    throw CapacityExceededError(
        fmt::format("ensure_writable: {} bytes at writer index {} exceed max capacity {}", count,
                    writer_, max_capacity_));
  }
  const std::size_t target = growth_target(writer_ + count, max_capacity_);
  const PooledAllocator::Allocation block = PooledAllocator::allocate(target);
  copy_bytes(block.data, base_, writer_);
#if SLUICE_LEAK_TRACKING
  try {
    detail::record_allocation(
        block.header, has_storage() ? detail::allocation_site(storage_) : SourceSite::current());
  } catch (...) {
    // The new block is not this handle's yet; the handle keeps its old storage.
    PooledAllocator::deallocate(block.header);
    throw;
  }
#endif
  release();
  storage_ = block.header;
  base_ = block.data;
  capacity_ = static_cast<std::uint32_t>(std::min(block.capacity, std::size_t{max_capacity_}));
}

void Buffer::grow_and_write(std::span<const std::byte> bytes) {
  // `bytes` may lie in the storage that the growth gives up (a buffer appending its own
  // readable bytes): hold a reference to it until they are copied.
  const Buffer keep = share();
  grow(bytes.size());
  copy_bytes(base_ + writer_, bytes.data(), bytes.size());
  writer_ += static_cast<std::uint32_t>(bytes.size());
}

Buffer Buffer::slice(std::size_t index, std::size_t length) const {
  require_in_capacity(index, length, "slice");
  if (has_storage()) storage_->ref_count().fetch_add(1, std::memory_order_relaxed);
  return Buffer(has_storage() ? storage_ : nullptr, base_ + index, length, length, 0, length);
}

Buffer Buffer::read_slice(std::size_t length) {
  require_readable(length, "read_slice");
  Buffer result = slice(reader_, length);
  reader_ += static_cast<std::uint32_t>(length);
  return result;
}

Buffer Buffer::into_slice() && {
  // The move takes the reference and leaves this handle moved-from; then the view narrows.
  Buffer result(std::move(checked()));
  const std::uint32_t length = result.writer_ - result.reader_;
  result.base_ += result.reader_;
  result.reader_ = 0;
  result.writer_ = result.capacity_ = result.max_capacity_ = length;
  return result;
}

Buffer Buffer::share() const {
  Buffer result = slice(0, capacity());
  result.max_capacity_ = max_capacity_;
  result.reader_ = reader_;
  result.writer_ = writer_;
  return result;
}

void Buffer::discard_read_bytes() {
  if (checked().reader_ == 0) return;
  // A mapping's pages are read-only: its start advances, as for shared storage.
  if (is_shared() || is_external()) {
    base_ += reader_;
    capacity_ -= reader_;
    max_capacity_ -= reader_;
  } else {
    std::memmove(base_, base_ + reader_, writer_ - reader_);
  }
  writer_ -= reader_;
  reader_ = 0;
}

std::size_t Buffer::index_of(std::byte value, std::size_t from, std::size_t to) const {
  if (from > to || to > capacity()) {
    throw IndexOutOfBoundsError(
        fmt::format("index_of: range [{}, {}) is outside the capacity {}", from, to, capacity_));
  }
  if (from == to) return npos;
  const void* found = std::memchr(base_ + from, static_cast<int>(value), to - from);
  return found == nullptr ? npos
                          : static_cast<std::size_t>(static_cast<const std::byte*>(found) - base_);
}

std::uint32_t Buffer::use_count() const noexcept {
  // Acquire, as in release(): a caller that sees 1 goes on to write the bytes in place
  // (discard_read_bytes, make_contiguous), and must see every access through the handles that
  // were dropped on other threads as done.
  return has_storage() ? storage_->ref_count().load(std::memory_order_acquire) : 0;
}

std::string Buffer::to_string() const {
  if (storage_ == moved_from_mark()) return "Buffer(moved from)";
  return fmt::format("Buffer(reader {}, writer {}, capacity {}/{}, refs {})", reader_, writer_,
                     capacity_, max_capacity_, use_count());
}

std::string Buffer::hex_dump(std::size_t max_bytes) const {
  const std::span<const std::byte> bytes =
      readable_span().first(std::min(max_bytes, readable_bytes()));
  std::string out;
  for (std::size_t line = 0; line < bytes.size(); line += 16) {
    out += fmt::format("{:08x}  ", line);
    std::string ascii;
    for (std::size_t i = line; i < line + 16; ++i) {
      if (i < bytes.size()) {
        const auto byte = std::to_integer<unsigned char>(bytes[i]);
        out += fmt::format("{:02x} ", byte);
        ascii += (byte >= 0x20 && byte < 0x7f) ? static_cast<char>(byte) : '.';
      } else {
        out += "   ";
      }
      if (i == line + 7) out += ' ';
    }
    out += " |" + ascii + "|\n";
  }
  if (bytes.size() < readable_bytes()) {
    out += fmt::format("... {} more bytes\n", readable_bytes() - bytes.size());
  }
  return out;
}

void Buffer::fail_readable(std::size_t count, const char* operation) const {
  throw IndexOutOfBoundsError(fmt::format("{}: {} bytes at reader index {} exceed writer index {}",
                                          operation, count, reader_, writer_));
}

void Buffer::fail_writable(std::size_t count, const char* operation) const {
  throw IndexOutOfBoundsError(fmt::format("{}: {} bytes at writer index {} exceed capacity {}",
                                          operation, count, writer_, capacity_));
}

void Buffer::fail_capacity(std::size_t index, std::size_t count, const char* operation) const {
  throw IndexOutOfBoundsError(fmt::format("{}: {} bytes at index {} exceed capacity {}", operation,
                                          count, index, capacity_));
}

void Buffer::fail_moved_from() {
  throw MovedFromError("a moved-from Buffer was used");
}

}  // namespace sluice
