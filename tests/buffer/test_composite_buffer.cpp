// CompositeBuffer: joining without copying, reads across component boundaries, zero-copy
// split/read_slice/read_buffer, coalesce, search, iovecs, errors and the release of consumed
// components.

#include <doctest/doctest.h>

#include <sys/uio.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/core/debug.hpp"
#include "support/allocation_hooks.hpp"

using sluice::Buffer;
using sluice::CompositeBuffer;
using sluice::IndexOutOfBoundsError;
using sluice::PooledAllocator;
using sluice::test::refuse_next_allocation;

namespace {

constexpr auto kBE = std::endian::big;
constexpr auto kLE = std::endian::little;

std::int64_t live_buffers() {
  return PooledAllocator::metrics().live_buffers;
}

std::string contents(const CompositeBuffer& composite) {
  std::string out(composite.readable_bytes(), '\0');
  composite.get_bytes(0, std::as_writable_bytes(std::span(out)));
  return out;
}

std::string text_of(const Buffer& buffer) {
  return std::string(buffer.readable_view());
}

// A composite of one buffer per piece, and the pieces' data pointers.
struct Pieces {
  CompositeBuffer composite;
  std::vector<const std::byte*> data;
  std::vector<std::size_t> sizes;
};

Pieces pieces_of(std::initializer_list<std::string_view> texts) {
  Pieces result;
  for (std::string_view text : texts) {
    Buffer buffer = Buffer::copy_of(text);
    result.data.push_back(buffer.readable_span().data());
    result.sizes.push_back(text.size());
    result.composite.append(std::move(buffer));
  }
  return result;
}

// True when every component lies inside one of the original pieces: nothing was copied.
bool points_into(const CompositeBuffer& composite, const Pieces& pieces) {
  for (std::size_t i = 0; i < composite.component_count(); ++i) {
    const auto span = composite.component(i).readable_span();
    bool inside = false;
    for (std::size_t p = 0; p < pieces.data.size(); ++p) {
      inside = inside || (span.data() >= pieces.data[p] &&
                          span.data() + span.size() <= pieces.data[p] + pieces.sizes[p]);
    }
    if (!inside) return false;
  }
  return true;
}

// What an operation that fails must leave unchanged.
struct Snapshot {
  std::string bytes;
  std::vector<std::pair<const std::byte*, std::size_t>> components;

  explicit Snapshot(const CompositeBuffer& composite) : bytes(contents(composite)) {
    for (std::size_t i = 0; i < composite.component_count(); ++i) {
      const auto span = composite.component(i).readable_span();
      components.emplace_back(span.data(), span.size());
    }
  }
  bool operator==(const Snapshot&) const = default;
};

// The encoding of `value` in `order`, as text so that it can be cut into pieces.
template <typename T>
std::string encoded(T value, std::endian order) {
  Buffer buffer;
  buffer.write<T>(value, order);
  return text_of(buffer);
}

template <typename T>
void check_integer_at_every_split(T value) {
  for (const std::endian order : {kBE, kLE}) {
    const std::string bytes = encoded(value, order);
    // Every way to cut the encoding into up to three non-empty pieces.
    for (std::size_t first = 1; first <= bytes.size(); ++first) {
      for (std::size_t second = first; second <= bytes.size(); ++second) {
        CAPTURE(sizeof(T));
        CAPTURE(first);
        CAPTURE(second);
        CompositeBuffer composite;
        composite.append(Buffer::copy_of(std::string_view("<")));
        composite.append(Buffer::copy_of(std::string_view(bytes).substr(0, first)));
        composite.append(Buffer::copy_of(std::string_view(bytes).substr(first, second - first)));
        composite.append(Buffer::copy_of(std::string_view(bytes).substr(second)));
        composite.append(Buffer::copy_of(std::string_view(">")));
        REQUIRE(composite.readable_bytes() == bytes.size() + 2);
        CHECK(composite.get<T>(1, order) == value);
        CHECK(composite.read_u8() == '<');
        CHECK(composite.read<T>(order) == value);
        CHECK(composite.read_u8() == '>');
        CHECK(composite.empty());
        CHECK(composite.component_count() == 0);
      }
    }
  }
}

}  // namespace

