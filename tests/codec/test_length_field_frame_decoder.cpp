#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/length_field_frame_decoder.hpp"
#include "sluice/codec/length_field_prepender.hpp"

using namespace sluice;
using sluice::test::bytes;
using sluice::test::text_of;

namespace {

// `value` as a `length`-byte field in `order`.
std::string field(std::uint64_t value, std::size_t length, std::endian order = std::endian::big) {
  std::string out(length, '\0');
  for (std::size_t i = 0; i < length; ++i) {
    const auto byte = static_cast<char>((value >> (8 * i)) & 0xff);
    out[order == std::endian::big ? length - 1 - i : i] = byte;
  }
  return out;
}

Ref<EmbeddedChannel> decoder_channel(const LengthFieldFrameOptions& options) {
  return EmbeddedChannel::create([options](Pipeline& p) {
    p.add_last("frames", std::make_unique<LengthFieldBasedFrameDecoder>(options));
  });
}

LengthFieldBasedFrameDecoder& decoder_of(EmbeddedChannel& channel) {
  return *static_cast<LengthFieldBasedFrameDecoder*>(channel.pipeline().get("frames"));
}

// The frames `input` decodes to, written in one piece.
std::vector<std::string> decode_whole(const LengthFieldFrameOptions& options,
                                      const std::string& input) {
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes(input));
  return test::inbound_texts(*channel);
}

std::vector<std::error_code> codes(std::initializer_list<CodecErrc> values) {
  std::vector<std::error_code> out;
  for (CodecErrc value : values)
    out.push_back(make_error_code(value));
  return out;
}

const std::string kHello = "HELLO, WORLD";  // 12 bytes, as in Netty's documentation

}  // namespace

// --- Netty's classic examples (LengthFieldBasedFrameDecoder javadoc) ----------------------------

TEST_CASE("a 2-byte length field without stripping gives the whole frame, header included") {
  LengthFieldFrameOptions options;
  options.length_field_length = 2;
  const std::string frame = field(12, 2) + kHello;
  CHECK(decode_whole(options, frame) == std::vector<std::string>{frame});
}

TEST_CASE("stripping the 2-byte header gives just the payload") {
  LengthFieldFrameOptions options;
  options.length_field_length = 2;
  options.initial_bytes_to_strip = 2;
  CHECK(decode_whole(options, field(12, 2) + kHello) == std::vector<std::string>{kHello});
}

TEST_CASE("a length that counts its own field is corrected by a negative adjustment") {
  LengthFieldFrameOptions options;
  options.length_field_length = 2;
  options.length_adjustment = -2;
  const std::string frame = field(14, 2) + kHello;
  CHECK(decode_whole(options, frame) == std::vector<std::string>{frame});
}

TEST_CASE("a 3-byte length field may sit behind a fixed header at an offset") {
  LengthFieldFrameOptions options;
  options.length_field_offset = 2;
  options.length_field_length = 3;
  const std::string frame = "\xCA\xFE" + field(12, 3) + kHello;
  CHECK(decode_whole(options, frame) == std::vector<std::string>{frame});
}

TEST_CASE("a positive adjustment covers a header between the length field and the payload") {
  LengthFieldFrameOptions options;
  options.length_field_length = 3;
  options.length_adjustment = 2;
  const std::string frame = field(12, 3) + "\xCA\xFE" + kHello;
  CHECK(decode_whole(options, frame) == std::vector<std::string>{frame});
}

TEST_CASE("offset, positive adjustment and strip together take a header apart") {
  LengthFieldFrameOptions options;
  options.length_field_offset = 1;
  options.length_field_length = 2;
  options.length_adjustment = 1;
  options.initial_bytes_to_strip = 3;
  const std::string frame = "\xCA" + field(12, 2) + "\xFE" + kHello;
  CHECK(decode_whole(options, frame) == std::vector<std::string>{"\xFE" + kHello});
}

TEST_CASE("offset, negative adjustment and strip handle a length that counts the whole frame") {
  LengthFieldFrameOptions options;
  options.length_field_offset = 1;
  options.length_field_length = 2;
  options.length_adjustment = -3;
  options.initial_bytes_to_strip = 3;
  const std::string frame = "\xCA" + field(16, 2) + "\xFE" + kHello;
  CHECK(decode_whole(options, frame) == std::vector<std::string>{"\xFE" + kHello});
}

// --- parameters -----------------------------------------------------------------------------

