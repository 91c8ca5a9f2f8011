#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/codec/delimiter_based_frame_decoder.hpp"

using namespace sluice;
using sluice::test::bytes;
using Frames = std::vector<std::string>;

namespace {

Ref<EmbeddedChannel> fixed(std::size_t length) {
  return EmbeddedChannel::create([=](Pipeline& p) {
    p.add_last("frames", std::make_unique<FixedLengthFrameDecoder>(length));
  });
}

}  // namespace

TEST_CASE("the stream is cut into frames of exactly the length, the rest waits") {
  auto channel = fixed(3);
  channel->write_inbound(bytes("abcdefgh"));
  CHECK(test::inbound_texts(*channel) == Frames{"abc", "def"});
  auto& decoder = *static_cast<FixedLengthFrameDecoder*>(channel->pipeline().get("frames"));
  CHECK(decoder.cumulated_bytes() == 2);
  channel->write_inbound(bytes("i"));
  CHECK(test::inbound_texts(*channel) == Frames{"ghi"});
}

TEST_CASE("a fixed-length frame inside one read is a slice of it") {
  auto channel = fixed(2);
  Buffer input = bytes("abcd");
  const std::byte* start = input.readable_span().data();
  channel->write_inbound(std::move(input));
  Message first = channel->read_inbound();
  Message second = channel->read_inbound();
  REQUIRE(second.is<Buffer>());
  CHECK(first.as<Buffer>().readable_span().data() == start);
  CHECK(second.as<Buffer>().readable_span().data() == start + 2);
}

TEST_CASE("input split at every byte position gives the same fixed-length frames") {
  const std::string input = "0123456789abcdefghij";
  for (std::size_t i = 1; i < input.size(); ++i) {
    for (std::size_t j = i; j < input.size(); ++j) {
      CAPTURE(i);
      CAPTURE(j);
      auto channel = fixed(4);
      test::write_in_pieces(*channel, input, {i, j});
      CHECK(test::inbound_texts(*channel) == Frames{"0123", "4567", "89ab", "cdef", "ghij"});
    }
  }
}

TEST_CASE("a zero frame length is refused") {
  CHECK_THROWS_AS(FixedLengthFrameDecoder(0), std::invalid_argument);
}

// A partial frame kept every read it arrived in as a component: a frame sent a byte per read
// held one read buffer per byte until it was complete. It is copied when taken anyway.
TEST_CASE("a fixed-length frame trickling in a byte per read is not held as one buffer per read") {
  auto channel = fixed(4096);
  const auto before = PooledAllocator::metrics().live_buffers;
  std::string expected;
  for (int i = 0; i < 4095; ++i) {
    const char byte = static_cast<char>('a' + i % 26);
    expected += byte;
    Buffer read = Buffer::allocate(64);
    read.write_bytes(std::string_view(&byte, 1));
    channel->write_inbound(std::move(read));
  }
  CHECK(PooledAllocator::metrics().live_buffers - before < 64);
  channel->write_inbound(bytes("!"));
  CHECK(test::inbound_texts(*channel) == Frames{expected + "!"});
}

// The decoder kept ByteToMessageDecoder's 64 MiB limit on undecoded bytes, so a frame length
// above it could never be decoded: the frame was refused as cumulation_limit while arriving.
TEST_CASE("a frame longer than the default cumulation limit is decoded") {
  auto channel = fixed(test::kPastDefaultCumulation);
  channel->write_inbound(test::filled(test::kPastDefaultCumulation - 1));
  CHECK(channel->take_errors().empty());
  CHECK(channel->is_open());
  channel->write_inbound(test::filled(1));
  CHECK(channel->read_inbound().bytes() == test::kPastDefaultCumulation);
  CHECK(channel->take_errors().empty());
}