// --- append ------------------------------------------------------------------------------------

TEST_CASE("append joins buffers without copying their bytes") {
  Pieces pieces = pieces_of({"abc", "de", "fghi"});
  CompositeBuffer& composite = pieces.composite;
  CHECK(composite.readable_bytes() == 9);
  CHECK_FALSE(composite.empty());
  REQUIRE(composite.component_count() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(composite.component(i).readable_span().data() == pieces.data[i]);
  }
  CHECK(contents(composite) == "abcdefghi");
}

TEST_CASE("a component contributes only its readable bytes") {
  Buffer buffer = Buffer::copy_of(std::string_view("xxhello"));
  buffer.skip(2);
  buffer.ensure_writable(10);  // writable room is not part of the composite
  CompositeBuffer composite(std::move(buffer));
  CHECK(composite.readable_bytes() == 5);
  CHECK(contents(composite) == "hello");
}

TEST_CASE("append drops buffers with no readable bytes") {
  const auto live_before = live_buffers();
  CompositeBuffer composite;
  composite.append(Buffer());
  composite.append(Buffer::allocate(16));
  CHECK(composite.empty());
  CHECK(composite.component_count() == 0);
  CHECK(live_buffers() == live_before);
}

TEST_CASE("appending a composite moves its components and empties it") {
  Pieces first = pieces_of({"ab", "cd"});
  Pieces second = pieces_of({"ef", "gh", "ij"});
  second.composite.skip(1);
  first.composite.append(std::move(second.composite));
  CHECK(contents(first.composite) == "abcdfghij");
  CHECK(first.composite.component_count() == 5);
  CHECK(first.composite.component(2).readable_span().data() == second.data[0] + 1);
  CHECK(second.composite.empty());  // NOLINT(bugprone-use-after-move): cleared by append
  CHECK(second.composite.component_count() == 0);
}

TEST_CASE("a moved-from composite is empty and usable") {
  Pieces pieces = pieces_of({"ab", "cd", "ef"});
  pieces.composite.skip(3);  // drops a component, so the composite has a consumed prefix
  CompositeBuffer moved(std::move(pieces.composite));
  CHECK(contents(moved) == "def");
  CompositeBuffer& source = pieces.composite;
  CHECK(source.readable_bytes() == 0);  // NOLINT(bugprone-use-after-move)
  CHECK(source.component_count() == 0);
  CHECK_THROWS_AS(source.read_u8(), IndexOutOfBoundsError);
  source.append(Buffer::copy_of(std::string_view("xy")));
  CHECK(source.read_u16() == 0x7879);

  CompositeBuffer assigned;
  assigned.append(Buffer::copy_of(std::string_view("old")));
  assigned = std::move(moved);
  CHECK(contents(assigned) == "def");
  CHECK(moved.readable_bytes() == 0);  // NOLINT(bugprone-use-after-move)
  CHECK(moved.component_count() == 0);
  moved.append(Buffer::copy_of(std::string_view("z")));
  CHECK(contents(moved) == "z");
}

TEST_CASE("component() past the component count throws") {
  Pieces pieces = pieces_of({"ab"});
  CHECK_NOTHROW(pieces.composite.component(0));
  CHECK_THROWS_AS(pieces.composite.component(1), IndexOutOfBoundsError);
  CHECK_THROWS_AS(CompositeBuffer().component(0), IndexOutOfBoundsError);
}

// --- reads across components -------------------------------------------------------------------

TEST_CASE("integers are read across component boundaries at every split point") {
  check_integer_at_every_split<std::uint16_t>(0x0102);
  check_integer_at_every_split<std::uint32_t>(0x01020304);
  check_integer_at_every_split<std::uint64_t>(0x0102030405060708ULL);
  check_integer_at_every_split<std::int32_t>(-123456789);
  check_integer_at_every_split<std::int64_t>(-2);
}

