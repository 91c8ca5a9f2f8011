// Buffer, specified operation by operation: indices, growth, integers, bytes, sharing, discarding,
// search, views, moved-from handles, error messages and formatting.

#include <doctest/doctest.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/detail/storage_header.hpp"
#include "sluice/core/config.hpp"
#include "support/allocation_hooks.hpp"

using sluice::Buffer;
using sluice::BufferErrc;
using sluice::CapacityExceededError;
using sluice::IndexOutOfBoundsError;
using sluice::MovedFromError;

namespace {

constexpr auto kBE = std::endian::big;
constexpr auto kLE = std::endian::little;

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int value : values)
    out.push_back(static_cast<std::byte>(value));
  return out;
}

std::vector<std::byte> readable(const Buffer& buffer) {
  const auto span = buffer.readable_span();
  return {span.begin(), span.end()};
}

// Bytes [0, writer index) read through get_bytes, so that the check does not depend on spans.
std::vector<std::byte> written(const Buffer& buffer) {
  std::vector<std::byte> out(buffer.writer_index());
  buffer.get_bytes(0, out);
  return out;
}

const std::byte* base_of(Buffer& buffer) {
  return buffer.writable_span().data() - buffer.writer_index();
}

// Everything an operation that fails must leave as it was.
struct Snapshot {
  std::size_t reader;
  std::size_t writer;
  std::size_t capacity;
  std::size_t max_capacity;
  const std::byte* base;
  std::vector<std::byte> bytes;

  explicit Snapshot(Buffer& buffer)
      : reader(buffer.reader_index()),
        writer(buffer.writer_index()),
        capacity(buffer.capacity()),
        max_capacity(buffer.max_capacity()),
        base(base_of(buffer)),
        bytes(written(buffer)) {}

  bool operator==(const Snapshot&) const = default;
};

Buffer filled(std::size_t count, std::size_t max_capacity = Buffer::kMaxCapacity) {
  Buffer buffer = Buffer::allocate(count, max_capacity);
  for (std::size_t i = 0; i < count; ++i)
    buffer.write_u8(static_cast<std::uint8_t>(i));
  return buffer;
}

}  // namespace

// --- construction ------------------------------------------------------------------------------

TEST_CASE("allocate gives an empty buffer with at least the requested capacity") {
  for (std::size_t capacity : {0, 1, 15, 16, 17, 100, 4096, 40000, 2 << 20}) {
    CAPTURE(capacity);
    Buffer buffer = Buffer::allocate(capacity);
    CHECK(buffer);
    CHECK(buffer.reader_index() == 0);
    CHECK(buffer.writer_index() == 0);
    CHECK(buffer.readable_bytes() == 0);
    CHECK_FALSE(buffer.is_readable());
    CHECK(buffer.capacity() >= capacity);
    CHECK(buffer.writable_bytes() == buffer.capacity());
    CHECK(buffer.max_capacity() == Buffer::kMaxCapacity);
    CHECK(buffer.use_count() == 1);
    CHECK_FALSE(buffer.is_shared());
  }
}

TEST_CASE("the pool reports the whole block as capacity") {
  if constexpr (SLUICE_POOL) {
    CHECK(Buffer::allocate(1).capacity() == 16);
    CHECK(Buffer::allocate(65).capacity() == 80);
    CHECK(Buffer::allocate(1000).capacity() == 1024);
  } else {
    // Without the pool a buffer has exactly what it asked for.
    CHECK(Buffer::allocate(65).capacity() == 65);
  }
}

TEST_CASE("allocate clamps the reported capacity to max_capacity") {
  Buffer buffer = Buffer::allocate(10, 12);
  CHECK(buffer.capacity() >= 10);
  CHECK(buffer.capacity() <= 12);
  CHECK(buffer.max_capacity() == 12);
  CHECK(buffer.max_writable_bytes() == 12);
  Buffer zero = Buffer::allocate(0, 0);
  CHECK(zero.capacity() == 0);
  CHECK(zero.max_capacity() == 0);
}

TEST_CASE("allocate refuses a capacity over max_capacity and a max_capacity over the limit") {
  CHECK_THROWS_AS(Buffer::allocate(13, 12), CapacityExceededError);
  CHECK_THROWS_AS(Buffer::allocate(0, Buffer::kMaxCapacity + 1), CapacityExceededError);
}

TEST_CASE("a default-constructed buffer has no storage and grows on its first write") {
  Buffer buffer;
  CHECK_FALSE(buffer);
  CHECK(buffer.capacity() == 0);
  CHECK(buffer.readable_bytes() == 0);
  CHECK(buffer.use_count() == 0);
  CHECK(buffer.readable_span().empty());
  CHECK(buffer.index_of(std::byte{0}) == Buffer::npos);
  CHECK_THROWS_AS(buffer.read_u8(), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.get_u8(0), IndexOutOfBoundsError);
  buffer.write_u32(0xdeadbeef);
  CHECK(buffer);
  CHECK(buffer.capacity() >= 4);
  CHECK(buffer.use_count() == 1);
  CHECK(buffer.read_u32() == 0xdeadbeef);
}

TEST_CASE("a default-constructed buffer gives empty slices and shares") {
  Buffer buffer;
  Buffer slice = buffer.slice();
  CHECK_FALSE(slice);
  CHECK(slice.capacity() == 0);
  Buffer shared = buffer.share();
  CHECK_FALSE(shared);
  CHECK_THROWS_AS(buffer.slice(0, 1), IndexOutOfBoundsError);
}

TEST_CASE("copy_of copies bytes and text into a new readable buffer") {
  const auto source = bytes_of({1, 2, 3, 4, 5});
  Buffer from_bytes = Buffer::copy_of(source);
  CHECK(readable(from_bytes) == source);
  CHECK(from_bytes.reader_index() == 0);
  CHECK(from_bytes.writer_index() == 5);
  CHECK(from_bytes.readable_span().data() != source.data());

  Buffer from_text = Buffer::copy_of(std::string_view("hello"));
  CHECK(from_text.readable_view() == "hello");

  Buffer empty = Buffer::copy_of(std::string_view());
  CHECK(empty);
  CHECK(empty.readable_bytes() == 0);
}

namespace {

// Storage that sluice did not allocate, such as a file mapping, with a header of its own.
struct ExternalStorage {
  sluice::detail::StorageHeader header{};
  std::array<std::byte, 16> bytes{};
  int destroyed = 0;
};

}  // namespace

