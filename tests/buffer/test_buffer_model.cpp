// Randomized model tests: long deterministic runs of random operations on Buffer handles and on
// CompositeBuffer, each checked against a plain model after every step.

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/composite_buffer.hpp"

using sluice::Buffer;
using sluice::CapacityExceededError;
using sluice::CompositeBuffer;
using sluice::IndexOutOfBoundsError;

namespace {

constexpr std::uint64_t kSeeds[] = {1, 2, 3, 42, 20240601, 0x9e3779b97f4a7c15ULL};

// splitmix64: the same sequence on every platform and standard library, unlike the <random>
// distributions.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
  bool chance(unsigned percent) { return below(100) < percent; }
  std::byte byte() { return static_cast<std::byte>(next() & 0xff); }
  std::vector<std::byte> bytes(std::size_t count) {
    std::vector<std::byte> out(count);
    for (auto& b : out)
      b = byte();
    return out;
  }
  std::endian order() { return chance(50) ? std::endian::big : std::endian::little; }
  std::size_t width() { return std::size_t{1} << below(4); }  // 1, 2, 4 or 8

 private:
  std::uint64_t state_;
};

// The bytes of `value`'s low `width` bytes in `order`.
std::vector<std::byte> encode(std::uint64_t value, std::size_t width, std::endian order) {
  std::vector<std::byte> out(width);
  for (std::size_t i = 0; i < width; ++i) {
    const std::size_t shift = order == std::endian::big ? 8 * (width - 1 - i) : 8 * i;
    out[i] = static_cast<std::byte>((value >> shift) & 0xff);
  }
  return out;
}

template <typename Bytes>
std::uint64_t decode(const Bytes& bytes, std::endian order) {
  std::uint64_t value = 0;
  const std::size_t width = bytes.size();
  for (std::size_t i = 0; i < width; ++i) {
    const std::size_t shift = order == std::endian::big ? 8 * (width - 1 - i) : 8 * i;
    value |= std::uint64_t{std::to_integer<std::uint8_t>(bytes[i])} << shift;
  }
  return value;
}

// Integer accessors of either object, by width, as 64-bit values.
template <typename Object>
std::uint64_t read_width(Object& object, std::size_t width, std::endian order) {
  switch (width) {
    case 1:
      return object.template read<std::uint8_t>(order);
    case 2:
      return object.template read<std::uint16_t>(order);
    case 4:
      return object.template read<std::uint32_t>(order);
    default:
      return object.template read<std::uint64_t>(order);
  }
}

template <typename Object>
std::uint64_t get_width(const Object& object, std::size_t index, std::size_t width,
                        std::endian order) {
  switch (width) {
    case 1:
      return object.template get<std::uint8_t>(index, order);
    case 2:
      return object.template get<std::uint16_t>(index, order);
    case 4:
      return object.template get<std::uint32_t>(index, order);
    default:
      return object.template get<std::uint64_t>(index, order);
  }
}

void write_width(Buffer& buffer, std::uint64_t value, std::size_t width, std::endian order) {
  switch (width) {
    case 1:
      return buffer.write<std::uint8_t>(static_cast<std::uint8_t>(value), order);
    case 2:
      return buffer.write<std::uint16_t>(static_cast<std::uint16_t>(value), order);
    case 4:
      return buffer.write<std::uint32_t>(static_cast<std::uint32_t>(value), order);
    default:
      return buffer.write<std::uint64_t>(value, order);
  }
}

void set_width(Buffer& buffer, std::size_t index, std::uint64_t value, std::size_t width,
               std::endian order) {
  switch (width) {
    case 1:
      return buffer.set<std::uint8_t>(index, static_cast<std::uint8_t>(value), order);
    case 2:
      return buffer.set<std::uint16_t>(index, static_cast<std::uint16_t>(value), order);
    case 4:
      return buffer.set<std::uint32_t>(index, static_cast<std::uint32_t>(value), order);
    default:
      return buffer.set<std::uint64_t>(index, value, order);
  }
}

std::uint64_t low_bytes(std::uint64_t value, std::size_t width) {
  return width == 8 ? value : value & ((std::uint64_t{1} << (8 * width)) - 1);
}