TEST_CASE("the named integer accessors read big- and little-endian across components") {
  Pieces pieces = pieces_of({"\x01", "\x02\x03", "\x04\x05\x06\x07", "\x08"});
  CompositeBuffer& composite = pieces.composite;
  CHECK(composite.get_u8(0) == 1);
  CHECK(composite.get_u16(0) == 0x0102);
  CHECK(composite.get_u16_le(0) == 0x0201);
  CHECK(composite.get_u32(1) == 0x02030405);
  CHECK(composite.get_u32_le(1) == 0x05040302);
  CHECK(composite.get_u64(0) == 0x0102030405060708ULL);
  CHECK(composite.get_u64_le(0) == 0x0807060504030201ULL);
  CHECK(composite.read_u8() == 1);
  CHECK(composite.read_u16_le() == 0x0302);
  CHECK(composite.read_u32() == 0x04050607);
  CHECK(composite.read_u8() == 8);
  Pieces more = pieces_of({"\x01\x02\x03", "\x04\x05", "\x06\x07\x08\x09\x0a\x0b", "\x0c\x0d\x0e"});
  CHECK(more.composite.read_u16() == 0x0102);
  CHECK(more.composite.read_u32_le() == 0x06050403);
  CHECK(more.composite.read_u64_le() == 0x0e0d0c0b0a090807ULL);
  Pieces last = pieces_of({"\x01\x02\x03\x04\x05\x06\x07", "\x08"});
  CHECK(last.composite.read_u64() == 0x0102030405060708ULL);
  Pieces halves = pieces_of({"\x01", "\x02\x03\x04"});
  CHECK(halves.composite.read_u32_le() == 0x04030201);
  Pieces pair = pieces_of({"\x01", "\x02"});
  CHECK(pair.composite.read_u16() == 0x0102);
}

TEST_CASE("bytes are copied out across components at any index and length") {
  const std::string all = "abcdefghijklmnop";
  Pieces pieces = pieces_of({"a", "bcd", "efgh", "i", "jklmno", "p"});
  for (std::size_t index = 0; index <= all.size(); ++index) {
    for (std::size_t length = 0; index + length <= all.size(); ++length) {
      CAPTURE(index);
      CAPTURE(length);
      std::string out(length, '?');
      pieces.composite.get_bytes(index, std::as_writable_bytes(std::span(out)));
      REQUIRE(out == all.substr(index, length));
    }
  }
  for (std::size_t length = 0; length <= all.size(); ++length) {
    Pieces fresh = pieces_of({"a", "bcd", "efgh", "i", "jklmno", "p"});
    std::string out(length, '?');
    fresh.composite.read_bytes(std::as_writable_bytes(std::span(out)));
    CHECK(out == all.substr(0, length));
    CHECK(contents(fresh.composite) == all.substr(length));
  }
}

TEST_CASE("skip consumes bytes across components") {
  Pieces pieces = pieces_of({"ab", "cde", "f"});
  pieces.composite.skip(0);
  pieces.composite.skip(3);
  CHECK(contents(pieces.composite) == "def");
  CHECK(pieces.composite.component_count() == 2);
  pieces.composite.skip(3);
  CHECK(pieces.composite.empty());
  CHECK(pieces.composite.component_count() == 0);
}

TEST_CASE("a failed read leaves the composite unchanged") {
  Pieces pieces = pieces_of({"ab", "c"});
  CompositeBuffer& composite = pieces.composite;
  const Snapshot before(composite);
  std::array<std::byte, 4> out{};
  CHECK_THROWS_AS(composite.read_u32(), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.read_u64_le(), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.read_bytes(out), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.skip(4), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.get_u16(2), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.get_u8(3), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.get_bytes(4, std::span<std::byte>()), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.get_u8(std::numeric_limits<std::size_t>::max()), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.read_slice(4), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.split(4), IndexOutOfBoundsError);
  CHECK_THROWS_AS(composite.read_buffer(4), IndexOutOfBoundsError);
  CHECK(Snapshot(composite) == before);
  CHECK(composite.readable_bytes() == 3);
}