TEST_CASE("adopt takes over external storage and destroys it with the last handle") {
  ExternalStorage storage;
  storage.header.stamp(sluice::detail::StorageKind::kExternal, 0);
  storage.header.destroy = [](sluice::detail::StorageHeader* header) noexcept {
    ++reinterpret_cast<ExternalStorage*>(header)->destroyed;
  };
  for (std::size_t i = 0; i < storage.bytes.size(); ++i)
    storage.bytes[i] = std::byte(i);
  {
    Buffer adopted = Buffer::adopt(&storage.header, storage.bytes.data() + 2, 5);
    CHECK(adopted.readable_bytes() == 5);
    CHECK(adopted.capacity() == 5);
    CHECK(adopted.max_capacity() == 5);
    CHECK(adopted.readable_span().data() == storage.bytes.data() + 2);
    CHECK(adopted.read_u8() == 2);
    Buffer slice = adopted.read_slice(2);
    CHECK(slice.use_count() == 2);
    CHECK_THROWS_AS(adopted.write_u8(0), CapacityExceededError);  // it cannot grow either
    adopted = Buffer();
    CHECK(storage.destroyed == 0);
    CHECK(readable(slice) == bytes_of({3, 4}));
  }
  CHECK(storage.destroyed == 1);
}

TEST_CASE("adopt refuses a size the buffer's 32-bit indices cannot count") {
  // It used to truncate: 4 GiB + 16 became a buffer of 16 bytes, 2 GiB one whose size wrapped.
  ExternalStorage storage;
  storage.header.stamp(sluice::detail::StorageKind::kExternal, 0);
  storage.header.destroy = [](sluice::detail::StorageHeader* header) noexcept {
    ++reinterpret_cast<ExternalStorage*>(header)->destroyed;
  };
  for (const std::size_t size :
       {Buffer::kMaxCapacity + 1, std::size_t{1} << 32, (std::size_t{1} << 32) + 16}) {
    CAPTURE(size);
    CHECK_THROWS_AS((void)Buffer::adopt(&storage.header, storage.bytes.data(), size),
                    CapacityExceededError);
  }
  CHECK(storage.destroyed == 0);  // refused, the reference stays with the caller
  {
    // The largest size it can count is taken (no byte of it is touched here).
    Buffer largest = Buffer::adopt(&storage.header, storage.bytes.data(), Buffer::kMaxCapacity);
    CHECK(largest.readable_bytes() == Buffer::kMaxCapacity);
    CHECK(largest.capacity() == Buffer::kMaxCapacity);
  }
  CHECK(storage.destroyed == 1);
}

// --- indices -----------------------------------------------------------------------------------

TEST_CASE("set_reader_index accepts [0, writer index] and throws past it") {
  Buffer buffer = filled(8);
  buffer.set_reader_index(8);
  CHECK(buffer.reader_index() == 8);
  CHECK(buffer.readable_bytes() == 0);
  buffer.set_reader_index(0);
  CHECK(buffer.reader_index() == 0);
  buffer.set_reader_index(3);
  CHECK(buffer.read_u8() == 3);

  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.set_reader_index(9), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_reader_index(std::numeric_limits<std::size_t>::max()),
                  IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
}

TEST_CASE("set_writer_index accepts [reader index, capacity] and throws outside it") {
  Buffer buffer = filled(8);
  buffer.set_reader_index(2);
  buffer.set_writer_index(2);
  CHECK(buffer.readable_bytes() == 0);
  buffer.set_writer_index(buffer.capacity());
  CHECK(buffer.writable_bytes() == 0);
  buffer.set_writer_index(8);

  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.set_writer_index(1), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_writer_index(buffer.capacity() + 1), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
}

TEST_CASE("set_indices checks reader <= writer <= capacity and keeps both indices on error") {
  Buffer buffer = filled(8);
  buffer.set_indices(7, 7);
  CHECK(buffer.reader_index() == 7);
  CHECK(buffer.writer_index() == 7);
  // Moving both at once may cross values that setting them one at a time would reject.
  buffer.set_indices(1, 2);
  CHECK(buffer.reader_index() == 1);
  CHECK(buffer.writer_index() == 2);
  buffer.set_indices(8, 8);

  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.set_indices(3, 2), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_indices(0, buffer.capacity() + 1), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
}

TEST_CASE("clear resets both indices and keeps the bytes") {
  Buffer buffer = filled(8);
  buffer.skip(3);
  buffer.clear();
  CHECK(buffer.reader_index() == 0);
  CHECK(buffer.writer_index() == 0);
  buffer.set_writer_index(8);
  CHECK(buffer.get_u8(7) == 7);
}

TEST_CASE("skip consumes readable bytes and refuses more than are readable") {
  Buffer buffer = filled(8);
  buffer.skip(0);
  buffer.skip(5);
  CHECK(buffer.reader_index() == 5);
  CHECK(buffer.read_u8() == 5);

  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.skip(3), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
  buffer.skip(2);
  CHECK_FALSE(buffer.is_readable());
}

TEST_CASE("advance_writer publishes bytes written through writable_span and refuses more") {
  Buffer buffer = Buffer::allocate(8);
  auto room = buffer.writable_span();
  REQUIRE(room.size() == buffer.capacity());
  room[0] = std::byte{0xca};
  room[1] = std::byte{0xfe};
  buffer.advance_writer(2);
  CHECK(buffer.writer_index() == 2);
  CHECK(buffer.read_u16() == 0xcafe);

  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.advance_writer(buffer.writable_bytes() + 1), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
  buffer.advance_writer(buffer.writable_bytes());
  CHECK(buffer.writer_index() == buffer.capacity());
}

// --- growth ------------------------------------------------------------------------------------

TEST_CASE("ensure_writable with enough room keeps the storage") {
  Buffer buffer = filled(10);
  const std::byte* base = base_of(buffer);
  const std::size_t capacity = buffer.capacity();
  buffer.ensure_writable(capacity - 10);
  CHECK(base_of(buffer) == base);
  CHECK(buffer.capacity() == capacity);
}