// --- the Buffer model ----------------------------------------------------------------------------
//
// Storages are modelled byte by byte (nullopt: never written, so unknown); each handle records
// which storage it is on and where its index 0 lies in it. Sharing, slicing, growth and both
// kinds of discard_read_bytes are then checked exactly: the bytes every handle sees, its
// indices, the reference count of its storage, and its address in that storage.

struct ModelStorage {
  std::vector<std::optional<std::byte>> bytes;
  const std::byte* base = nullptr;  // the real address of byte 0
};

struct ModelHandle {
  Buffer real;
  int storage = 0;
  std::size_t offset = 0;
  std::size_t reader = 0;
  std::size_t writer = 0;
  std::size_t capacity = 0;
  std::size_t max_capacity = 0;
};

const std::byte* base_of(Buffer& buffer) {
  return buffer.writable_span().data() - buffer.writer_index();
}

class BufferModel {
 public:
  explicit BufferModel(std::uint64_t seed) : random_(seed) {}

  void run(int steps) {
    for (step_ = 0; step_ < steps; ++step_) {
      if (handles_.empty() || (handles_.size() < 6 && random_.chance(2))) add_root();
      // Slices and shares pile up; drop some so that every step can check every handle.
      while (handles_.size() > 10) {
        handles_.erase(handles_.begin() +
                       static_cast<std::ptrdiff_t>(random_.below(handles_.size())));
      }
      ModelHandle& handle = handles_[random_.below(handles_.size())];
      step(handle);
      check_all();
    }
  }

 private:
  void add_root() {
    const std::size_t capacity = random_.below(200);
    std::size_t max_capacity = capacity + random_.below(3000);
    if (random_.chance(10)) max_capacity = Buffer::kMaxCapacity;
    ModelHandle handle{Buffer::allocate(capacity, max_capacity)};
    handle.capacity = handle.real.capacity();
    handle.max_capacity = max_capacity;
    REQUIRE(handle.capacity >= capacity);
    REQUIRE(handle.capacity <= max_capacity);
    handle.storage = new_storage(handle.capacity, base_of(handle.real));
    handles_.push_back(std::move(handle));
  }

  int new_storage(std::size_t capacity, const std::byte* base) {
    storages_[next_storage_] = ModelStorage{std::vector<std::optional<std::byte>>(capacity), base};
    return next_storage_++;
  }

  std::size_t use_count(int storage) const {
    return static_cast<std::size_t>(
        std::count_if(handles_.begin(), handles_.end(),
                      [&](const ModelHandle& h) { return h.storage == storage; }));
  }

  std::optional<std::byte>& at(ModelHandle& handle, std::size_t index) {
    return storages_.at(handle.storage).bytes.at(handle.offset + index);
  }

  // An index that is sometimes out of range, occasionally absurdly so.
  std::size_t random_index(std::size_t limit) {
    if (random_.chance(2)) return std::numeric_limits<std::size_t>::max() - random_.below(8);
    return random_.below(limit + 10);
  }

  // The model of ensure_writable(count) for a count that needs growth and is allowed.
  void model_growth(ModelHandle& handle, std::size_t count) {
    const std::size_t capacity = handle.real.capacity();
    REQUIRE(capacity >= handle.writer + count);
    REQUIRE(capacity <= handle.max_capacity);
    std::vector<std::optional<std::byte>> bytes(capacity);
    for (std::size_t i = 0; i < handle.writer; ++i)
      bytes[i] = at(handle, i);
    handle.storage = new_storage(capacity, base_of(handle.real));
    storages_.at(handle.storage).bytes = std::move(bytes);
    handle.offset = 0;
    handle.capacity = capacity;
  }

  // Writes `bytes` with `write` (which must append them, growing if needed) and checks the
  // outcome against the model: an error for a write past max_capacity, else growth as needed.
  template <typename Write>
  void model_write(ModelHandle& handle, const std::vector<std::byte>& bytes, Write&& write) {
    const std::size_t count = bytes.size();
    if (count > handle.max_capacity - handle.writer) {
      CHECK_THROWS_AS(write(), CapacityExceededError);
      return;
    }
    const bool grows = count > handle.capacity - handle.writer;
    write();
    if (grows) model_growth(handle, count);
    for (std::size_t i = 0; i < count; ++i)
      at(handle, handle.writer + i) = bytes[i];
    handle.writer += count;
  }