TEST_CASE("read errors name the operation, the index and the readable bytes") {
  Pieces pieces = pieces_of({"ab", "c"});
  try {
    pieces.composite.get_u32(1);
    FAIL("no exception");
  } catch (const IndexOutOfBoundsError& error) {
    CHECK(std::string(error.what()).find("get_bytes: 4 bytes at index 1 exceed the 3 readable") !=
          std::string::npos);
  }
  try {
    pieces.composite.split(9);
    FAIL("no exception");
  } catch (const IndexOutOfBoundsError& error) {
    CHECK(std::string(error.what()).find("split: 9 bytes") != std::string::npos);
  }
}

// --- zero-copy splitting -----------------------------------------------------------------------

TEST_CASE("split keeps the first bytes and returns the rest, without copying") {
  const std::string all = "abcdefghij";
  for (std::size_t count = 0; count <= all.size(); ++count) {
    CAPTURE(count);
    Pieces pieces = pieces_of({"abc", "d", "efgh", "ij"});
    pieces.composite.skip(1);  // start inside a component
    const std::string rest = all.substr(1);
    if (count > rest.size()) break;
    CompositeBuffer tail = pieces.composite.split(count);
    CHECK(contents(pieces.composite) == rest.substr(0, count));
    CHECK(contents(tail) == rest.substr(count));
    CHECK(pieces.composite.readable_bytes() == count);
    CHECK(tail.readable_bytes() == rest.size() - count);
    CHECK(points_into(pieces.composite, pieces));
    CHECK(points_into(tail, pieces));
    // Both halves stay readable on their own, in either order of use.
    if (tail.readable_bytes() > 0) CHECK(tail.read_u8() == static_cast<std::uint8_t>(rest[count]));
    if (count > 0) CHECK(pieces.composite.read_u8() == static_cast<std::uint8_t>(rest[0]));
  }
}

TEST_CASE("split inside a component shares that component's storage between both halves") {
  Pieces pieces = pieces_of({"abcdef"});
  CompositeBuffer tail = pieces.composite.split(2);
  REQUIRE(pieces.composite.component_count() == 1);
  REQUIRE(tail.component_count() == 1);
  CHECK(pieces.composite.component(0).readable_span().data() == pieces.data[0]);
  CHECK(tail.component(0).readable_span().data() == pieces.data[0] + 2);
  CHECK(tail.component(0).use_count() == 2);
  CHECK(contents(pieces.composite) == "ab");
  CHECK(contents(tail) == "cdef");
}

// The kept part of a component cut in two kept its room for writing, which was the tail's
// bytes: a write into the kept part, handed out by coalesce(), rewrote the tail. Now it is a
// slice, like every piece split() and read_slice() cut.
TEST_CASE("the kept part of a split component cannot write over the tail's bytes") {
  Buffer buffer = Buffer::allocate(64);
  buffer.write_bytes(std::string_view("abcdef"));
  CompositeBuffer head(std::move(buffer));
  CompositeBuffer tail = head.split(2);
  Buffer kept = head.coalesce();
  CHECK(kept.writable_bytes() == 0);
  CHECK_THROWS_AS(kept.write_bytes(std::string_view("XY")), sluice::CapacityExceededError);
  CHECK(text_of(kept) == "ab");
  CHECK(contents(tail) == "cdef");
}

TEST_CASE("split of everything returns an empty tail and split of nothing empties the composite") {
  Pieces pieces = pieces_of({"ab", "cd"});
  CompositeBuffer none = pieces.composite.split(4);
  CHECK(none.empty());
  CHECK(contents(pieces.composite) == "abcd");
  CompositeBuffer everything = pieces.composite.split(0);
  CHECK(pieces.composite.empty());
  CHECK(pieces.composite.component_count() == 0);
  CHECK(contents(everything) == "abcd");
  CHECK(points_into(everything, pieces));
}