TEST_CASE("length fields of 1, 2, 3, 4 and 8 bytes are read in both byte orders") {
  for (const std::endian order : {std::endian::big, std::endian::little}) {
    for (const std::size_t length : {1u, 2u, 3u, 4u, 8u}) {
      CAPTURE(length);
      CAPTURE(order == std::endian::big);
      // Values with two or more non-zero bytes, so that a wrong byte order shows.
      const std::uint64_t size = length == 1 ? 200 : length == 2 ? 0x0102 : 0x010203;
      LengthFieldFrameOptions options;
      options.max_frame_length = 1 << 20;
      options.length_field_length = length;
      options.byte_order = order;
      options.initial_bytes_to_strip = length;
      std::string payload(size, 'p');
      payload.front() = '<';
      payload.back() = '>';
      const auto frames = decode_whole(
          options, field(size, length, order) + payload + field(1, length, order) + "!");
      REQUIRE(frames.size() == 2);
      CHECK(frames[0] == payload);
      CHECK(frames[1] == "!");
    }
  }
}

TEST_CASE("a frame of length zero is an empty frame") {
  LengthFieldFrameOptions options;
  options.length_field_length = 1;
  options.initial_bytes_to_strip = 1;
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes(field(0, 1) + field(1, 1) + "x"));
  Message empty = channel->read_inbound();
  REQUIRE(empty.is<Buffer>());
  CHECK(empty.as<Buffer>().readable_bytes() == 0);
  CHECK(text_of(channel->read_inbound()) == "x");
}

TEST_CASE("a contiguous frame inside one read is a slice of it, and a copy only when straddling") {
  LengthFieldFrameOptions options;
  options.length_field_length = 2;
  options.initial_bytes_to_strip = 2;
  auto channel = decoder_channel(options);
  Buffer first = bytes(field(5, 2) + "hello" + field(5, 2) + "wo");
  Buffer second = bytes("rld");
  const std::byte* first_start = first.readable_span().data();
  const std::byte* second_start = second.readable_span().data();
  channel->write_inbound(std::move(first), std::move(second));
  Message inside = channel->read_inbound();
  Message straddling = channel->read_inbound();
  REQUIRE(inside.is<Buffer>());
  REQUIRE(straddling.is<Buffer>());
  CHECK(inside.as<Buffer>().readable_span().data() == first_start + 2);
  CHECK(text_of(straddling) == "world");
  const std::byte* copy = straddling.as<Buffer>().readable_span().data();
  CHECK((copy < first_start || copy >= first_start + 11));
  CHECK((copy < second_start || copy >= second_start + 3));
}

TEST_CASE("composite frames are never copied, even when they straddle reads") {
  LengthFieldFrameOptions options;
  options.length_field_length = 2;
  options.initial_bytes_to_strip = 2;
  options.contiguous_frames = false;
  auto channel = decoder_channel(options);
  Buffer first = bytes(field(5, 2) + "wo");
  Buffer second = bytes("rld");
  const std::byte* first_start = first.readable_span().data();
  const std::byte* second_start = second.readable_span().data();
  channel->write_inbound(std::move(first), std::move(second));
  Message frame = channel->read_inbound();
  REQUIRE(frame.is<CompositeBuffer>());
  const auto& composite = frame.as<CompositeBuffer>();
  REQUIRE(composite.component_count() == 2);
  CHECK(composite.component(0).readable_span().data() == first_start + 2);
  CHECK(composite.component(1).readable_span().data() == second_start);
  CHECK(text_of(frame) == "world");
}