TEST_CASE("ensure_writable grows the storage and keeps the bytes and indices") {
  Buffer buffer = filled(16);
  buffer.skip(3);
  const std::size_t old_capacity = buffer.capacity();
  buffer.ensure_writable(old_capacity);  // more than is left
  CHECK(buffer.capacity() >= 16 + old_capacity);
  CHECK(buffer.writable_bytes() >= old_capacity);
  CHECK(buffer.reader_index() == 3);
  CHECK(buffer.writer_index() == 16);
  CHECK(written(buffer) == written(filled(16)));
  CHECK(buffer.use_count() == 1);
}

TEST_CASE("writes grow the buffer as needed") {
  Buffer buffer = Buffer::allocate(1);
  for (std::uint32_t i = 0; i < 10000; ++i)
    buffer.write_u32(i);
  CHECK(buffer.readable_bytes() == 40000);
  for (std::uint32_t i = 0; i < 10000; ++i)
    REQUIRE(buffer.read_u32() == i);
}

TEST_CASE("growth never passes max_capacity") {
  Buffer buffer = Buffer::allocate(4, 100);
  buffer.ensure_writable(90);
  CHECK(buffer.capacity() >= 90);
  CHECK(buffer.capacity() <= 100);
  buffer.ensure_writable(100);
  CHECK(buffer.capacity() == 100);
  for (int i = 0; i < 100; ++i)
    buffer.write_u8(1);
  CHECK(buffer.writable_bytes() == 0);
  CHECK(buffer.max_writable_bytes() == 0);
}

TEST_CASE("ensure_writable past max_capacity throws CapacityExceededError and changes nothing") {
  Buffer buffer = Buffer::allocate(8, 32);
  buffer.write_u32(0x01020304);
  buffer.skip(1);
  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.ensure_writable(29), CapacityExceededError);
  CHECK_THROWS_AS(buffer.ensure_writable(std::numeric_limits<std::size_t>::max()),
                  CapacityExceededError);
  CHECK(Snapshot(buffer) == before);
  buffer.ensure_writable(28);  // exactly up to max_capacity is fine
  CHECK(buffer.capacity() == 32);
}

TEST_CASE("a write that would pass max_capacity throws and writes nothing") {
  Buffer buffer = Buffer::allocate(4, 6);
  buffer.write_u32(1);
  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.write_u32(2), CapacityExceededError);
  CHECK_THROWS_AS(buffer.write_u64_le(2), CapacityExceededError);
  CHECK_THROWS_AS(buffer.write_bytes(bytes_of({1, 2, 3})), CapacityExceededError);
  CHECK(Snapshot(buffer) == before);
  buffer.write_u16(0xffff);
  CHECK(buffer.readable_bytes() == 6);
}

// Leak-tracking builds record each allocation's site in a map, which allocates; other builds
// allocate nothing here and these cases pass trivially.
TEST_CASE("an allocation that runs out of memory after taking its block gives the block back") {
  const auto live_before = sluice::PooledAllocator::metrics().live_buffers;
  sluice::test::refuse_next_allocation = true;
  try {
    Buffer buffer = Buffer::allocate(64);
  } catch (const std::bad_alloc&) {
  }
  sluice::test::refuse_next_allocation = false;
  CHECK(sluice::PooledAllocator::metrics().live_buffers == live_before);
}

TEST_CASE("a growth that runs out of memory after taking its block changes nothing") {
  Buffer buffer = Buffer::copy_of(std::string_view("intact"));
  const Snapshot before(buffer);
  const auto live_before = sluice::PooledAllocator::metrics().live_buffers;
  sluice::test::refuse_next_allocation = true;
  try {
    buffer.ensure_writable(4096);
  } catch (const std::bad_alloc&) {
    CHECK(Snapshot(buffer) == before);
  }
  sluice::test::refuse_next_allocation = false;
  // Grown or not, the buffer holds one block.
  CHECK(sluice::PooledAllocator::metrics().live_buffers == live_before);
}

TEST_CASE("growing one of two handles moves it to new storage and leaves the other alone") {
  Buffer first = filled(16, 1024);
  Buffer second = first.share();
  REQUIRE(first.use_count() == 2);
  second.ensure_writable(second.capacity());
  CHECK(first.use_count() == 1);
  CHECK(second.use_count() == 1);
  CHECK(second.max_capacity() == 1024);
  second.set_u8(0, 0xff);
  CHECK(first.get_u8(0) == 0);
  CHECK(written(second).size() == 16);
}

TEST_CASE("write_bytes of the buffer's own bytes survives the growth it causes") {
  Buffer buffer = Buffer::allocate(16);
  buffer.write_bytes(std::string_view("0123456789abcdef"));
  buffer.set_writer_index(buffer.capacity());  // full, so that the next write must grow
  const std::string expected =
      std::string(buffer.readable_view()) + std::string(buffer.readable_view());
  // The span points into the storage that the growth replaces.
  buffer.write_bytes(buffer.readable_span());
  CHECK(buffer.readable_view() == expected);
}

TEST_CASE("set_bytes and get_bytes may copy between overlapping parts of one buffer") {
  Buffer buffer = Buffer::copy_of(std::string_view("abcdefgh"));
  buffer.set_bytes(2, buffer.readable_span().first(6));  // shift right by two
  CHECK(buffer.readable_view() == "ababcdef");
  std::byte* base = buffer.writable_span().data() - buffer.writer_index();
  buffer.get_bytes(0, std::span(base + 2, 6));  // again, through get_bytes
  CHECK(buffer.readable_view() == "abababcd");
}

// --- integers ----------------------------------------------------------------------------------