  void step(ModelHandle& handle) {
    Buffer& real = handle.real;
    const std::size_t readable = handle.writer - handle.reader;
    switch (random_.below(20)) {
      case 0:
      case 1: {  // write an integer
        const std::size_t width = random_.width();
        const std::endian order = random_.order();
        const std::uint64_t value = random_.next();
        model_write(handle, encode(value, width, order),
                    [&] { write_width(real, value, width, order); });
        break;
      }
      case 2:
      case 3: {  // read an integer
        const std::size_t width = random_.width();
        const std::endian order = random_.order();
        if (width > readable) {
          CHECK_THROWS_AS(read_width(real, width, order), IndexOutOfBoundsError);
          break;
        }
        std::vector<std::optional<std::byte>> expected;
        for (std::size_t i = 0; i < width; ++i)
          expected.push_back(at(handle, handle.reader + i));
        const std::uint64_t value = read_width(real, width, order);
        if (std::all_of(expected.begin(), expected.end(), [](auto b) { return b.has_value(); })) {
          std::vector<std::byte> known;
          for (auto b : expected)
            known.push_back(*b);
          CHECK(value == decode(known, order));
        }
        handle.reader += width;
        break;
      }
      case 4: {                            // write bytes
        if (handle.writer > 16384) break;  // keep the buffers small enough to check every step
        const auto bytes =
            random_.bytes(random_.chance(10) ? random_.below(2000) : random_.below(40));
        model_write(handle, bytes, [&] { real.write_bytes(bytes); });
        break;
      }
      case 5: {  // read bytes
        const std::size_t count = random_.below(readable + 4);
        std::vector<std::byte> out(count);
        if (count > readable) {
          CHECK_THROWS_AS(real.read_bytes(out), IndexOutOfBoundsError);
          break;
        }
        real.read_bytes(out);
        for (std::size_t i = 0; i < count; ++i) {
          if (auto known = at(handle, handle.reader + i)) REQUIRE(out[i] == *known);
        }
        handle.reader += count;
        break;
      }
      case 6: {  // skip
        const std::size_t count = random_.below(readable + 4);
        if (count > readable) {
          CHECK_THROWS_AS(real.skip(count), IndexOutOfBoundsError);
        } else {
          real.skip(count);
          handle.reader += count;
        }
        break;
      }
      case 7: {  // discard_read_bytes
        real.discard_read_bytes();
        if (handle.reader == 0) break;
        if (use_count(handle.storage) > 1) {
          handle.offset += handle.reader;
          handle.capacity -= handle.reader;
          handle.max_capacity -= handle.reader;
        } else {
          for (std::size_t i = 0; i < readable; ++i)
            at(handle, i) = at(handle, handle.reader + i);
        }
        handle.writer = readable;
        handle.reader = 0;
        break;
      }
      case 8: {  // slice
        const std::size_t index = random_index(handle.capacity);
        const std::size_t length = random_.below(handle.capacity + 4);
        if (index > handle.capacity || length > handle.capacity - index) {
          CHECK_THROWS_AS(real.slice(index, length), IndexOutOfBoundsError);
          break;
        }
        add_handle(real.slice(index, length), handle, handle.offset + index, 0, length, length,
                   length);
        break;
      }
      case 9: {  // read_slice
        const std::size_t length = random_.below(readable + 4);
        if (length > readable) {
          CHECK_THROWS_AS(real.read_slice(length), IndexOutOfBoundsError);
          break;
        }
        const std::size_t offset = handle.offset + handle.reader;
        handle.reader += length;
        add_handle(real.read_slice(length), handle, offset, 0, length, length, length);
        break;
      }
      case 10: {  // share
        add_handle(real.share(), handle, handle.offset, handle.reader, handle.writer,
                   handle.capacity, handle.max_capacity);
        break;
      }
      case 11: {  // ensure_writable
        const std::size_t count = random_.chance(3)
                                      ? std::numeric_limits<std::size_t>::max()
                                      : random_.below(handle.writer > 16384 ? 8 : 600);
        if (count <= handle.capacity - handle.writer) {
          real.ensure_writable(count);
        } else if (count > handle.max_capacity - handle.writer) {
          CHECK_THROWS_AS(real.ensure_writable(count), CapacityExceededError);
        } else {
          real.ensure_writable(count);
          model_growth(handle, count);
        }
        break;
      }
      case 12:
      case 13: {  // get an integer at a random index
        const std::size_t width = random_.width();
        const std::endian order = random_.order();
        const std::size_t index = random_index(handle.capacity);
        if (index > handle.capacity || width > handle.capacity - index) {
          CHECK_THROWS_AS(get_width(real, index, width, order), IndexOutOfBoundsError);
          break;
        }
        const std::uint64_t value = get_width(real, index, width, order);
        const auto expected = encode(value, width, order);
        for (std::size_t i = 0; i < width; ++i) {
          if (auto known = at(handle, index + i)) REQUIRE(expected[i] == *known);
        }
        break;
      }
      case 14: {  // set an integer at a random index
        const std::size_t width = random_.width();
        const std::endian order = random_.order();
        const std::size_t index = random_index(handle.capacity);
        const std::uint64_t value = random_.next();
        if (index > handle.capacity || width > handle.capacity - index) {
          CHECK_THROWS_AS(set_width(real, index, value, width, order), IndexOutOfBoundsError);
          break;
        }
        set_width(real, index, value, width, order);
        const auto bytes = encode(value, width, order);
        for (std::size_t i = 0; i < width; ++i)
          at(handle, index + i) = bytes[i];
        CHECK(get_width(real, index, width, order) == low_bytes(value, width));
        break;
      }
      case 15: {  // set_reader_index / set_writer_index / set_indices
        const std::size_t index = random_index(handle.capacity);
        switch (random_.below(3)) {
          case 0:
            if (index > handle.writer) {
              CHECK_THROWS_AS(real.set_reader_index(index), IndexOutOfBoundsError);
            } else {
              real.set_reader_index(index);
              handle.reader = index;
            }
            break;
          case 1:
            if (index < handle.reader || index > handle.capacity) {
              CHECK_THROWS_AS(real.set_writer_index(index), IndexOutOfBoundsError);
            } else {
              real.set_writer_index(index);
              handle.writer = index;
            }
            break;
          default: {
            const std::size_t reader = random_index(handle.capacity);
            if (reader > index || index > handle.capacity) {
              CHECK_THROWS_AS(real.set_indices(reader, index), IndexOutOfBoundsError);
            } else {
              real.set_indices(reader, index);
              handle.reader = reader;
              handle.writer = index;
            }
          }
        }
        break;
      }
      case 16: {  // index_of a byte that is probably there
        std::byte value = random_.byte();
        if (readable > 0 && random_.chance(70)) {
          if (auto known = at(handle, handle.reader + random_.below(readable))) value = *known;
        }
        std::size_t expected = Buffer::npos;
        bool decidable = true;
        for (std::size_t i = handle.reader; i < handle.writer && decidable; ++i) {
          const auto known = at(handle, i);
          if (!known) {
            decidable = false;
          } else if (*known == value) {
            expected = i;
            break;
          }
        }
        const std::size_t found = real.index_of(value);
        if (decidable) CHECK(found == expected);
        break;
      }
      case 17: {  // drop a handle
        if (handles_.size() > 1 || random_.chance(30)) {
          const std::size_t index = static_cast<std::size_t>(&handle - handles_.data());
          handles_.erase(handles_.begin() + static_cast<std::ptrdiff_t>(index));
        }
        break;
      }
      case 18: {  // write through writable_span, publish with advance_writer
        const std::size_t room = handle.capacity - handle.writer;
        const std::size_t count = random_.below(room + 3);
        if (count > room) {
          CHECK_THROWS_AS(real.advance_writer(count), IndexOutOfBoundsError);
          break;
        }
        const auto bytes = random_.bytes(count);
        std::copy(bytes.begin(), bytes.end(), real.writable_span().begin());
        real.advance_writer(count);
        for (std::size_t i = 0; i < count; ++i)
          at(handle, handle.writer + i) = bytes[i];
        handle.writer += count;
        break;
      }
      default: {  // clear, now and then, so that buffers get reused
        if (random_.chance(30)) {
          real.clear();
          handle.reader = handle.writer = 0;
        }
        break;
      }
    }
  }