TEST_CASE("input split at every byte position gives the same frames") {
  struct Case {
    const char* name;
    LengthFieldFrameOptions options;
    std::string input;
  };
  std::vector<Case> cases;
  {
    LengthFieldFrameOptions o;
    o.length_field_length = 2;
    o.initial_bytes_to_strip = 2;
    cases.push_back({"2-byte strip", o, field(3, 2) + "abc" + field(0, 2) + field(5, 2) + "defgh"});
  }
  {
    LengthFieldFrameOptions o;
    o.length_field_offset = 1;
    o.length_field_length = 3;
    o.length_adjustment = 1;
    o.initial_bytes_to_strip = 4;
    o.byte_order = std::endian::little;
    cases.push_back({"offset little-endian adjusted", o,
                     "T" + field(2, 3, std::endian::little) + "Vab" + "U" +
                         field(4, 3, std::endian::little) + "Wcdef"});
  }
  {
    LengthFieldFrameOptions o;
    o.length_field_length = 8;
    o.length_adjustment = -8;
    o.contiguous_frames = false;
    cases.push_back({"8-byte composite", o, field(12, 8) + "abcd" + field(9, 8) + "e"});
  }
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const auto expected = decode_whole(c.options, c.input);
    REQUIRE(expected.size() >= 2);
    for (std::size_t i = 1; i < c.input.size(); ++i) {
      for (std::size_t j = i; j < c.input.size(); ++j) {
        CAPTURE(i);
        CAPTURE(j);
        auto channel = decoder_channel(c.options);
        test::write_in_pieces(*channel, c.input, {i, j});
        CHECK(test::inbound_texts(*channel) == expected);
        CHECK(channel->take_errors().empty());
      }
    }
    auto channel = decoder_channel(c.options);
    test::write_byte_by_byte(*channel, c.input);
    CHECK(test::inbound_texts(*channel) == expected);
  }
}

// --- too long -----------------------------------------------------------------------------

TEST_CASE("with fail_fast a too-long frame is reported when its length is read, and closes") {
  LengthFieldFrameOptions options;
  options.max_frame_length = 16;
  options.length_field_length = 2;
  auto channel = decoder_channel(options);
  auto& decoder = decoder_of(*channel);
  channel->write_inbound(bytes(field(100, 2) + "0123"));
  CHECK(decoder.cumulated_bytes() == 0);
  CHECK(test::error_codes(*channel) == codes({CodecErrc::too_long_frame}));
  CHECK_FALSE(channel->is_open());
  channel->write_inbound(bytes(std::string(100, 'x')));
  CHECK(channel->inbound_count() == 0);
  CHECK(channel->take_errors().empty());
}

TEST_CASE("without fail_fast a too-long frame is discarded as it streams in, then reported") {
  LengthFieldFrameOptions options;
  options.max_frame_length = 16;
  options.length_field_length = 2;
  options.fail_fast = false;
  auto channel = decoder_channel(options);
  auto& decoder = decoder_of(*channel);
  channel->write_inbound(bytes(field(100, 2) + "01234567"));  // 10 of the 102 bytes
  for (int sent = 10; sent < 100; sent += 10) {
    CHECK(decoder.cumulated_bytes() <= options.max_frame_length);
    CHECK(channel->take_errors().empty());
    CHECK(channel->is_open());
    channel->write_inbound(bytes("abcdefghij"));
  }
  // 100 bytes sent, 2 to go.
  CHECK(channel->take_errors().empty());
  channel->write_inbound(bytes("yz"));
  CHECK(test::error_codes(*channel) == codes({CodecErrc::too_long_frame}));
  CHECK_FALSE(channel->is_open());
  CHECK(channel->inbound_count() == 0);
}

TEST_CASE("without fail_fast a too-long frame cut off by the end of input is still reported") {
  for (const bool half_close : {false, true}) {
    CAPTURE(half_close);
    LengthFieldFrameOptions options;
    options.max_frame_length = 16;
    options.length_field_length = 2;
    options.fail_fast = false;
    auto channel = decoder_channel(options);
    channel->write_inbound(bytes(field(1, 2) + "a" + field(100, 2) + "01234567"));
    CHECK(channel->take_errors().empty());
    if (half_close) {
      channel->pipeline().fire_user_event(ChannelInputShutdown{});
    } else {
      channel->finish();
    }
    CHECK(test::error_codes(*channel) == codes({CodecErrc::too_long_frame}));
    CHECK_FALSE(channel->is_open());
    CHECK(test::inbound_texts(*channel) == std::vector<std::string>{field(1, 2) + "a"});
    channel->finish();
    CHECK(channel->take_errors().empty());
  }
}

TEST_CASE("with fail_fast a too-long frame cut off by the end of input is reported only once") {
  LengthFieldFrameOptions options;
  options.max_frame_length = 16;
  options.length_field_length = 2;
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes(field(100, 2) + "0123"));
  CHECK(test::error_codes(*channel) == codes({CodecErrc::too_long_frame}));
  channel->finish();
  CHECK(channel->take_errors().empty());
}