TEST_CASE("big-endian integers are stored most significant byte first") {
  Buffer buffer = Buffer::allocate(15);
  buffer.write_u8(0x01);
  buffer.write_u16(0x0203);
  buffer.write_u32(0x04050607);
  buffer.write_u64(0x08090a0b0c0d0e0fULL);
  CHECK(readable(buffer) == bytes_of({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  CHECK(buffer.read_u8() == 0x01);
  CHECK(buffer.read_u16() == 0x0203);
  CHECK(buffer.read_u32() == 0x04050607);
  CHECK(buffer.read_u64() == 0x08090a0b0c0d0e0fULL);
}

TEST_CASE("little-endian integers are stored least significant byte first") {
  Buffer buffer = Buffer::allocate(14);
  buffer.write_u16_le(0x0201);
  buffer.write_u32_le(0x06050403);
  buffer.write_u64_le(0x0e0d0c0b0a090807ULL);
  CHECK(readable(buffer) == bytes_of({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}));
  CHECK(buffer.read_u16_le() == 0x0201);
  CHECK(buffer.read_u32_le() == 0x06050403);
  CHECK(buffer.read_u64_le() == 0x0e0d0c0b0a090807ULL);
}

TEST_CASE("a value written in one byte order reads back swapped in the other") {
  Buffer buffer = Buffer::allocate(14);
  buffer.write_u16(0x0102);
  buffer.write_u32(0x01020304);
  buffer.write_u64(0x0102030405060708ULL);
  CHECK(buffer.read_u16_le() == 0x0201);
  CHECK(buffer.read_u32_le() == 0x04030201);
  CHECK(buffer.read_u64_le() == 0x0807060504030201ULL);
}

TEST_CASE("get and set use absolute indices and do not move the indices") {
  Buffer buffer = Buffer::allocate(32);
  buffer.set_u8(0, 0xaa);
  buffer.set_u16(1, 0x0102);
  buffer.set_u32(3, 0x03040506);
  buffer.set_u64(7, 0x0708090a0b0c0d0eULL);
  buffer.set_u16_le(15, 0x0102);
  buffer.set_u32_le(17, 0x03040506);
  buffer.set_u64_le(21, 0x0708090a0b0c0d0eULL);
  CHECK(buffer.reader_index() == 0);
  CHECK(buffer.writer_index() == 0);
  CHECK(buffer.get_u8(0) == 0xaa);
  CHECK(buffer.get_u16(1) == 0x0102);
  CHECK(buffer.get_u32(3) == 0x03040506);
  CHECK(buffer.get_u64(7) == 0x0708090a0b0c0d0eULL);
  CHECK(buffer.get_u16_le(15) == 0x0102);
  CHECK(buffer.get_u32_le(17) == 0x03040506);
  CHECK(buffer.get_u64_le(21) == 0x0708090a0b0c0d0eULL);
  CHECK(buffer.get_u8(15) == 0x02);  // the low byte first
  CHECK(buffer.get_u8(21) == 0x0e);
  // Indices are absolute: reading moves the reader index, not what get(0) sees.
  buffer.set_writer_index(29);
  buffer.skip(5);
  CHECK(buffer.get_u8(0) == 0xaa);
  CHECK(buffer.reader_index() == 5);
}

TEST_CASE("get and set reach bytes outside the readable region, within the capacity") {
  Buffer buffer = Buffer::allocate(16);
  buffer.set_u32(buffer.capacity() - 4, 0x01020304);
  CHECK(buffer.get_u32(buffer.capacity() - 4) == 0x01020304);
  CHECK(buffer.readable_bytes() == 0);
}

TEST_CASE("integers of every width round-trip in both byte orders") {
  const std::uint64_t patterns[] = {0,
                                    1,
                                    0x7f,
                                    0x80,
                                    0xff,
                                    0x7fff,
                                    0x8000,
                                    0xffff,
                                    0x12345678,
                                    0x80000000,
                                    0xffffffff,
                                    0x0123456789abcdefULL,
                                    0x8000000000000000ULL,
                                    ~0ULL};
  for (const std::endian order : {kBE, kLE}) {
    Buffer buffer;
    for (std::uint64_t value : patterns) {
      buffer.write(static_cast<std::uint8_t>(value), order);
      buffer.write(static_cast<std::uint16_t>(value), order);
      buffer.write(static_cast<std::uint32_t>(value), order);
      buffer.write(static_cast<std::uint64_t>(value), order);
    }
    for (std::uint64_t value : patterns) {
      CAPTURE(value);
      CHECK(buffer.read<std::uint8_t>(order) == static_cast<std::uint8_t>(value));
      CHECK(buffer.read<std::uint16_t>(order) == static_cast<std::uint16_t>(value));
      CHECK(buffer.read<std::uint32_t>(order) == static_cast<std::uint32_t>(value));
      CHECK(buffer.read<std::uint64_t>(order) == value);
    }
    CHECK_FALSE(buffer.is_readable());
  }
}

TEST_CASE("signed integers round-trip through the templates in two's complement") {
  Buffer buffer;
  buffer.write<std::int8_t>(-2);
  buffer.write<std::int16_t>(-2);
  buffer.write<std::int32_t>(-2, kLE);
  buffer.write<std::int64_t>(std::numeric_limits<std::int64_t>::min());
  CHECK(readable(buffer) ==
        bytes_of({0xfe, 0xff, 0xfe, 0xfe, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}));
  CHECK(buffer.get<std::int16_t>(1) == -2);
  CHECK(buffer.get<std::int32_t>(3, kLE) == -2);
  CHECK(buffer.read<std::int8_t>() == -2);
  CHECK(buffer.read<std::int16_t>() == -2);
  CHECK(buffer.read<std::int32_t>(kLE) == -2);
  CHECK(buffer.read<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  buffer.set<std::int32_t>(0, std::numeric_limits<std::int32_t>::min(), kLE);
  CHECK(buffer.get_u32_le(0) == 0x80000000u);
}

TEST_CASE("the templates default to big-endian") {
  Buffer buffer;
  buffer.write<std::uint32_t>(0x01020304);
  CHECK(buffer.get_u8(0) == 1);
  CHECK(buffer.get<std::uint32_t>(0) == 0x01020304);
  buffer.set<std::uint16_t>(0, 0x0a0b);
  CHECK(buffer.get_u8(0) == 0x0a);
  CHECK(buffer.read<std::uint16_t>() == 0x0a0b);
}

TEST_CASE("reading an integer past the readable bytes throws and consumes nothing") {
  Buffer buffer = filled(7);
  buffer.skip(1);
  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.read_u64(), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.read_u64_le(), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.read<std::int64_t>(), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
  buffer.skip(3);
  CHECK_THROWS_AS(buffer.read_u32(), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.read_u32_le(), IndexOutOfBoundsError);
  buffer.skip(2);
  CHECK_THROWS_AS(buffer.read_u16(), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.read_u16_le(), IndexOutOfBoundsError);
  CHECK(buffer.read_u8() == 6);
  CHECK_THROWS_AS(buffer.read_u8(), IndexOutOfBoundsError);
  CHECK(buffer.reader_index() == 7);
}

TEST_CASE("get and set past the capacity throw and change nothing") {
  Buffer buffer = filled(4, 16);
  buffer.ensure_writable(12);
  REQUIRE(buffer.capacity() == 16);
  const Snapshot before(buffer);
  CHECK_THROWS_AS(buffer.get_u8(16), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.get_u16(15), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.get_u32_le(13), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.get_u64(9), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_u8(16, 1), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_u16_le(15, 1), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_u32(13, 1), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_u64_le(9, 1), IndexOutOfBoundsError);
  // An index near SIZE_MAX must not wrap around into the buffer.
  const std::size_t huge = std::numeric_limits<std::size_t>::max() - 2;
  CHECK_THROWS_AS(buffer.get_u32(huge), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_u64(huge, 1), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
  CHECK_NOTHROW(buffer.set_u64(8, 1));  // the last whole u64 is in range
  CHECK(buffer.get_u64(8) == 1);
}

// --- bytes -------------------------------------------------------------------------------------

TEST_CASE("write_bytes and read_bytes copy bytes in and out") {
  Buffer buffer = Buffer::allocate(4);
  buffer.write_bytes(bytes_of({1, 2, 3}));
  buffer.write_bytes(std::string_view("ab"));
  CHECK(readable(buffer) == bytes_of({1, 2, 3, 'a', 'b'}));
  std::array<std::byte, 4> out{};
  buffer.read_bytes(out);
  CHECK(std::vector<std::byte>(out.begin(), out.end()) == bytes_of({1, 2, 3, 'a'}));
  CHECK(buffer.reader_index() == 4);
  buffer.read_bytes(std::span<std::byte>());
  CHECK(buffer.reader_index() == 4);
}

TEST_CASE("get_bytes and set_bytes use absolute indices and do not move the indices") {
  Buffer buffer = filled(8);
  buffer.skip(6);
  buffer.set_bytes(2, bytes_of({0xa, 0xb}));
  std::array<std::byte, 4> out{};
  buffer.get_bytes(1, out);
  CHECK(std::vector<std::byte>(out.begin(), out.end()) == bytes_of({1, 0xa, 0xb, 4}));
  CHECK(buffer.reader_index() == 6);
  CHECK(buffer.writer_index() == 8);
}

TEST_CASE("read_bytes of more than is readable throws and consumes nothing") {
  Buffer buffer = filled(8);
  buffer.skip(2);
  const Snapshot before(buffer);
  std::array<std::byte, 7> out{};
  CHECK_THROWS_AS(buffer.read_bytes(out), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
}

TEST_CASE("get_bytes and set_bytes past the capacity throw and change nothing") {
  Buffer buffer = filled(8, 8);
  const Snapshot before(buffer);
  std::array<std::byte, 4> out{};
  CHECK_THROWS_AS(buffer.get_bytes(5, out), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.set_bytes(5, out), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.get_bytes(9, std::span<std::byte>()), IndexOutOfBoundsError);
  CHECK(Snapshot(buffer) == before);
}

TEST_CASE("empty byte ranges are accepted up to the end of the capacity") {
  Buffer buffer = filled(8, 8);
  buffer.get_bytes(8, std::span<std::byte>());
  buffer.set_bytes(8, std::span<const std::byte>());
  buffer.skip(8);
  buffer.read_bytes(std::span<std::byte>());
  buffer.write_bytes(std::span<const std::byte>());
  CHECK(buffer.writer_index() == 8);
}

// --- sharing -----------------------------------------------------------------------------------

TEST_CASE("a slice shares storage with its parent: writes are visible through both") {
  Buffer parent = filled(16);
  Buffer slice = parent.slice(4, 8);
  CHECK(slice.readable_span().data() == parent.readable_span().data() + 4);
  parent.set_u8(5, 0xee);
  CHECK(slice.get_u8(1) == 0xee);
  slice.set_u16(2, 0xabcd);
  CHECK(parent.get_u16(6) == 0xabcd);
}

TEST_CASE("every handle on the same storage counts in use_count") {
  Buffer parent = filled(16);
  CHECK(parent.use_count() == 1);
  {
    Buffer a = parent.slice(0, 4);
    Buffer b = parent.share();
    Buffer c = a.slice(1, 2);
    CHECK(parent.use_count() == 4);
    CHECK(c.use_count() == 4);
    CHECK(parent.is_shared());
    Buffer moved = std::move(b);
    CHECK(parent.use_count() == 4);  // moving a handle does not add a reference
  }
  CHECK(parent.use_count() == 1);
  CHECK_FALSE(parent.is_shared());
}

TEST_CASE("a slice keeps its storage alive after the parent handle dies") {
  const auto live_before = sluice::PooledAllocator::metrics().live_buffers;
  Buffer slice;
  {
    Buffer parent = Buffer::copy_of(std::string_view("keep me alive"));
    slice = parent.slice(5, 2);
  }
  CHECK(slice.use_count() == 1);
  CHECK(slice.readable_view() == "me");
  CHECK(sluice::PooledAllocator::metrics().live_buffers == live_before + 1);
  slice = Buffer();
  CHECK(sluice::PooledAllocator::metrics().live_buffers == live_before);
}

TEST_CASE("a slice's bytes are all readable and it cannot grow") {
  Buffer parent = filled(16);
  Buffer slice = parent.slice(2, 4);
  CHECK(slice.reader_index() == 0);
  CHECK(slice.writer_index() == 4);
  CHECK(slice.capacity() == 4);
  CHECK(slice.max_capacity() == 4);
  CHECK(readable(slice) == bytes_of({2, 3, 4, 5}));
  CHECK_THROWS_AS(slice.write_u8(1), CapacityExceededError);
  CHECK_THROWS_AS(slice.ensure_writable(1), CapacityExceededError);
  CHECK_THROWS_AS(slice.get_u8(4), IndexOutOfBoundsError);
  // Within its capacity a slice is writable again, into the parent's bytes.
  slice.clear();
  slice.write_u8(0x77);
  CHECK(parent.get_u8(2) == 0x77);
  CHECK(parent.use_count() == 2);
}

TEST_CASE("slice without arguments covers the readable bytes") {
  Buffer parent = filled(10);
  parent.skip(3);
  Buffer slice = parent.slice();
  CHECK(readable(slice) == readable(parent));
  CHECK(parent.reader_index() == 3);
}

TEST_CASE("slice may reach past the writer index up to the capacity") {
  Buffer parent = filled(4, 16);
  parent.ensure_writable(12);
  Buffer slice = parent.slice(8, 8);
  CHECK(slice.capacity() == 8);
  CHECK_THROWS_AS(parent.slice(8, 9), IndexOutOfBoundsError);
  CHECK_THROWS_AS(parent.slice(17, 0), IndexOutOfBoundsError);
  CHECK_THROWS_AS(parent.slice(1, std::numeric_limits<std::size_t>::max()), IndexOutOfBoundsError);
  CHECK(parent.use_count() == 2);  // the failed slices took no reference
}

TEST_CASE("read_slice hands out the next bytes and consumes them") {
  Buffer parent = filled(10);
  parent.skip(1);
  Buffer slice = parent.read_slice(4);
  CHECK(readable(slice) == bytes_of({1, 2, 3, 4}));
  CHECK(parent.reader_index() == 5);
  CHECK(slice.readable_span().data() == parent.readable_span().data() - 4);
  CHECK(parent.use_count() == 2);
  Buffer empty = parent.read_slice(0);
  CHECK(empty.readable_bytes() == 0);
  CHECK(parent.reader_index() == 5);
}

TEST_CASE("read_slice of more than is readable throws and consumes nothing") {
  Buffer parent = filled(10);
  parent.skip(4);
  const Snapshot before(parent);
  CHECK_THROWS_AS(parent.read_slice(7), IndexOutOfBoundsError);
  CHECK(Snapshot(parent) == before);
  CHECK(parent.use_count() == 1);
}

TEST_CASE("share gives another handle with the same indices on the same storage") {
  Buffer parent = filled(10, 500);
  parent.ensure_writable(1);  // room for the write through the other handle below
  parent.skip(2);
  Buffer shared = parent.share();
  CHECK(shared.reader_index() == 2);
  CHECK(shared.writer_index() == 10);
  CHECK(shared.capacity() == parent.capacity());
  CHECK(shared.max_capacity() == 500);
  CHECK(shared.readable_span().data() == parent.readable_span().data());
  // The indices are per handle.
  shared.skip(3);
  CHECK(parent.reader_index() == 2);
  shared.write_u8(0x42);
  CHECK(parent.writer_index() == 10);
  CHECK(parent.get_u8(10) == 0x42);
}

TEST_CASE("into_slice turns a handle into the slice of its readable bytes, taking no reference") {
  Buffer parent = filled(10, 500);
  parent.skip(2);
  const std::byte* readable = parent.readable_span().data();
  Buffer other = parent.share();
  CHECK(other.use_count() == 2);
  Buffer slice = std::move(parent).into_slice();
  CHECK(slice.use_count() == 2);  // the parent's reference moved; none was added
  CHECK(slice.readable_span().data() == readable);
  CHECK(slice.reader_index() == 0);
  CHECK(slice.writer_index() == 8);
  CHECK(slice.capacity() == 8);
  CHECK(slice.max_capacity() == 8);
  CHECK_THROWS_AS(slice.write_u8(1), CapacityExceededError);
  if constexpr (sluice::kDebugChecks) {
    CHECK_THROWS_AS(parent.reader_index(), MovedFromError);  // NOLINT(bugprone-use-after-move)
  }
  other = Buffer();
  CHECK(slice.use_count() == 1);
}

TEST_CASE("move assignment releases the target's old storage") {
  const auto live_before = sluice::PooledAllocator::metrics().live_buffers;
  Buffer a = filled(8);
  Buffer b = filled(8);
  CHECK(sluice::PooledAllocator::metrics().live_buffers == live_before + 2);
  a = std::move(b);
  CHECK(sluice::PooledAllocator::metrics().live_buffers == live_before + 1);
  CHECK(a.readable_bytes() == 8);
  auto& self = a;
  a = std::move(self);
  CHECK(a.readable_bytes() == 8);
}

// --- discard_read_bytes ------------------------------------------------------------------------

TEST_CASE("discard_read_bytes on unshared storage moves the readable bytes to the front") {
  Buffer buffer = filled(10);
  const std::byte* base = base_of(buffer);
  const std::size_t capacity = buffer.capacity();
  buffer.skip(4);
  buffer.discard_read_bytes();
  CHECK(buffer.reader_index() == 0);
  CHECK(buffer.writer_index() == 6);
  CHECK(buffer.capacity() == capacity);
  CHECK(base_of(buffer) == base);
  CHECK(readable(buffer) == bytes_of({4, 5, 6, 7, 8, 9}));
  CHECK(buffer.get_u8(0) == 4);
}

TEST_CASE("discard_read_bytes of everything leaves an empty buffer with its capacity") {
  Buffer buffer = filled(10);
  const std::size_t capacity = buffer.capacity();
  buffer.skip(10);
  buffer.discard_read_bytes();
  CHECK(buffer.reader_index() == 0);
  CHECK(buffer.writer_index() == 0);
  CHECK(buffer.writable_bytes() == capacity);
}

TEST_CASE("discard_read_bytes on shared storage advances the handle and moves no bytes") {
  Buffer buffer = filled(10, 100);
  const std::size_t capacity = buffer.capacity();
  Buffer other = buffer.share();
  Buffer slice = buffer.slice(0, 6);
  buffer.skip(4);
  buffer.discard_read_bytes();
  CHECK(buffer.reader_index() == 0);
  CHECK(buffer.writer_index() == 6);
  CHECK(buffer.capacity() == capacity - 4);
  CHECK(buffer.max_capacity() == 96);
  CHECK(readable(buffer) == bytes_of({4, 5, 6, 7, 8, 9}));
  CHECK(buffer.get_u8(0) == 4);
  // The other handles see the same bytes at the same places.
  CHECK(readable(other) == readable(filled(10)));
  CHECK(readable(slice) == bytes_of({0, 1, 2, 3, 4, 5}));
  CHECK(buffer.readable_span().data() == other.readable_span().data() + 4);
  // Still one storage: a write through the advanced handle shows at the shifted index.
  buffer.set_u8(1, 0xff);
  CHECK(other.get_u8(5) == 0xff);
}

TEST_CASE("discard_read_bytes moves no bytes while a single slice of them is alive") {
  Buffer buffer = filled(10);
  Buffer slice = buffer.slice(2, 4);
  buffer.skip(6);
  buffer.discard_read_bytes();
  CHECK(readable(slice) == bytes_of({2, 3, 4, 5}));
  CHECK(readable(buffer) == bytes_of({6, 7, 8, 9}));
  slice = Buffer();
  // Unshared again: the next discard moves bytes and keeps the (already reduced) capacity.
  const std::size_t capacity = buffer.capacity();
  buffer.skip(1);
  buffer.discard_read_bytes();
  CHECK(buffer.capacity() == capacity);
  CHECK(readable(buffer) == bytes_of({7, 8, 9}));
}

TEST_CASE("discard_read_bytes with nothing read changes nothing") {
  Buffer buffer = filled(10);
  const Snapshot before(buffer);
  buffer.discard_read_bytes();
  CHECK(Snapshot(buffer) == before);
}

// --- search ------------------------------------------------------------------------------------

TEST_CASE("index_of finds the first matching readable byte by absolute index") {
  Buffer buffer = Buffer::copy_of(std::string_view("a\r\nbc\r\n"));
  CHECK(buffer.index_of(std::byte{'\n'}) == 2);
  buffer.skip(3);
  CHECK(buffer.index_of(std::byte{'\n'}) == 6);
  CHECK(buffer.index_of(std::byte{'a'}) == Buffer::npos);  // consumed bytes are not searched
}

TEST_CASE("index_of with a range searches [from, to)") {
  Buffer buffer = Buffer::copy_of(std::string_view("xyzxyz"));
  CHECK(buffer.index_of(std::byte{'x'}, 0, 6) == 0);
  CHECK(buffer.index_of(std::byte{'x'}, 1, 6) == 3);
  CHECK(buffer.index_of(std::byte{'x'}, 1, 3) == Buffer::npos);
  CHECK(buffer.index_of(std::byte{'x'}, 1, 4) == 3);
  CHECK(buffer.index_of(std::byte{'x'}, 3, 3) == Buffer::npos);
  // The range is checked against the capacity, not the writer index.
  buffer.set_u8(buffer.capacity() - 1, '!');
  CHECK(buffer.index_of(std::byte{'!'}, 0, buffer.capacity()) == buffer.capacity() - 1);
}

TEST_CASE("index_of with a range outside the capacity throws") {
  Buffer buffer = Buffer::copy_of(std::string_view("xyz"));
  CHECK_THROWS_AS(buffer.index_of(std::byte{'x'}, 0, buffer.capacity() + 1), IndexOutOfBoundsError);
  CHECK_THROWS_AS(buffer.index_of(std::byte{'x'}, 2, 1), IndexOutOfBoundsError);
}

TEST_CASE("for_each_byte visits the readable bytes in order and stops where the visitor says") {
  Buffer buffer = Buffer::copy_of(std::string_view("hello world"));
  buffer.skip(1);
  std::string seen;
  CHECK(buffer.for_each_byte([&](std::byte b) {
    seen += static_cast<char>(b);
    return true;
  }) == Buffer::npos);
  CHECK(seen == "ello world");
  seen.clear();
  const std::size_t stop = buffer.for_each_byte([&](std::byte b) {
    seen += static_cast<char>(b);
    return b != std::byte{' '};
  });
  CHECK(stop == 5);  // absolute index of the byte that stopped it
  CHECK(seen == "ello ");
  Buffer empty;
  CHECK(empty.for_each_byte([](std::byte) { return false; }) == Buffer::npos);
}

// --- views -------------------------------------------------------------------------------------

TEST_CASE("the spans and the view cover the regions between the indices") {
  Buffer buffer = filled(10);
  buffer.skip(3);
  const auto readable_span = buffer.readable_span();
  const auto writable_span = buffer.writable_span();
  CHECK(readable_span.size() == 7);
  CHECK(writable_span.size() == buffer.capacity() - 10);
  CHECK(readable_span.data() + 7 == writable_span.data());
  CHECK(readable_span[0] == std::byte{3});
  CHECK(buffer.readable_view().size() == 7);
  CHECK(static_cast<const void*>(buffer.readable_view().data()) ==
        static_cast<const void*>(readable_span.data()));
}

// --- moved-from handles ------------------------------------------------------------------------

TEST_CASE("a moved-from handle is empty and can be given a new buffer") {
  Buffer a = filled(8);
  Buffer b = std::move(a);
  CHECK_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  CHECK(a.use_count() == 0);
  CHECK(b.use_count() == 1);
  CHECK(b.readable_bytes() == 8);
  a = filled(2);
  CHECK(a.readable_bytes() == 2);
}

TEST_CASE("a moved-from handle throws MovedFromError in debug builds") {
  if constexpr (sluice::kDebugChecks) {
    Buffer a = filled(8);
    Buffer b(std::move(a));
    std::array<std::byte, 1> one{};
    CHECK(a.to_string() == "Buffer(moved from)");
    CHECK_THROWS_AS(a.reader_index(), MovedFromError);
    CHECK_THROWS_AS(a.writer_index(), MovedFromError);
    CHECK_THROWS_AS(a.capacity(), MovedFromError);
    CHECK_THROWS_AS(a.max_capacity(), MovedFromError);
    CHECK_THROWS_AS(a.readable_bytes(), MovedFromError);
    CHECK_THROWS_AS(a.writable_bytes(), MovedFromError);
    CHECK_THROWS_AS(a.set_reader_index(0), MovedFromError);
    CHECK_THROWS_AS(a.set_writer_index(0), MovedFromError);
    CHECK_THROWS_AS(a.set_indices(0, 0), MovedFromError);
    CHECK_THROWS_AS(a.clear(), MovedFromError);
    CHECK_THROWS_AS(a.skip(0), MovedFromError);
    CHECK_THROWS_AS(a.advance_writer(0), MovedFromError);
    CHECK_THROWS_AS(a.ensure_writable(0), MovedFromError);
    CHECK_THROWS_AS(a.read_u8(), MovedFromError);
    CHECK_THROWS_AS(a.write_u8(1), MovedFromError);
    CHECK_THROWS_AS(a.get_u32(0), MovedFromError);
    CHECK_THROWS_AS(a.set_u32(0, 1), MovedFromError);
    CHECK_THROWS_AS(a.read_bytes(one), MovedFromError);
    CHECK_THROWS_AS(a.write_bytes(one), MovedFromError);
    CHECK_THROWS_AS(a.get_bytes(0, one), MovedFromError);
    CHECK_THROWS_AS(a.set_bytes(0, one), MovedFromError);
    CHECK_THROWS_AS(a.slice(), MovedFromError);
    CHECK_THROWS_AS(a.read_slice(0), MovedFromError);
    CHECK_THROWS_AS(a.share(), MovedFromError);
    CHECK_THROWS_AS(a.discard_read_bytes(), MovedFromError);
    CHECK_THROWS_AS(a.index_of(std::byte{0}), MovedFromError);
    CHECK_THROWS_AS(a.for_each_byte([](std::byte) { return true; }), MovedFromError);
    CHECK_THROWS_AS(a.readable_span(), MovedFromError);
    CHECK_THROWS_AS(a.writable_span(), MovedFromError);
    CHECK_THROWS_AS(a.readable_view(), MovedFromError);
    CHECK_THROWS_AS(a.hex_dump(), MovedFromError);
    try {
      static_cast<void>(a.readable_bytes());
    } catch (const MovedFromError& error) {
      CHECK(error.code() == BufferErrc::moved_from);
    }
    CHECK(b.readable_bytes() == 8);  // the handle it moved to is untouched
  }
}

// --- errors ------------------------------------------------------------------------------------

namespace {

template <typename Error, typename F>
std::string message_of(F&& operation) {
  try {
    operation();
  } catch (const Error& error) {
    return error.what();
  }
  FAIL("no exception");
  return {};
}

}  // namespace

TEST_CASE("error messages name the operation and the indices") {
  Buffer buffer = filled(8, 16);
  buffer.skip(6);
  const std::string capacity = std::to_string(buffer.capacity());

  const std::string read = message_of<IndexOutOfBoundsError>([&] { buffer.read_u32(); });
  CHECK(read.find("read") != std::string::npos);
  CHECK(read.find("4 bytes at reader index 6 exceed writer index 8") != std::string::npos);

  const std::string get = message_of<IndexOutOfBoundsError>([&] { buffer.get_u64(12); });
  CHECK(get.find("get: 8 bytes at index 12 exceed capacity " + capacity) != std::string::npos);

  const std::string set = message_of<IndexOutOfBoundsError>([&] { buffer.set_u16(99, 1); });
  CHECK(set.find("set: 2 bytes at index 99") != std::string::npos);

  const std::string skip = message_of<IndexOutOfBoundsError>([&] { buffer.skip(3); });
  CHECK(skip.find("skip: 3 bytes at reader index 6") != std::string::npos);

  const std::string reader = message_of<IndexOutOfBoundsError>([&] { buffer.set_reader_index(9); });
  CHECK(reader.find("set_reader_index: 9") != std::string::npos);
  CHECK(reader.find("writer index 8") != std::string::npos);

  const std::string writer = message_of<IndexOutOfBoundsError>([&] { buffer.set_writer_index(5); });
  CHECK(writer.find("set_writer_index: 5") != std::string::npos);
  CHECK(writer.find("reader index 6") != std::string::npos);

  const std::string grow = message_of<CapacityExceededError>([&] { buffer.ensure_writable(9); });
  CHECK(grow.find("9 bytes at writer index 8 exceed max capacity 16") != std::string::npos);

  const std::string slice = message_of<IndexOutOfBoundsError>([&] { buffer.slice(10, 20); });
  CHECK(slice.find("slice: 20 bytes at index 10") != std::string::npos);

  const std::string advance =
      message_of<IndexOutOfBoundsError>([&] { buffer.advance_writer(1000); });
  CHECK(advance.find("advance_writer: 1000 bytes at writer index 8") != std::string::npos);

  const std::string search =
      message_of<IndexOutOfBoundsError>([&] { buffer.index_of(std::byte{1}, 3, 2); });
  CHECK(search.find("[3, 2)") != std::string::npos);
}

TEST_CASE("buffer errors carry their error code in the buffer category") {
  Buffer buffer = Buffer::allocate(4, 4);
  try {
    buffer.read_u8();
    FAIL("no exception");
  } catch (const sluice::BufferError& error) {
    CHECK(error.code() == BufferErrc::index_out_of_bounds);
    CHECK(std::string(error.code().category().name()) == "sluice.buffer");
    CHECK(error.error() == BufferErrc::index_out_of_bounds);
  }
  try {
    buffer.ensure_writable(5);
    FAIL("no exception");
  } catch (const sluice::BufferError& error) {
    CHECK(error.code() == BufferErrc::capacity_exceeded);
    CHECK(std::string(error.what()).find("capacity exceeded") != std::string::npos);
  }
}

// --- formatting --------------------------------------------------------------------------------

TEST_CASE("to_string shows the indices, capacities and reference count") {
  Buffer buffer = Buffer::allocate(16, 100);
  buffer.write_bytes(std::string_view("hello"));
  buffer.skip(1);
  const std::string capacity = std::to_string(buffer.capacity());
  CHECK(buffer.to_string() == "Buffer(reader 1, writer 5, capacity " + capacity + "/100, refs 1)");
  Buffer shared = buffer.share();
  CHECK(buffer.to_string() == "Buffer(reader 1, writer 5, capacity " + capacity + "/100, refs 2)");
  CHECK(Buffer().to_string() == "Buffer(reader 0, writer 0, capacity 0/2147483647, refs 0)");
}

TEST_CASE("hex_dump shows offset, hex and ASCII columns of the readable bytes") {
  Buffer buffer;
  buffer.write_u8(0xff);  // consumed: not dumped
  buffer.write_bytes(
      std::string_view("Hello, world!\n\x01\x7f"
                       "ABCD"));
  buffer.skip(1);
  CHECK(buffer.hex_dump() ==
        "00000000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 01 7f  |Hello, world!...|\n"
        "00000010  41 42 43 44                                       |ABCD|\n");
  CHECK(Buffer().hex_dump().empty());
}

TEST_CASE("hex_dump stops at max_bytes and says how many bytes it left out") {
  Buffer buffer = filled(40);
  CHECK(buffer.hex_dump(3) ==
        "00000000  00 01 02                                          |...|\n"
        "... 37 more bytes\n");
  CHECK(buffer.hex_dump(0) == "... 40 more bytes\n");
  CHECK(buffer.hex_dump(40).find("more bytes") == std::string::npos);
  CHECK(buffer.hex_dump(40).find("00000020  20 21 22 23 24 25 26 27") != std::string::npos);
}