TEST_CASE("a split or read_slice that runs out of memory leaves the composite unchanged") {
  // Five components: the part handed out needs more than the two inline slots, so its vector
  // allocates partway through.
  Pieces pieces = pieces_of({"abc", "de", "fgh", "ij", "k"});
  pieces.composite.skip(1);
  const Snapshot before(pieces.composite);
  const auto live_before = live_buffers();
  SUBCASE("split") {
    refuse_next_allocation = true;
    CHECK_THROWS_AS(pieces.composite.split(1), std::bad_alloc);
  }
  SUBCASE("read_slice") {
    refuse_next_allocation = true;
    CHECK_THROWS_AS(pieces.composite.read_slice(9), std::bad_alloc);
  }
  refuse_next_allocation = false;
  CHECK(pieces.composite.readable_bytes() == 10);
  CHECK(Snapshot(pieces.composite) == before);
  CHECK(live_buffers() == live_before);
}

TEST_CASE("appending a composite that runs out of memory leaves the composite unchanged") {
  // It took the components one at a time: the first fit the inline slots, the next needed the
  // heap, and the composite was left holding part of what was appended.
  CompositeBuffer composite(Buffer::copy_of("ab"));
  CompositeBuffer other;
  other.append(Buffer::copy_of("cd"));
  other.append(Buffer::copy_of("ef"));
  refuse_next_allocation = true;
  CHECK_THROWS_AS(composite.append(std::move(other)), std::bad_alloc);
  refuse_next_allocation = false;
  CHECK(composite.component_count() == 1);
  CHECK(contents(composite) == "ab");
}

TEST_CASE("read_slice removes the first bytes and returns them, without copying") {
  const std::string all = "abcdefghij";
  for (std::size_t count = 0; count <= all.size(); ++count) {
    CAPTURE(count);
    Pieces pieces = pieces_of({"abc", "d", "efgh", "ij"});
    CompositeBuffer head = pieces.composite.read_slice(count);
    CHECK(contents(head) == all.substr(0, count));
    CHECK(contents(pieces.composite) == all.substr(count));
    CHECK(points_into(head, pieces));
    CHECK(points_into(pieces.composite, pieces));
  }
}

TEST_CASE("read_buffer within one component returns a slice of it") {
  Pieces pieces = pieces_of({"abcd", "ef"});
  Buffer first = pieces.composite.read_buffer(3);
  CHECK(text_of(first) == "abc");
  CHECK(first.readable_span().data() == pieces.data[0]);
  CHECK(first.use_count() == 2);  // the composite still holds "d"
  Buffer second = pieces.composite.read_buffer(1);
  CHECK(text_of(second) == "d");
  CHECK(second.readable_span().data() == pieces.data[0] + 3);
  CHECK(pieces.composite.component_count() == 1);
  Buffer third = pieces.composite.read_buffer(2);
  CHECK(third.readable_span().data() == pieces.data[1]);
  CHECK(pieces.composite.empty());
}

TEST_CASE("read_buffer of a whole component makes its slice from the component's handle") {
  Pieces pieces = pieces_of({"abcd", "ef"});
  pieces.composite.skip(1);
  const auto live_before = live_buffers();
  Buffer rest = pieces.composite.read_buffer(3);
  CHECK(text_of(rest) == "bcd");
  CHECK(rest.readable_span().data() == pieces.data[0] + 1);
  CHECK(rest.use_count() == 1);
  CHECK(live_buffers() == live_before);
  // Shaped like any slice: indices from 0, no room to grow into the component's spare bytes.
  CHECK(rest.reader_index() == 0);
  CHECK(rest.capacity() == 3);
  CHECK(rest.max_capacity() == 3);
  CHECK_THROWS_AS(rest.write_bytes(std::string_view("x")), sluice::CapacityExceededError);
  CHECK(pieces.composite.component_count() == 1);
  CHECK(contents(pieces.composite) == "ef");
}

TEST_CASE("read_buffer across components returns a copy") {
  Pieces pieces = pieces_of({"abc", "de", "fg"});
  pieces.composite.skip(1);
  const auto live_before = live_buffers();
  Buffer copy = pieces.composite.read_buffer(4);
  CHECK(text_of(copy) == "bcde");
  CHECK(copy.use_count() == 1);
  CHECK(contents(pieces.composite) == "fg");
  // One buffer more (the copy), two fewer (the consumed components).
  CHECK(live_buffers() == live_before + 1 - 2);
}