TEST_CASE("a too-long frame whose bytes are all there is refused at once either way") {
  for (const bool fail_fast : {true, false}) {
    CAPTURE(fail_fast);
    LengthFieldFrameOptions options;
    options.max_frame_length = 8;
    options.length_field_length = 1;
    options.fail_fast = fail_fast;
    auto channel = decoder_channel(options);
    channel->write_inbound(
        bytes(field(3, 1) + "abc" + field(9, 1) + "123456789" + field(1, 1) + "z"));
    CHECK(test::inbound_texts(*channel) == std::vector<std::string>{field(3, 1) + "abc"});
    CHECK(test::error_codes(*channel) == codes({CodecErrc::too_long_frame}));
    CHECK_FALSE(channel->is_open());
  }
}

TEST_CASE("a frame of exactly the maximum length is accepted") {
  LengthFieldFrameOptions options;
  options.max_frame_length = 10;
  options.length_field_length = 2;
  const std::string frame = field(8, 2) + "12345678";
  CHECK(decode_whole(options, frame) == std::vector<std::string>{frame});
}

// --- corrupted lengths ----------------------------------------------------------------------

TEST_CASE("an 8-byte length of 0xFFFFFFFFFFFFFFFF is a corrupted frame, not an allocation") {
  for (const bool fail_fast : {true, false}) {
    CAPTURE(fail_fast);
    LengthFieldFrameOptions options;
    options.length_field_length = 8;
    options.fail_fast = fail_fast;
    auto channel = decoder_channel(options);
    channel->write_inbound(bytes(field(UINT64_MAX, 8) + "payload"));
    CHECK(test::error_codes(*channel) == codes({CodecErrc::corrupted_frame}));
    CHECK_FALSE(channel->is_open());
    CHECK(decoder_of(*channel).cumulated_bytes() == 0);
  }
}

TEST_CASE("an adjustment that makes the length negative is a corrupted frame") {
  LengthFieldFrameOptions options;
  options.length_field_length = 2;
  options.length_adjustment = -10;
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes(field(4, 2) + "abcd"));
  CHECK(test::error_codes(*channel) == codes({CodecErrc::corrupted_frame}));
  CHECK_FALSE(channel->is_open());
  CHECK(channel->inbound_count() == 0);
}

TEST_CASE("a length that ends inside the header is a corrupted frame") {
  LengthFieldFrameOptions options;
  options.length_field_offset = 2;
  options.length_field_length = 2;
  options.length_adjustment = -5;  // 4 - 5 + 4 = 3 < 4 header bytes
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes("ab" + field(4, 2) + "abcd"));
  CHECK(test::error_codes(*channel) == codes({CodecErrc::corrupted_frame}));
  CHECK_FALSE(channel->is_open());
}

TEST_CASE("a frame shorter than the bytes to strip is a corrupted frame") {
  LengthFieldFrameOptions options;
  options.length_field_length = 1;
  options.initial_bytes_to_strip = 4;
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes(field(1, 1) + "abcd"));  // a 2-byte frame, 4 to strip
  CHECK(test::error_codes(*channel) == codes({CodecErrc::corrupted_frame}));
  CHECK_FALSE(channel->is_open());
  CHECK(channel->inbound_count() == 0);
}

TEST_CASE("impossible configurations are refused at construction") {
  LengthFieldFrameOptions options;
  options.length_field_length = 5;
  CHECK_THROWS_AS(LengthFieldBasedFrameDecoder{options}, std::invalid_argument);
  options.length_field_length = 0;
  CHECK_THROWS_AS(LengthFieldBasedFrameDecoder{options}, std::invalid_argument);
  options.length_field_length = 4;
  options.max_frame_length = 0;
  CHECK_THROWS_AS(LengthFieldBasedFrameDecoder{options}, std::invalid_argument);
  options.max_frame_length = 5;
  options.length_field_offset = 2;  // the field ends at 6, past the maximum frame
  CHECK_THROWS_AS(LengthFieldBasedFrameDecoder{options}, std::invalid_argument);
}

// --- LengthFieldPrepender -------------------------------------------------------------------

namespace {

Ref<EmbeddedChannel> prepender_channel(std::size_t length, std::int64_t adjustment = 0,
                                       bool includes = false,
                                       std::endian order = std::endian::big) {
  return EmbeddedChannel::create([=](Pipeline& p) {
    p.add_last("prepender",
               std::make_unique<LengthFieldPrepender>(length, adjustment, includes, order));
  });
}

}  // namespace

