#pragma once

#include <sys/uio.h>

#include <boost/container/small_vector.hpp>

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "sluice/buffer/buffer.hpp"

namespace sluice {

// A sequence of buffers read as one, without copying them together.
//
//   components:  [ Buffer A: readable bytes ][ Buffer B ][ Buffer C ]
//   index:        0 ...                                        readable_bytes()
//
// Indices count from the first readable byte (a composite has no discarded or writable
// region). Reads cross component boundaries; components that have been read completely are
// dropped, releasing their storage. split(), read_slice() and read_buffer() hand bytes out as
// slices of the components; only coalesce() and a read_buffer() across a boundary copy.
//
// Errors are those of Buffer: reads past readable_bytes() throw IndexOutOfBoundsError and leave
// the composite unchanged.
class CompositeBuffer {
 public:
  static constexpr std::size_t npos = Buffer::npos;
  // Components kept inline before the vector spills to the heap.
  static constexpr std::size_t kInlineComponents = 2;

  CompositeBuffer() = default;
  explicit CompositeBuffer(Buffer buffer) { append(std::move(buffer)); }
  // A moved-from composite is empty. (The defaulted moves kept its counts while taking its
  // components, so it went on reporting bytes it no longer had.)
  CompositeBuffer(CompositeBuffer&& other) noexcept
      : components_(std::move(other.components_)),
        head_(std::exchange(other.head_, 0)),
        readable_(std::exchange(other.readable_, 0)) {
    other.components_.clear();
  }
  CompositeBuffer& operator=(CompositeBuffer&& other) noexcept {
    if (this != &other) {
      components_ = std::move(other.components_);
      head_ = std::exchange(other.head_, 0);
      readable_ = std::exchange(other.readable_, 0);
      other.components_.clear();
    }
    return *this;
  }

  // Adds the readable bytes of `buffer` at the end (a buffer with none is dropped).
  void append(Buffer buffer);
  void append(CompositeBuffer other);

  std::size_t readable_bytes() const noexcept { return readable_; }
  bool empty() const noexcept { return readable_ == 0; }
  std::size_t component_count() const noexcept { return components_.size() - head_; }
  // The i-th component still holding readable bytes.
  const Buffer& component(std::size_t i) const;

  template <std::integral T>
  T get(std::size_t index, std::endian order = std::endian::big) const {
    std::array<std::byte, sizeof(T)> bytes;
    get_bytes(index, bytes);
    return load_integer<T>(bytes.data(), order);
  }
  template <std::integral T>
  T read(std::endian order = std::endian::big) {
    if (head_ < components_.size()) {
      Buffer& first = components_[head_];
      if (first.readable_bytes() >= sizeof(T)) {
        // The common case: the integer lies inside the first component.
        T value = first.read<T>(order);
        front_read(sizeof(T));
        return value;
      }
    }
    std::array<std::byte, sizeof(T)> bytes;
    read_bytes(bytes);
    return load_integer<T>(bytes.data(), order);
  }

  std::uint8_t get_u8(std::size_t index) const { return get<std::uint8_t>(index); }
  std::uint16_t get_u16(std::size_t index) const { return get<std::uint16_t>(index); }
  std::uint32_t get_u32(std::size_t index) const { return get<std::uint32_t>(index); }
  std::uint64_t get_u64(std::size_t index) const { return get<std::uint64_t>(index); }
  std::uint16_t get_u16_le(std::size_t index) const { return get<std::uint16_t>(index, kLE); }
  std::uint32_t get_u32_le(std::size_t index) const { return get<std::uint32_t>(index, kLE); }
  std::uint64_t get_u64_le(std::size_t index) const { return get<std::uint64_t>(index, kLE); }
  std::uint8_t read_u8() { return read<std::uint8_t>(); }
  std::uint16_t read_u16() { return read<std::uint16_t>(); }
  std::uint32_t read_u32() { return read<std::uint32_t>(); }
  std::uint64_t read_u64() { return read<std::uint64_t>(); }
  std::uint16_t read_u16_le() { return read<std::uint16_t>(kLE); }
  std::uint32_t read_u32_le() { return read<std::uint32_t>(kLE); }
  std::uint64_t read_u64_le() { return read<std::uint64_t>(kLE); }

  // Copies out bytes at `index` without consuming them.
  void get_bytes(std::size_t index, std::span<std::byte> out) const;
  void read_bytes(std::span<std::byte> out);
  void skip(std::size_t count);

  // Removes and returns the first `count` bytes, as slices of the components.
  CompositeBuffer read_slice(std::size_t count);
  // Keeps the first `count` bytes and returns the rest, as slices of the components.
  CompositeBuffer split(std::size_t count);
  // Removes and returns the first `count` bytes as one contiguous Buffer: a slice when they lie
  // in one component (made from the component's own handle when they are all of it), a copy
  // when they straddle components.
  Buffer read_buffer(std::size_t count);
  // All readable bytes as one Buffer, leaving this composite empty. Copies only when there is
  // more than one component.
  Buffer coalesce();
  // Joins the readable bytes into one component (a parser that needs them contiguous). Bytes
  // are appended in place when the first component is unshared and has room; otherwise they
  // are copied into a new buffer of at least `reserve` bytes, so that a caller joining after
  // every small read can reserve ahead and copy each byte O(1) times overall.
  void make_contiguous(std::size_t reserve = 0);
  void clear() noexcept;

  // First index in [from, to) holding `value`, or npos.
  std::size_t index_of(std::byte value, std::size_t from = 0, std::size_t to = npos) const;
  // The bytes index_of() has looked at on the calling thread, in builds with kDebugChecks
  // (always 0 in others, which do not pay for the count). A decoder that searched its whole
  // cumulation again at every read made a frame trickling in a byte per read cost the square
  // of its length; with this a test tells that from a search that resumes where it stopped,
  // without timing anything.
  static std::uint64_t searched_bytes_on_this_thread() noexcept;
  // Calls visit(byte) in order until it returns false; returns that byte's index, or npos.
  template <typename Visitor>
  std::size_t for_each_byte(Visitor&& visit) const {
    std::size_t index = 0;
    for (std::size_t c = head_; c < components_.size(); ++c) {
      for (std::byte byte : components_[c].readable_span()) {
        if (!visit(byte)) return index;
        ++index;
      }
    }
    return npos;
  }

  // Fills `out` with one iovec per component, in order, up to out.size(); returns how many.
  std::size_t to_iovecs(std::span<iovec> out) const noexcept;

  // "CompositeBuffer(12 bytes in 3 components)"
  std::string to_string() const;

 private:
  static constexpr std::endian kLE = std::endian::little;

  // Accounts for `count` bytes consumed from the front and drops emptied components.
  void consumed(std::size_t count) noexcept;
  // Accounts for `count` bytes the caller already read from the first component.
  void front_read(std::size_t count) noexcept;
  void drop_empty_front() noexcept;
  void require_readable(std::size_t index, std::size_t count, const char* operation) const;

  boost::container::small_vector<Buffer, kInlineComponents> components_;
  std::size_t head_ = 0;  // components before head_ are consumed and released
  std::size_t readable_ = 0;
};

}  // namespace sluice