TEST_CASE("read_buffer of nothing returns an empty buffer") {
  Pieces pieces = pieces_of({"ab"});
  Buffer none = pieces.composite.read_buffer(0);
  CHECK(none.readable_bytes() == 0);
  CHECK(contents(pieces.composite) == "ab");
}

// --- coalesce ----------------------------------------------------------------------------------

TEST_CASE("coalesce of one component returns it without copying") {
  Pieces pieces = pieces_of({"abcdef"});
  pieces.composite.skip(2);
  Buffer only = pieces.composite.coalesce();
  CHECK(text_of(only) == "cdef");
  CHECK(only.readable_span().data() == pieces.data[0] + 2);
  CHECK(only.use_count() == 1);
  CHECK(pieces.composite.empty());
  CHECK(pieces.composite.component_count() == 0);
}

TEST_CASE("coalesce of several components copies them into one buffer and empties the composite") {
  Pieces pieces = pieces_of({"ab", "cde", "f"});
  pieces.composite.skip(1);
  const auto live_before = live_buffers();
  Buffer joined = pieces.composite.coalesce();
  CHECK(text_of(joined) == "bcdef");
  CHECK(joined.use_count() == 1);
  CHECK(pieces.composite.empty());
  CHECK(pieces.composite.component_count() == 0);
  CHECK(live_buffers() == live_before + 1 - 3);
}

TEST_CASE("coalesce of an empty composite returns an empty buffer") {
  CompositeBuffer composite;
  Buffer none = composite.coalesce();
  CHECK(none.readable_bytes() == 0);
}

// --- make_contiguous ---------------------------------------------------------------------------

TEST_CASE("make_contiguous appends in place when the first component is unshared with room") {
  Buffer first = Buffer::allocate(64);
  first.write_bytes(std::string_view("ab"));
  const std::byte* data = first.readable_span().data();
  CompositeBuffer composite(std::move(first));
  composite.append(Buffer::copy_of(std::string_view("cd")));
  composite.append(Buffer::copy_of(std::string_view("ef")));
  const auto live_before = live_buffers();
  composite.make_contiguous();
  REQUIRE(composite.component_count() == 1);
  CHECK(composite.component(0).readable_span().data() == data);
  CHECK(contents(composite) == "abcdef");
  CHECK(composite.readable_bytes() == 6);
  CHECK(live_buffers() == live_before - 2);
}

TEST_CASE("make_contiguous copies when the first component is shared or has no room") {
  SUBCASE("shared") {
    Buffer first = Buffer::allocate(64);
    first.write_bytes(std::string_view("ab"));
    Buffer other = first.share();  // bytes written after "ab" would show through `other`
    CompositeBuffer composite(std::move(first));
    composite.append(Buffer::copy_of(std::string_view("cd")));
    composite.make_contiguous();
    REQUIRE(composite.component_count() == 1);
    CHECK(composite.component(0).readable_span().data() != other.readable_span().data());
    CHECK(contents(composite) == "abcd");
    CHECK(other.use_count() == 1);
    CHECK(other.writer_index() == 2);
  }
  SUBCASE("no room, with a reserve") {
    Buffer full = Buffer::allocate(3, 3);
    full.write_bytes(std::string_view("xab"));
    full.skip(1);
    const std::byte* data = full.readable_span().data();
    CompositeBuffer composite(std::move(full));
    composite.append(Buffer::copy_of(std::string_view("cd")));
    composite.append(Buffer::copy_of(std::string_view("ef")));
    composite.make_contiguous(1000);
    REQUIRE(composite.component_count() == 1);
    CHECK(contents(composite) == "abcdef");
    CHECK(composite.component(0).readable_span().data() != data);
    CHECK(composite.component(0).capacity() >= 1000);
  }
}

TEST_CASE("make_contiguous leaves a single component alone") {
  Pieces pieces = pieces_of({"abc"});
  pieces.composite.make_contiguous(100);
  CHECK(pieces.composite.component(0).readable_span().data() == pieces.data[0]);
  CompositeBuffer empty;
  empty.make_contiguous();
  CHECK(empty.empty());
}

