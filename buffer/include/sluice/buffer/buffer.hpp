#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include "sluice/core/source_site.hpp"

#include "sluice/buffer/byte_order.hpp"
#include "sluice/buffer/detail/leak_tracker.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/core/debug.hpp"

namespace sluice {

// A move-only handle on reference-counted byte storage, with a reader and a writer index.
//
//      +-------------------+------------------+------------------+
//      | discardable bytes |  readable bytes  |  writable bytes  |
//      +-------------------+------------------+------------------+
//      0      <=      reader_index   <=   writer_index    <=    capacity   <=   max_capacity
//
// Ownership (docs/ARCHITECTURE.md, "Buffer ownership"): the destructor gives up this handle's
// reference and the last one returns the storage to its arena. There is no release() and no
// non-owning slice: share(), slice() and read_slice() return new owning handles on the same
// bytes, so a slice may outlive the handle it came from. To lend bytes for the length of a
// call, pass readable_span().
//
// Errors: an index or length outside the region an operation works on throws
// IndexOutOfBoundsError; growth past max_capacity() throws CapacityExceededError; both leave the
// buffer unchanged. Writes grow the buffer (re-allocating in the pool) up to max_capacity().
// Debug builds throw MovedFromError when a moved-from handle is used.
//
// A Buffer is not thread-safe, but handles on the same storage may live on different threads.
namespace detail {
// The allocation site when leak tracking is off: an empty type, so that passing it costs
// nothing.
struct NoSite {
  static constexpr NoSite current() noexcept { return {}; }
};
}  // namespace detail

// Where a buffer was allocated, recorded in SLUICE_LEAK_TRACKING builds only.
using AllocationSite = std::conditional_t<SLUICE_LEAK_TRACKING != 0, SourceSite, detail::NoSite>;

class Buffer {
 public:
  static constexpr std::size_t kMaxCapacity = (std::size_t{1} << 31) - 1;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // An empty buffer with no storage; the first write allocates.
  Buffer() noexcept = default;

  // A buffer able to hold at least `capacity` bytes without growing (capacity() reports the
  // size of the block the pool handed out, clamped to max_capacity).
  static Buffer allocate(std::size_t capacity, std::size_t max_capacity = kMaxCapacity,
                         AllocationSite site = AllocationSite::current());
  static Buffer copy_of(std::span<const std::byte> bytes,
                        AllocationSite site = AllocationSite::current());
  static Buffer copy_of(std::string_view text, AllocationSite site = AllocationSite::current());
  // Takes over storage built elsewhere (a file mapping): `header` carries one reference; the
  // buffer covers `size` written bytes at `data`. A size over kMaxCapacity, which the 32-bit
  // indices cannot count, throws CapacityExceededError and leaves the reference with the caller.
  static Buffer adopt(detail::StorageHeader* header, std::byte* data, std::size_t size);