  void add_handle(Buffer real, const ModelHandle& from, std::size_t offset, std::size_t reader,
                  std::size_t writer, std::size_t capacity, std::size_t max_capacity) {
    ModelHandle handle{std::move(real), from.storage, offset,      reader,
                       writer,          capacity,     max_capacity};
    handles_.push_back(std::move(handle));
  }

  void check_all() {
    for (std::size_t h = 0; h < handles_.size(); ++h) {
      ModelHandle& handle = handles_[h];
      Buffer& real = handle.real;
      CAPTURE(step_);
      CAPTURE(h);
      REQUIRE(real.reader_index() == handle.reader);
      REQUIRE(real.writer_index() == handle.writer);
      REQUIRE(real.capacity() == handle.capacity);
      REQUIRE(real.max_capacity() == handle.max_capacity);
      REQUIRE(real.use_count() == use_count(handle.storage));
      REQUIRE(base_of(real) == storages_.at(handle.storage).base + handle.offset);
      const auto span = real.readable_span();
      for (std::size_t i = 0; i < span.size(); ++i) {
        if (auto known = at(handle, handle.reader + i)) REQUIRE(span[i] == *known);
      }
    }
    // Storages no handle refers to are gone; forget them so the model stays small.
    std::erase_if(storages_, [&](const auto& entry) { return use_count(entry.first) == 0; });
  }