// --- search ------------------------------------------------------------------------------------

TEST_CASE("debug builds count the bytes index_of looks at, up to the one it finds") {
  Pieces pieces = pieces_of({"ab\r", "\nc", "d\r\n"});
  const CompositeBuffer& composite = pieces.composite;
  const std::uint64_t before = CompositeBuffer::searched_bytes_on_this_thread();
  CHECK(composite.index_of(std::byte{'\n'}, 1) == 3);                        // b, \r, \n
  CHECK(composite.index_of(std::byte{'x'}, 2, 6) == CompositeBuffer::npos);  // four bytes
  CHECK(composite.index_of(std::byte{'x'}, 9) == CompositeBuffer::npos);     // none
  const std::uint64_t counted = CompositeBuffer::searched_bytes_on_this_thread() - before;
  CHECK(counted == (sluice::kDebugChecks ? 7u : 0u));
}

TEST_CASE("index_of finds bytes across component boundaries within [from, to)") {
  Pieces pieces = pieces_of({"ab\r", "\nc", "d\r\n"});
  const CompositeBuffer& composite = pieces.composite;
  CHECK(composite.index_of(std::byte{'\r'}) == 2);
  CHECK(composite.index_of(std::byte{'\n'}) == 3);
  CHECK(composite.index_of(std::byte{'\r'}, 3) == 6);
  CHECK(composite.index_of(std::byte{'\n'}, 4) == 7);
  CHECK(composite.index_of(std::byte{'\n'}, 4, 7) == CompositeBuffer::npos);
  CHECK(composite.index_of(std::byte{'c'}, 0, 5) == 4);
  CHECK(composite.index_of(std::byte{'c'}, 0, 4) == CompositeBuffer::npos);
  CHECK(composite.index_of(std::byte{'c'}, 5) == CompositeBuffer::npos);
  CHECK(composite.index_of(std::byte{'a'}, 0, 0) == CompositeBuffer::npos);
  CHECK(composite.index_of(std::byte{'x'}) == CompositeBuffer::npos);
  // Ranges past the end are cut to the readable bytes rather than refused.
  CHECK(composite.index_of(std::byte{'\n'}, 7, 1000) == 7);
  CHECK(composite.index_of(std::byte{'\n'}, 1000) == CompositeBuffer::npos);
  CHECK(composite.index_of(std::byte{'\n'}, 5, 2) == CompositeBuffer::npos);
}

TEST_CASE("index_of agrees with a plain search for every range") {
  const std::string all = "xaxbxxcxdx";
  Pieces pieces = pieces_of({"x", "axb", "xx", "c", "xdx"});
  for (std::size_t from = 0; from <= all.size(); ++from) {
    for (std::size_t to = from; to <= all.size(); ++to) {
      const std::size_t expected = all.substr(from, to - from).find('x');
      CAPTURE(from);
      CAPTURE(to);
      REQUIRE(pieces.composite.index_of(std::byte{'x'}, from, to) ==
              (expected == std::string::npos ? CompositeBuffer::npos : from + expected));
    }
  }
}

TEST_CASE("index_of counts from the first readable byte") {
  Pieces pieces = pieces_of({"abc", "abc"});
  pieces.composite.skip(1);
  CHECK(pieces.composite.index_of(std::byte{'a'}) == 2);
}

TEST_CASE("for_each_byte visits bytes in order across components and stops where told") {
  Pieces pieces = pieces_of({"he", "llo", " w", "orld"});
  pieces.composite.skip(1);
  std::string seen;
  CHECK(pieces.composite.for_each_byte([&](std::byte b) {
    seen += static_cast<char>(b);
    return true;
  }) == CompositeBuffer::npos);
  CHECK(seen == "ello world");
  seen.clear();
  const std::size_t stop = pieces.composite.for_each_byte([&](std::byte b) {
    seen += static_cast<char>(b);
    return b != std::byte{'w'};
  });
  CHECK(stop == 5);
  CHECK(seen == "ello w");
  CHECK(CompositeBuffer().for_each_byte([](std::byte) { return false; }) == CompositeBuffer::npos);
}