TEST_CASE("the prepender writes the length as a small buffer of its own before the payload") {
  auto channel = prepender_channel(2);
  Buffer payload = bytes("hello");
  const std::byte* start = payload.readable_span().data();
  channel->write_outbound(std::move(payload));
  REQUIRE(channel->outbound_count() == 2);
  Message header = channel->read_outbound();
  Message body = channel->read_outbound();
  REQUIRE(header.is<Buffer>());
  CHECK(text_of(header) == field(5, 2));
  REQUIRE(body.is<Buffer>());
  CHECK(body.as<Buffer>().readable_span().data() == start);  // forwarded, not copied
  CHECK(text_of(body) == "hello");
}

TEST_CASE("the prepender writes fields of 1, 2, 3, 4 and 8 bytes in both byte orders") {
  for (const std::endian order : {std::endian::big, std::endian::little}) {
    for (const std::size_t length : {1u, 2u, 3u, 4u, 8u}) {
      CAPTURE(length);
      const std::size_t size = length == 1 ? 200 : 0x0102;
      auto channel = prepender_channel(length, 0, false, order);
      channel->write_outbound(bytes(std::string(size, 'p')));
      CHECK(text_of(channel->read_outbound()) == field(size, length, order));
      CHECK(text_of(channel->read_outbound()).size() == size);
    }
  }
}

TEST_CASE("the prepender adds the adjustment and, when asked, the field itself") {
  auto adjusted = prepender_channel(2, 3);
  adjusted->write_outbound(bytes("abcde"));
  CHECK(text_of(adjusted->read_outbound()) == field(8, 2));
  auto including = prepender_channel(4, 0, true);
  including->write_outbound(bytes("abcde"));
  CHECK(text_of(including->read_outbound()) == field(9, 4));
  auto both = prepender_channel(2, -1, true);
  both->write_outbound(bytes("abcde"));
  CHECK(text_of(both->read_outbound()) == field(6, 2));
}

TEST_CASE("the prepender frames a CompositeBuffer without joining it and lets others pass") {
  auto channel = prepender_channel(2);
  CompositeBuffer payload(bytes("ab"));
  payload.append(bytes("cde"));
  channel->write_outbound(std::move(payload), std::string("not bytes"));
  CHECK(text_of(channel->read_outbound()) == field(5, 2));
  Message body = channel->read_outbound();
  REQUIRE(body.is<CompositeBuffer>());
  CHECK(body.as<CompositeBuffer>().component_count() == 2);
  Message other = channel->read_outbound();
  REQUIRE(other.is<std::string>());
}

TEST_CASE("a length that does not fit the field fails the write and writes nothing") {
  auto channel = prepender_channel(1);
  std::vector<Error> results;
  channel->pipeline().write(bytes(std::string(256, 'x')),
                            [&](const Error& error) { results.push_back(error); });
  channel->pipeline().flush();
  REQUIRE(results.size() == 1);
  CHECK(results[0] == CodecErrc::corrupted_frame);
  CHECK(channel->outbound_count() == 0);
  // 255 fits.
  channel->pipeline().write(bytes(std::string(255, 'x')),
                            [&](const Error& error) { results.push_back(error); });
  channel->pipeline().flush();
  REQUIRE(results.size() == 2);
  CHECK_FALSE(results[1]);
  CHECK(text_of(channel->read_outbound()) == field(255, 1));
}

TEST_CASE("a negative length after adjustment fails the write") {
  auto channel = prepender_channel(2, -10);
  std::vector<Error> results;
  channel->pipeline().write(bytes("abc"), [&](const Error& error) { results.push_back(error); });
  channel->pipeline().flush();
  REQUIRE(results.size() == 1);
  CHECK(results[0] == CodecErrc::corrupted_frame);
  CHECK(channel->outbound_count() == 0);
}

// The length was cast to long long for the message: one past INT64_MAX was reported as a large
// negative length.
TEST_CASE("a length past INT64_MAX that does not fit is reported as it is") {
  auto channel = prepender_channel(4, std::numeric_limits<std::int64_t>::max());
  std::vector<Error> results;
  channel->pipeline().write(bytes("abc"), [&](const Error& error) { results.push_back(error); });
  channel->pipeline().flush();
  REQUIRE(results.size() == 1);
  CHECK(results[0] == CodecErrc::corrupted_frame);
  CHECK(results[0].message().find("length 9223372036854775810 ") != std::string::npos);
}

TEST_CASE("the prepender refuses field lengths other than 1, 2, 3, 4 and 8") {
  CHECK_THROWS_AS(LengthFieldPrepender(5), std::invalid_argument);
  CHECK_THROWS_AS(LengthFieldPrepender(0), std::invalid_argument);
}