  Random random_;
  int step_ = 0;
  int next_storage_ = 0;
  std::vector<ModelHandle> handles_;
  std::map<int, ModelStorage> storages_;
};

// --- the CompositeBuffer model -------------------------------------------------------------------

class CompositeModel {
 public:
  explicit CompositeModel(std::uint64_t seed) : random_(seed) {}

  void run(int steps) {
    for (step_ = 0; step_ < steps; ++step_) {
      step();
      check();
    }
  }

 private:
  // A buffer holding `bytes` as its readable bytes, in one of the shapes a composite meets:
  // fresh, with consumed bytes in front, with room behind, or a slice of a larger buffer.
  Buffer make_buffer(const std::vector<std::byte>& bytes) {
    switch (random_.below(4)) {
      case 0:
        return Buffer::copy_of(bytes);
      case 1: {
        Buffer buffer;
        buffer.write_bytes(random_.bytes(random_.below(5)));
        buffer.skip(buffer.readable_bytes());
        buffer.write_bytes(bytes);
        return buffer;
      }
      case 2: {
        Buffer buffer = Buffer::allocate(bytes.size() + random_.below(64));
        buffer.write_bytes(bytes);
        return buffer;
      }
      default: {
        Buffer whole;
        whole.write_bytes(random_.bytes(random_.below(5)));
        const std::size_t start = whole.writer_index();
        whole.write_bytes(bytes);
        whole.write_bytes(random_.bytes(random_.below(5)));
        return whole.slice(start, bytes.size());
      }
    }
  }

  void append_random() {
    const auto bytes =
        random_.bytes(random_.chance(10) ? 0 : 1 + random_.below(random_.chance(20) ? 200 : 12));
    real_.append(make_buffer(bytes));
    model_.insert(model_.end(), bytes.begin(), bytes.end());
  }

  std::size_t random_count() {
    if (random_.chance(8)) return model_.size() + 1 + random_.below(4);  // too many
    return random_.below(model_.size() + 1);
  }

  std::string model_text(std::size_t from, std::size_t count) const {
    std::string out;
    for (std::size_t i = from; i < from + count; ++i)
      out += static_cast<char>(model_[i]);
    return out;
  }

  static std::string text_of(const CompositeBuffer& composite) {
    std::string out(composite.readable_bytes(), '\0');
    composite.get_bytes(0, std::as_writable_bytes(std::span(out)));
    return out;
  }

  static std::string text_of(const Buffer& buffer) { return std::string(buffer.readable_view()); }