// --- iovecs ------------------------------------------------------------------------------------

TEST_CASE("to_iovecs lists the components in order with their lengths") {
  Pieces pieces = pieces_of({"abc", "de", "fghi"});
  pieces.composite.skip(1);
  std::array<iovec, 8> iovecs{};
  REQUIRE(pieces.composite.to_iovecs(iovecs) == 3);
  CHECK(iovecs[0].iov_base == static_cast<const void*>(pieces.data[0] + 1));
  CHECK(iovecs[0].iov_len == 2);
  CHECK(iovecs[1].iov_base == static_cast<const void*>(pieces.data[1]));
  CHECK(iovecs[1].iov_len == 2);
  CHECK(iovecs[2].iov_base == static_cast<const void*>(pieces.data[2]));
  CHECK(iovecs[2].iov_len == 4);
}

TEST_CASE("to_iovecs fills no more entries than it is given") {
  Pieces pieces = pieces_of({"abc", "de", "fghi"});
  std::array<iovec, 2> two{};
  CHECK(pieces.composite.to_iovecs(two) == 2);
  CHECK(two[1].iov_base == static_cast<const void*>(pieces.data[1]));
  CHECK(pieces.composite.to_iovecs(std::span<iovec>()) == 0);
  std::array<iovec, 1> one{};
  CHECK(CompositeBuffer().to_iovecs(one) == 0);
}

// --- release of consumed components ------------------------------------------------------------

TEST_CASE("components are released as soon as they are consumed") {
  const auto live_before = live_buffers();
  Pieces pieces = pieces_of({"ab", "cd", "ef", "gh"});
  CompositeBuffer& composite = pieces.composite;
  CHECK(live_buffers() == live_before + 4);
  composite.skip(1);
  CHECK(live_buffers() == live_before + 4);
  CHECK(composite.read_u8() == 'b');  // the fast path inside one component
  CHECK(live_buffers() == live_before + 3);
  CHECK(composite.read_u16() == 0x6364);  // exactly one component
  CHECK(live_buffers() == live_before + 2);
  composite.skip(1);
  CHECK(live_buffers() == live_before + 2);
  CHECK(composite.read_u16() == 0x6667);  // across a boundary
  CHECK(live_buffers() == live_before + 1);
  std::array<std::byte, 1> one{};
  composite.read_bytes(one);
  CHECK(live_buffers() == live_before);
  CHECK(composite.component_count() == 0);
}

TEST_CASE("clear releases every component") {
  const auto live_before = live_buffers();
  Pieces pieces = pieces_of({"ab", "cd", "ef", "gh", "ij", "kl"});
  CHECK(live_buffers() == live_before + 6);
  pieces.composite.clear();
  CHECK(pieces.composite.empty());
  CHECK(pieces.composite.component_count() == 0);
  CHECK(live_buffers() == live_before);
}

TEST_CASE("a long stream of appends and reads stays correct and releases what it reads") {
  const auto live_before = live_buffers();
  CompositeBuffer composite;
  std::uint32_t next_written = 0;
  std::uint32_t next_read = 0;
  for (int round = 0; round < 2000; ++round) {
    // Appends of 1..3 integers at a time, read back 2 at a time, so reads cross boundaries.
    Buffer buffer;
    for (int i = 0; i <= round % 3; ++i)
      buffer.write_u32(next_written++);
    composite.append(std::move(buffer));
    while (composite.readable_bytes() >= 8) {
      REQUIRE(composite.read_u32() == next_read++);
      REQUIRE(composite.read_u32() == next_read++);
    }
    REQUIRE(composite.component_count() <= 3);
  }
  composite.clear();
  CHECK(live_buffers() == live_before);
}

TEST_CASE("to_string says how many bytes in how many components") {
  Pieces pieces = pieces_of({"abc", "de", "fghijkl"});
  CHECK(pieces.composite.to_string() == "CompositeBuffer(12 bytes in 3 components)");
  CHECK(CompositeBuffer().to_string() == "CompositeBuffer(0 bytes in 0 components)");
}