TEST_CASE("what the prepender writes, the decoder reads back") {
  auto out = prepender_channel(3, 0, true, std::endian::little);
  out->write_outbound(bytes("first"), bytes(""), bytes("third frame"));
  LengthFieldFrameOptions options;
  options.length_field_length = 3;
  options.length_adjustment = -3;
  options.initial_bytes_to_strip = 3;
  options.byte_order = std::endian::little;
  auto in = decoder_channel(options);
  for (Message m = out->read_outbound(); m; m = out->read_outbound()) {
    if (m.is<Buffer>()) in->write_inbound(std::move(m.as<Buffer>()));
  }
  CHECK(test::inbound_texts(*in) == std::vector<std::string>{"first", "", "third frame"});
}

// The header promises std::invalid_argument for an impossible configuration; an offset whose
// end overflows size_t wraps below max_frame_length and is accepted.
TEST_CASE("a length field offset that overflows is refused at construction") {
  LengthFieldFrameOptions options;
  options.length_field_offset = std::numeric_limits<std::size_t>::max() - 1;
  options.length_field_length = 4;
  CHECK_THROWS_AS(LengthFieldBasedFrameDecoder{options}, std::invalid_argument);
}

// A partial frame kept every read it arrived in as a component: a frame sent a byte per read held
// one read buffer per byte (64 bytes each at the transport's smallest) until it was complete, far
// more memory than the bytes the cumulation limit counts. It is copied when taken anyway.
TEST_CASE("a contiguous frame trickling in a byte per read is not held as one buffer per read") {
  LengthFieldFrameOptions options;
  options.length_field_length = 2;
  options.initial_bytes_to_strip = 2;
  auto channel = decoder_channel(options);
  auto& decoder = decoder_of(*channel);
  const std::string payload = [] {
    std::string text;
    for (int i = 0; i < 4096; ++i)
      text += static_cast<char>('a' + i % 26);
    return text;
  }();
  const std::string input = field(payload.size(), 2) + payload;
  const auto before = PooledAllocator::metrics().live_buffers;
  for (std::size_t i = 0; i + 1 < input.size(); ++i) {
    Buffer read = Buffer::allocate(64);
    read.write_bytes(std::string_view(input).substr(i, 1));
    channel->write_inbound(std::move(read));
  }
  CHECK(decoder.cumulated_bytes() == input.size() - 1);
  CHECK(PooledAllocator::metrics().live_buffers - before < 64);
  channel->write_inbound(bytes(input.substr(input.size() - 1)));
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{payload});
}

// The decoder left ByteToMessageDecoder's 64 MiB limit on undecoded bytes in place, so with a
// larger max_frame_length a frame between the two was refused as cumulation_limit while still
// arriving, although the decoder never holds more than one partial frame.
TEST_CASE("a frame past the default cumulation limit but within max_frame_length is decoded") {
  constexpr std::size_t kPayload = test::kPastDefaultCumulation;
  LengthFieldFrameOptions options;
  options.max_frame_length = 2 * ByteToMessageDecoder::kDefaultMaxCumulation;
  options.length_field_length = 4;
  options.initial_bytes_to_strip = 4;
  options.contiguous_frames = false;  // the frame's two reads as they are: no 64 MiB copy
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes(field(kPayload, 4)), test::filled(kPayload - 1));
  CHECK(channel->take_errors().empty());
  CHECK(channel->is_open());
  channel->write_inbound(test::filled(1));
  Message frame = channel->read_inbound();
  CHECK(frame.bytes() == kPayload);
  CHECK(channel->take_errors().empty());
}

// Taken out while discarding, the decoder let the rest of the too-long frame through to the
// handlers after it as if it were the stream, and the frame was never reported.
TEST_CASE("without fail_fast a decoder taken out inside a too-long frame reports it and closes") {
  LengthFieldFrameOptions options;
  options.max_frame_length = 16;
  options.length_field_length = 2;
  options.fail_fast = false;
  auto channel = decoder_channel(options);
  channel->write_inbound(bytes(field(100, 2) + "01234567"));
  CHECK(channel->take_errors().empty());
  channel->pipeline().remove("frames");
  CHECK(test::error_codes(*channel) == codes({CodecErrc::too_long_frame}));
  CHECK_FALSE(channel->is_open());
  channel->write_inbound(bytes("rest of the too-long frame"));
  CHECK(channel->inbound_count() == 0);
}