  // Expects `operation` to fail and to leave the composite as it was.
  template <typename Operation>
  void expect_refused(Operation&& operation) {
    const std::string before = text_of(real_);
    const std::size_t components = real_.component_count();
    CHECK_THROWS_AS(operation(), IndexOutOfBoundsError);
    REQUIRE(text_of(real_) == before);
    REQUIRE(real_.component_count() == components);
  }

  void step() {
    if (model_.size() > 3000) {
      real_.clear();
      model_.clear();
    }
    switch (random_.below(17)) {
      case 0:
      case 1:
      case 2:
        append_random();
        break;
      case 3: {  // append a composite
        CompositeBuffer other;
        std::vector<std::byte> all;
        for (std::size_t i = random_.below(4); i > 0; --i) {
          const auto bytes = random_.bytes(random_.below(10));
          other.append(make_buffer(bytes));
          all.insert(all.end(), bytes.begin(), bytes.end());
        }
        real_.append(std::move(other));
        model_.insert(model_.end(), all.begin(), all.end());
        break;
      }
      case 4:
      case 5: {  // read an integer
        const std::size_t width = random_.width();
        const std::endian order = random_.order();
        if (width > model_.size()) {
          expect_refused([&] { read_width(real_, width, order); });
          break;
        }
        std::vector<std::byte> bytes(model_.begin(),
                                     model_.begin() + static_cast<std::ptrdiff_t>(width));
        REQUIRE(read_width(real_, width, order) == decode(bytes, order));
        model_.erase(model_.begin(), model_.begin() + static_cast<std::ptrdiff_t>(width));
        break;
      }
      case 6: {  // get an integer at a random index
        const std::size_t width = random_.width();
        const std::endian order = random_.order();
        const std::size_t index = random_.chance(3) ? std::numeric_limits<std::size_t>::max() - 1
                                                    : random_.below(model_.size() + 4);
        if (index > model_.size() || width > model_.size() - index) {
          expect_refused([&] { get_width(real_, index, width, order); });
          break;
        }
        std::vector<std::byte> bytes(model_.begin() + static_cast<std::ptrdiff_t>(index),
                                     model_.begin() + static_cast<std::ptrdiff_t>(index + width));
        REQUIRE(get_width(real_, index, width, order) == decode(bytes, order));
        break;
      }
      case 7: {  // read bytes or skip
        const std::size_t count = random_count();
        const bool skip = random_.chance(50);
        std::vector<std::byte> out(count);
        if (count > model_.size()) {
          expect_refused([&] { skip ? real_.skip(count) : real_.read_bytes(out); });
          break;
        }
        if (skip) {
          real_.skip(count);
        } else {
          real_.read_bytes(out);
          REQUIRE(std::equal(out.begin(), out.end(), model_.begin()));
        }
        model_.erase(model_.begin(), model_.begin() + static_cast<std::ptrdiff_t>(count));
        break;
      }
      case 8:
      case 9: {  // split, then keep one part (or put the tail back)
        const std::size_t count = random_count();
        if (count > model_.size()) {
          expect_refused([&] { real_.split(count); });
          break;
        }
        CompositeBuffer tail = real_.split(count);
        REQUIRE(real_.readable_bytes() == count);
        REQUIRE(text_of(tail) == model_text(count, model_.size() - count));
        switch (random_.below(3)) {
          case 0:  // drop the tail
            model_.erase(model_.begin() + static_cast<std::ptrdiff_t>(count), model_.end());
            break;
          case 1:  // put it back
            real_.append(std::move(tail));
            break;
          default:  // keep the tail, drop the head
            real_ = std::move(tail);
            model_.erase(model_.begin(), model_.begin() + static_cast<std::ptrdiff_t>(count));
        }
        break;
      }
      case 10: {  // read_slice, then maybe append it at the end
        const std::size_t count = random_count();
        if (count > model_.size()) {
          expect_refused([&] { real_.read_slice(count); });
          break;
        }
        CompositeBuffer head = real_.read_slice(count);
        REQUIRE(text_of(head) == model_text(0, count));
        std::deque<std::byte> taken(model_.begin(),
                                    model_.begin() + static_cast<std::ptrdiff_t>(count));
        model_.erase(model_.begin(), model_.begin() + static_cast<std::ptrdiff_t>(count));
        if (random_.chance(50)) {
          real_.append(std::move(head));
          model_.insert(model_.end(), taken.begin(), taken.end());
        }
        break;
      }
      case 11: {  // read_buffer, then maybe append it at the end
        const std::size_t count = random_count();
        if (count > model_.size()) {
          expect_refused([&] { real_.read_buffer(count); });
          break;
        }
        Buffer head = real_.read_buffer(count);
        REQUIRE(text_of(head) == model_text(0, count));
        std::deque<std::byte> taken(model_.begin(),
                                    model_.begin() + static_cast<std::ptrdiff_t>(count));
        model_.erase(model_.begin(), model_.begin() + static_cast<std::ptrdiff_t>(count));
        if (random_.chance(50)) {
          real_.append(std::move(head));
          model_.insert(model_.end(), taken.begin(), taken.end());
        }
        break;
      }
      case 12: {  // coalesce, and carry on with the result as the only component
        Buffer all = real_.coalesce();
        REQUIRE(real_.empty());
        REQUIRE(real_.component_count() == 0);
        REQUIRE(text_of(all) == model_text(0, model_.size()));
        real_.append(std::move(all));
        break;
      }
      case 13: {  // index_of
        std::byte value = random_.byte();
        if (!model_.empty() && random_.chance(70)) value = model_[random_.below(model_.size())];
        const std::size_t from = random_.below(model_.size() + 3);
        const std::size_t to =
            random_.chance(30) ? CompositeBuffer::npos : random_.below(model_.size() + 3);
        std::size_t expected = CompositeBuffer::npos;
        for (std::size_t i = from; i < std::min(to, model_.size()); ++i) {
          if (model_[i] == value) {
            expected = i;
            break;
          }
        }
        REQUIRE(real_.index_of(value, from, to) == expected);
        break;
      }
      case 14: {  // for_each_byte up to a byte
        const std::byte stop = model_.empty() ? std::byte{0} : model_[random_.below(model_.size())];
        std::size_t visited = 0;
        const std::size_t found = real_.for_each_byte([&](std::byte b) {
          REQUIRE(b == model_[visited]);
          ++visited;
          return b != stop;
        });
        const auto it = std::find(model_.begin(), model_.end(), stop);
        REQUIRE(found == (it == model_.end() ? CompositeBuffer::npos
                                             : static_cast<std::size_t>(it - model_.begin())));
        break;
      }
      case 15: {  // make_contiguous: one component, the same bytes
        real_.make_contiguous(random_.chance(50) ? 0 : random_.below(5000));
        REQUIRE(real_.component_count() <= 1);
        break;
      }
      default: {
        if (random_.chance(5)) {
          real_.clear();
          model_.clear();
        }
        break;
      }
    }
  }