  Buffer(Buffer&& other) noexcept { take(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      release();
      take(other);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  // True when the buffer has storage (not default-constructed, not moved from).
  explicit operator bool() const noexcept { return has_storage(); }

  std::size_t reader_index() const { return checked().reader_; }
  std::size_t writer_index() const { return checked().writer_; }
  std::size_t capacity() const { return checked().capacity_; }
  std::size_t max_capacity() const { return checked().max_capacity_; }
  std::size_t readable_bytes() const { return checked().writer_ - reader_; }
  std::size_t writable_bytes() const { return checked().capacity_ - writer_; }
  std::size_t max_writable_bytes() const { return checked().max_capacity_ - writer_; }
  bool is_readable() const { return readable_bytes() != 0; }

  void set_reader_index(std::size_t index);
  void set_writer_index(std::size_t index);
  void set_indices(std::size_t reader, std::size_t writer);
  void clear() {
    checked().reader_ = writer_ = 0;
    seal_if_external();
  }
  // Consumes `count` readable bytes.
  void skip(std::size_t count) {
    require_readable(count, "skip");
    reader_ += static_cast<std::uint32_t>(count);
  }
  // Marks `count` bytes, written directly into writable_span(), as readable.
  void advance_writer(std::size_t count) {
    if (count > writable_bytes()) [[unlikely]]
      fail_writable(count, "advance_writer");
    writer_ += static_cast<std::uint32_t>(count);
  }
  // Makes room for `count` more bytes, re-allocating (and copying what was written) if needed.
  void ensure_writable(std::size_t count) {
    if (count > writable_bytes()) [[unlikely]]
      grow(count);
  }

  // --- integers; indices are absolute (from 0), get/set do not move the indices ------------
  template <std::integral T>
  T get(std::size_t index, std::endian order = std::endian::big) const {
    require_in_capacity(index, sizeof(T), "get");
    return load_integer<T>(base_ + index, order);
  }
  template <std::integral T>
  void set(std::size_t index, T value, std::endian order = std::endian::big) {
    require_in_capacity(index, sizeof(T), "set");
    if (is_external()) [[unlikely]]
      fail_read_only("set");
    store_integer<T>(base_ + index, value, order);
  }
  template <std::integral T>
  T read(std::endian order = std::endian::big) {
    require_readable(sizeof(T), "read");
    T value = load_integer<T>(base_ + reader_, order);
    reader_ += sizeof(T);
    return value;
  }
  template <std::integral T>
  void write(T value, std::endian order = std::endian::big) {
    ensure_writable(sizeof(T));
    store_integer<T>(base_ + writer_, value, order);
    writer_ += sizeof(T);
  }

  std::uint8_t get_u8(std::size_t index) const { return get<std::uint8_t>(index); }
  std::uint16_t get_u16(std::size_t index) const { return get<std::uint16_t>(index); }
  std::uint32_t get_u32(std::size_t index) const { return get<std::uint32_t>(index); }
  std::uint64_t get_u64(std::size_t index) const { return get<std::uint64_t>(index); }
  std::uint16_t get_u16_le(std::size_t index) const { return get<std::uint16_t>(index, kLE); }
  std::uint32_t get_u32_le(std::size_t index) const { return get<std::uint32_t>(index, kLE); }
  std::uint64_t get_u64_le(std::size_t index) const { return get<std::uint64_t>(index, kLE); }

  void set_u8(std::size_t index, std::uint8_t value) { set(index, value); }
  void set_u16(std::size_t index, std::uint16_t value) { set(index, value); }
  void set_u32(std::size_t index, std::uint32_t value) { set(index, value); }
  void set_u64(std::size_t index, std::uint64_t value) { set(index, value); }
  void set_u16_le(std::size_t index, std::uint16_t value) { set(index, value, kLE); }
  void set_u32_le(std::size_t index, std::uint32_t value) { set(index, value, kLE); }
  void set_u64_le(std::size_t index, std::uint64_t value) { set(index, value, kLE); }

  std::uint8_t read_u8() { return read<std::uint8_t>(); }
  std::uint16_t read_u16() { return read<std::uint16_t>(); }
  std::uint32_t read_u32() { return read<std::uint32_t>(); }
  std::uint64_t read_u64() { return read<std::uint64_t>(); }
  std::uint16_t read_u16_le() { return read<std::uint16_t>(kLE); }
  std::uint32_t read_u32_le() { return read<std::uint32_t>(kLE); }
  std::uint64_t read_u64_le() { return read<std::uint64_t>(kLE); }

  void write_u8(std::uint8_t value) { write(value); }
  void write_u16(std::uint16_t value) { write(value); }
  void write_u32(std::uint32_t value) { write(value); }
  void write_u64(std::uint64_t value) { write(value); }
  void write_u16_le(std::uint16_t value) { write(value, kLE); }
  void write_u32_le(std::uint32_t value) { write(value, kLE); }
  void write_u64_le(std::uint64_t value) { write(value, kLE); }

  // --- bytes ---------------------------------------------------------------------------------
  void get_bytes(std::size_t index, std::span<std::byte> out) const {
    require_in_capacity(index, out.size(), "get_bytes");
    copy_bytes(out.data(), base_ + index, out.size());
  }
  void set_bytes(std::size_t index, std::span<const std::byte> bytes) {
    require_in_capacity(index, bytes.size(), "set_bytes");
    if (is_external()) [[unlikely]]
      fail_read_only("set_bytes");
    copy_bytes(base_ + index, bytes.data(), bytes.size());
  }
  void read_bytes(std::span<std::byte> out) {
    require_readable(out.size(), "read_bytes");
    copy_bytes(out.data(), base_ + reader_, out.size());
    reader_ += static_cast<std::uint32_t>(out.size());
  }
  void write_bytes(std::span<const std::byte> bytes) {
    if (bytes.size() > writable_bytes()) [[unlikely]]
      return grow_and_write(bytes);
    copy_bytes(base_ + writer_, bytes.data(), bytes.size());
    writer_ += static_cast<std::uint32_t>(bytes.size());
  }
  void write_bytes(std::string_view text) { write_bytes(std::as_bytes(std::span(text))); }

  // --- sharing: each returns a new owning handle on the same storage -------------------------
  // `length` bytes from absolute `index`, all readable; the slice cannot grow.
  Buffer slice(std::size_t index, std::size_t length) const;
  // The readable bytes.
  Buffer slice() const { return slice(reader_index(), readable_bytes()); }
  // The next `length` readable bytes; consumes them from this buffer.
  Buffer read_slice(std::size_t length);
  // Another handle on the same bytes with the same indices.
  Buffer share() const;
  // This handle turned into slice() of itself: the readable bytes, from index 0, unable to
  // grow. It takes no new reference on the storage, unlike slice() followed by dropping this
  // handle.
  Buffer into_slice() &&;

  // Drops the bytes before the reader index. Unshared storage moves the readable bytes to the
  // front (capacity kept); shared storage is never moved under its other handles, nor is a
  // read-only mapping, so the handle advances its start instead and its capacity shrinks by the
  // discarded bytes.
  void discard_read_bytes();

  // --- search --------------------------------------------------------------------------------
  // First absolute index in [from, to) holding `value`, or npos.
  std::size_t index_of(std::byte value, std::size_t from, std::size_t to) const;
  std::size_t index_of(std::byte value) const { return index_of(value, reader_index(), writer_); }
  // Calls visit(byte) on each readable byte until it returns false; returns the absolute index
  // of that byte, or npos when every byte was visited.
  template <typename Visitor>
  std::size_t for_each_byte(Visitor&& visit) const {
    for (std::uint32_t i = checked().reader_; i < writer_; ++i) {
      if (!visit(base_[i])) return i;
    }
    return npos;
  }

  // --- views ---------------------------------------------------------------------------------
  std::span<const std::byte> readable_span() const {
    return {checked().base_ + reader_, std::size_t{writer_} - reader_};
  }
  std::span<std::byte> writable_span() {
    return {checked().base_ + writer_, std::size_t{capacity_} - writer_};
  }
  std::string_view readable_view() const {
    return {reinterpret_cast<const char*>(checked().base_ + reader_),
            std::size_t{writer_} - reader_};
  }

  // Whether the bytes live in memory sluice did not allocate (a file mapping): a file that
  // shrinks under it turns a user-space read into SIGBUS, so code that would copy bytes for
  // speed leaves such buffers to the kernel (which reports EFAULT instead). Such bytes are
  // read-only: an external buffer has no writable bytes (its capacity ends at its writer
  // index, also after clear() or set_writer_index()), set() and set_bytes() throw
  // ReadOnlyBufferError, and a write after clear() moves the buffer into a pooled block.
  bool is_external() const noexcept {
    return has_storage() && storage_->kind == detail::StorageKind::kExternal;
  }
  // Handles sharing this storage, this one included (0 without storage).
  std::uint32_t use_count() const noexcept;
  bool is_shared() const noexcept { return use_count() > 1; }

  // "Buffer(reader 0, writer 5, capacity 16/2147483647, refs 1)"
  std::string to_string() const;
  // Offset, hex and ASCII columns of the readable bytes, up to `max_bytes`.
  std::string hex_dump(std::size_t max_bytes = 512) const;

 private:
  static constexpr std::endian kLE = std::endian::little;

  Buffer(detail::StorageHeader* storage, std::byte* base, std::size_t capacity,
         std::size_t max_capacity, std::size_t reader, std::size_t writer) noexcept
      : storage_(storage), base_(base) {
    if constexpr (std::endian::native == std::endian::little) {
      // Two 8-byte stores rather than four 4-byte ones: a new handle is built on every
      // allocation, and stores are what its construction costs.
      const std::uint64_t sizes = std::uint64_t{static_cast<std::uint32_t>(capacity)} |
                                  std::uint64_t{static_cast<std::uint32_t>(max_capacity)} << 32;
      const std::uint64_t indices = std::uint64_t{static_cast<std::uint32_t>(reader)} |
                                    std::uint64_t{static_cast<std::uint32_t>(writer)} << 32;
      auto* bytes = reinterpret_cast<std::byte*>(this);
      std::memcpy(bytes + offsetof(Buffer, capacity_), &sizes, sizeof sizes);
      std::memcpy(bytes + offsetof(Buffer, reader_), &indices, sizeof indices);
    } else {
      capacity_ = static_cast<std::uint32_t>(capacity);
      max_capacity_ = static_cast<std::uint32_t>(max_capacity);
      reader_ = static_cast<std::uint32_t>(reader);
      writer_ = static_cast<std::uint32_t>(writer);
    }
  }

  // Debug builds mark a moved-from handle with this value instead of null.
  static detail::StorageHeader* moved_from_mark() noexcept {
    return reinterpret_cast<detail::StorageHeader*>(alignof(detail::StorageHeader));
  }
  bool has_storage() const noexcept { return storage_ != nullptr && storage_ != moved_from_mark(); }

  const Buffer& checked() const {
    if constexpr (kDebugChecks) {
      if (storage_ == moved_from_mark()) [[unlikely]]
        fail_moved_from();
    }
    return *this;
  }
  Buffer& checked() {
    std::as_const(*this).checked();
    return *this;
  }

  // The four 32-bit sizes and indices move as two 8-byte words, the width the constructor
  // writes them with: mixing widths between a store and the load after it stalls the CPU.
  void take(Buffer& other) noexcept {
    storage_ = other.storage_;
    base_ = other.base_;
    std::memcpy(&capacity_, &other.capacity_, 4 * sizeof(std::uint32_t));
    other.storage_ = kDebugChecks ? moved_from_mark() : nullptr;
    other.base_ = nullptr;
    // Moved from, a handle is empty like a default-constructed one.
    const std::uint32_t empty[4] = {0, static_cast<std::uint32_t>(kMaxCapacity), 0, 0};
    std::memcpy(&other.capacity_, empty, sizeof empty);
  }

  // Keeps an external buffer's writable region empty, so that no write lands in its pages.
  void seal_if_external() noexcept {
    if (is_external()) [[unlikely]]
      capacity_ = writer_;
  }
  [[noreturn]] void fail_read_only(const char* operation) const;

  void release() noexcept {
    // Release builds never store the moved-from mark (take() leaves null), so only debug builds
    // pay for the second compare.
    detail::StorageHeader* const storage = storage_;  // kept in a register across the acquire
    if (storage == nullptr || (kDebugChecks && storage == moved_from_mark())) return;
    auto refs = storage->ref_count();
    // A count of 1 seen by a holder can only be its own reference, so no other thread can
    // touch the count any more: the common case frees without a locked instruction.
    if (refs.load(std::memory_order_acquire) == 1 ||
        refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      PooledAllocator::deallocate(storage);
    }
  }

  void require_readable(std::size_t count, const char* operation) const {
    if (count > readable_bytes()) [[unlikely]]
      fail_readable(count, operation);
  }
  void require_in_capacity(std::size_t index, std::size_t count, const char* operation) const {
    if (index > capacity() || count > capacity_ - index) [[unlikely]]
      fail_capacity(index, count, operation);
  }
  // memmove: the source may be a span of this very buffer (set_bytes(0, readable_span())).
  static void copy_bytes(std::byte* target, const std::byte* source, std::size_t count) noexcept {
    if (count != 0) std::memmove(target, source, count);
  }

  void grow(std::size_t count);
  void grow_and_write(std::span<const std::byte> bytes);
  [[noreturn]] void fail_readable(std::size_t count, const char* operation) const;
  [[noreturn]] void fail_writable(std::size_t count, const char* operation) const;
  [[noreturn]] void fail_capacity(std::size_t index, std::size_t count,
                                  const char* operation) const;
  [[noreturn]] static void fail_moved_from();
  [[noreturn]] static void fail_allocate(std::size_t capacity, std::size_t max_capacity);

  detail::StorageHeader* storage_ = nullptr;
  std::byte* base_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t max_capacity_ = kMaxCapacity;
  std::uint32_t reader_ = 0;
  std::uint32_t writer_ = 0;
};

static_assert(sizeof(Buffer) == 32);

// Inline, so that allocating a buffer in the caller's code is the allocator's fast path and the
// handle's two stores, with no call in between.
inline Buffer Buffer::allocate(std::size_t capacity, std::size_t max_capacity,
                               AllocationSite site) {
  if (capacity > max_capacity || max_capacity > kMaxCapacity) [[unlikely]]
    fail_allocate(capacity, max_capacity);
  const PooledAllocator::Allocation block = PooledAllocator::allocate(capacity);
#if SLUICE_LEAK_TRACKING
  try {
    detail::record_allocation(block.header, site);
  } catch (...) {
    // No handle owns the block yet: nothing else would ever give it back.
    PooledAllocator::deallocate(block.header);
    throw;
  }
#else
  (void)site;
#endif
  return Buffer(block.header, block.data,
                block.capacity < max_capacity ? block.capacity : max_capacity, max_capacity, 0, 0);
}

}  // namespace sluice
