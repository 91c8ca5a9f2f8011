#include "sluice/buffer/composite_buffer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "sluice/buffer/buffer_error.hpp"
#include "sluice/core/debug.hpp"

namespace sluice {
namespace {

thread_local std::uint64_t searched_bytes = 0;  // counted only with kDebugChecks

}  // namespace

void CompositeBuffer::append(Buffer buffer) {
  const std::size_t bytes = buffer.readable_bytes();
  if (bytes == 0) return;
  components_.push_back(std::move(buffer));
  readable_ += bytes;
}

void CompositeBuffer::append(CompositeBuffer other) {
  // Room for every component before the first moves: a vector that failed to grow halfway
  // would leave this composite holding only the start of what was appended. It grows by
  // doubling, as push_back does, so that appending one component at a time stays linear.
  const std::size_t needed = components_.size() + other.component_count();
  if (needed > components_.capacity())
    components_.reserve(std::max(needed, 2 * components_.capacity()));
  for (std::size_t c = other.head_; c < other.components_.size(); ++c) {
    append(std::move(other.components_[c]));
  }
  other.clear();
}

const Buffer& CompositeBuffer::component(std::size_t i) const {
  if (i >= component_count()) {
    throw IndexOutOfBoundsError(
        fmt::format("component: {} is not below the component count {}", i, component_count()));
  }
  return components_[head_ + i];
}

void CompositeBuffer::require_readable(std::size_t index, std::size_t count,
                                       const char* operation) const {
  if (index > readable_ || count > readable_ - index) {
    throw IndexOutOfBoundsError(fmt::format("{}: {} bytes at index {} exceed the {} readable bytes",
                                            operation, count, index, readable_));
  }
}

void CompositeBuffer::get_bytes(std::size_t index, std::span<std::byte> out) const {
  require_readable(index, out.size(), "get_bytes");
  std::size_t copied = 0;
  for (std::size_t c = head_; c < components_.size() && copied < out.size(); ++c) {
    std::span<const std::byte> bytes = components_[c].readable_span();
    if (index >= bytes.size()) {
      index -= bytes.size();
      continue;
    }
    const std::size_t count = std::min(bytes.size() - index, out.size() - copied);
    std::memcpy(out.data() + copied, bytes.data() + index, count);
    copied += count;
    index = 0;
  }
}

void CompositeBuffer::read_bytes(std::span<std::byte> out) {
  get_bytes(0, out);
  consumed(out.size());
}

void CompositeBuffer::skip(std::size_t count) {
  require_readable(0, count, "skip");
  consumed(count);
}

void CompositeBuffer::consumed(std::size_t count) noexcept {
  readable_ -= count;
  while (count != 0) {
    Buffer& first = components_[head_];
    const std::size_t here = std::min(count, first.readable_bytes());
    first.skip(here);
    count -= here;
    if (!first.is_readable()) drop_empty_front();
  }
  if (head_ < components_.size() && !components_[head_].is_readable()) drop_empty_front();
}

void CompositeBuffer::drop_empty_front() noexcept {
  components_[head_] = Buffer();
  ++head_;
  if (head_ == components_.size()) {
    components_.clear();
    head_ = 0;
  } else if (head_ >= kInlineComponents && head_ * 2 >= components_.size()) {
    // Compact once the consumed prefix is the larger part, so the vector does not grow forever
    // under a stream of appends and reads.
    components_.erase(components_.begin(),
                      components_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

CompositeBuffer CompositeBuffer::read_slice(std::size_t count) {
  require_readable(0, count, "read_slice");
  CompositeBuffer result;
  // Room for every piece before the first moves: a vector that failed to grow halfway would
  // drop the components already moved into it.
  std::size_t pieces = 0;
  for (std::size_t c = head_, covered = 0; covered < count; ++c, ++pieces)
    covered += components_[c].readable_bytes();
  result.components_.reserve(pieces);
  while (count != 0) {
    Buffer& first = components_[head_];
    const std::size_t here = first.readable_bytes();
    if (here <= count) {
      result.append(std::move(first));
      readable_ -= here;
      count -= here;
      drop_empty_front();
    } else {
      result.append(first.read_slice(count));
      readable_ -= count;
      count = 0;
    }
  }
  return result;
}

CompositeBuffer CompositeBuffer::split(std::size_t count) {
  require_readable(0, count, "split");
  CompositeBuffer tail;
  std::size_t offset = 0;
  std::size_t c = head_;
  // Find the component holding byte `count`.
  while (c < components_.size() && offset + components_[c].readable_bytes() <= count) {
    offset += components_[c].readable_bytes();
    ++c;
  }
  if (c == components_.size()) return tail;
  // Room for the whole tail before the boundary is cut (see read_slice).
  tail.components_.reserve(components_.size() - c);
  Buffer& boundary = components_[c];
  const std::size_t keep = count - offset;
  if (keep != 0) {
    Buffer rest = boundary.slice(boundary.reader_index() + keep, boundary.readable_bytes() - keep);
    boundary.set_writer_index(boundary.reader_index() + keep);
    // Its room for writing is now the tail's bytes: the kept part becomes a slice, which
    // cannot write there (through coalesce() or read_slice() it reaches callers who may).
    boundary = std::move(boundary).into_slice();
    tail.append(std::move(rest));
    ++c;
  }
  for (std::size_t i = c; i < components_.size(); ++i)
    tail.append(std::move(components_[i]));
  components_.erase(components_.begin() + static_cast<std::ptrdiff_t>(c), components_.end());
  readable_ = count;
  if (readable_ == 0) clear();
  return tail;
}

Buffer CompositeBuffer::read_buffer(std::size_t count) {
  require_readable(0, count, "read_buffer");
  if (count == 0) return Buffer();
  Buffer& first = components_[head_];
  if (first.readable_bytes() == count) {
    // The whole component: its handle becomes the slice, rather than a slice taking a
    // reference only for the component's own to be dropped at once.
    Buffer result = std::move(first).into_slice();
    readable_ -= count;
    drop_empty_front();
    return result;
  }
  if (first.readable_bytes() > count) {
    Buffer result = first.read_slice(count);
    front_read(count);
    return result;
  }
  Buffer result = Buffer::allocate(count);
  read_bytes(result.writable_span().first(count));
  result.advance_writer(count);
  return result;
}

void CompositeBuffer::front_read(std::size_t count) noexcept {
  readable_ -= count;
  if (!components_[head_].is_readable()) drop_empty_front();
}

Buffer CompositeBuffer::coalesce() {
  if (component_count() == 0) return Buffer();
  if (component_count() == 1) {
    Buffer only = std::move(components_[head_]);
    clear();
    return only;
  }
  Buffer result = Buffer::allocate(readable_);
  for (std::size_t c = head_; c < components_.size(); ++c) {
    result.write_bytes(components_[c].readable_span());
  }
  clear();
  return result;
}

void CompositeBuffer::make_contiguous(std::size_t reserve) {
  if (component_count() <= 1) return;
  Buffer& first = components_[head_];
  const std::size_t rest = readable_ - first.readable_bytes();
  if (first.is_shared() || first.writable_bytes() < rest) {
    Buffer merged = Buffer::allocate(std::max(readable_, reserve));
    for (std::size_t c = head_; c < components_.size(); ++c) {
      merged.write_bytes(components_[c].readable_span());
    }
    const std::size_t total = readable_;
    clear();
    components_.push_back(std::move(merged));
    readable_ = total;
    return;
  }
  for (std::size_t c = head_ + 1; c < components_.size(); ++c) {
    first.write_bytes(components_[c].readable_span());
  }
  components_.erase(components_.begin() + static_cast<std::ptrdiff_t>(head_ + 1),
                    components_.end());
}

void CompositeBuffer::clear() noexcept {
  components_.clear();
  head_ = 0;
  readable_ = 0;
}

std::size_t CompositeBuffer::index_of(std::byte value, std::size_t from, std::size_t to) const {
  to = std::min(to, readable_);
  if (from >= to) return npos;
  std::size_t base = 0;
  for (std::size_t c = head_; c < components_.size() && base < to; ++c) {
    std::span<const std::byte> bytes = components_[c].readable_span();
    const std::size_t end = base + bytes.size();
    if (end > from) {
      const std::size_t begin_here = from > base ? from - base : 0;
      const std::size_t end_here = std::min(to, end) - base;
      const void* found =
          std::memchr(bytes.data() + begin_here, static_cast<int>(value), end_here - begin_here);
      if (found != nullptr) {
        const auto at =
            static_cast<std::size_t>(static_cast<const std::byte*>(found) - bytes.data());
        if constexpr (kDebugChecks) searched_bytes += at + 1 - begin_here;
        return base + at;
      }
      if constexpr (kDebugChecks) searched_bytes += end_here - begin_here;
    }
    base = end;
  }
  return npos;
}

std::uint64_t CompositeBuffer::searched_bytes_on_this_thread() noexcept {
  return searched_bytes;
}

std::size_t CompositeBuffer::to_iovecs(std::span<iovec> out) const noexcept {
  std::size_t count = 0;
  for (std::size_t c = head_; c < components_.size() && count < out.size(); ++c) {
    std::span<const std::byte> bytes = components_[c].readable_span();
    out[count++] = {const_cast<std::byte*>(bytes.data()), bytes.size()};
  }
  return count;
}

std::string CompositeBuffer::to_string() const {
  return fmt::format("CompositeBuffer({} bytes in {} components)", readable_, component_count());
}

}  // namespace sluice