  void check() {
    CAPTURE(step_);
    REQUIRE(real_.readable_bytes() == model_.size());
    REQUIRE(real_.empty() == model_.empty());
    std::vector<std::byte> all(model_.size());
    real_.get_bytes(0, all);
    REQUIRE(std::equal(all.begin(), all.end(), model_.begin()));
    // The components add up to the whole, none of them empty, and so do the iovecs.
    std::vector<iovec> iovecs(real_.component_count() + 1);
    REQUIRE(real_.to_iovecs(iovecs) == real_.component_count());
    std::size_t total = 0;
    for (std::size_t i = 0; i < real_.component_count(); ++i) {
      const auto span = real_.component(i).readable_span();
      REQUIRE(!span.empty());
      REQUIRE(iovecs[i].iov_base == static_cast<const void*>(span.data()));
      REQUIRE(iovecs[i].iov_len == span.size());
      total += span.size();
    }
    REQUIRE(total == model_.size());
  }

  Random random_;
  int step_ = 0;
  CompositeBuffer real_;
  std::deque<std::byte> model_;
};

}  // namespace

TEST_CASE("random operations on buffer handles agree with the model") {
  for (std::uint64_t seed : kSeeds) {
    CAPTURE(seed);
    BufferModel model(seed);
    model.run(4000);
  }
}

TEST_CASE("random operations on a composite buffer agree with the model") {
  for (std::uint64_t seed : kSeeds) {
    CAPTURE(seed);
    CompositeModel model(seed);
    model.run(4000);
  }
}
