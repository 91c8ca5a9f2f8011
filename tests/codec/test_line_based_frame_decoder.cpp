#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/line_based_frame_decoder.hpp"

using namespace sluice;
using sluice::test::bytes;
using Lines = std::vector<std::string>;

namespace {

Ref<EmbeddedChannel> lines(std::size_t max_length, bool strip = true, bool fail_fast = false) {
  return EmbeddedChannel::create([=](Pipeline& p) {
    p.add_last("lines", std::make_unique<LineBasedFrameDecoder>(max_length, strip, fail_fast));
  });
}

LineBasedFrameDecoder& decoder_of(EmbeddedChannel& channel) {
  return *static_cast<LineBasedFrameDecoder*>(channel.pipeline().get("lines"));
}

std::size_t too_long_errors(EmbeddedChannel& channel) {
  std::size_t count = 0;
  for (const Error& error : channel.take_errors()) {
    CHECK(error == CodecErrc::too_long_frame);
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("lines end at LF or CRLF and the line ending is stripped") {
  auto channel = lines(64);
  channel->write_inbound(bytes("a\nbb\r\nccc\n\r\n"));
  CHECK(test::inbound_texts(*channel) == Lines{"a", "bb", "ccc", ""});
}

TEST_CASE("without strip_delimiter each line keeps its ending") {
  auto channel = lines(64, false);
  channel->write_inbound(bytes("a\nbb\r\n"));
  CHECK(test::inbound_texts(*channel) == Lines{"a\n", "bb\r\n"});
}

TEST_CASE("a bare CR is not a line ending") {
  auto channel = lines(64);
  channel->write_inbound(bytes("a\rb\n\r"));
  CHECK(test::inbound_texts(*channel) == Lines{"a\rb"});
  CHECK(decoder_of(*channel).cumulated_bytes() == 1);
  channel->write_inbound(bytes("x\n"));
  CHECK(test::inbound_texts(*channel) == Lines{"\rx"});
}

TEST_CASE("a line is a slice of the read it arrived in") {
  auto channel = lines(64);
  Buffer input = bytes("first\nsecond\n");
  const std::byte* start = input.readable_span().data();
  channel->write_inbound(std::move(input));
  Message first = channel->read_inbound();
  Message second = channel->read_inbound();
  REQUIRE(second.is<Buffer>());
  CHECK(first.as<Buffer>().readable_span().data() == start);
  CHECK(second.as<Buffer>().readable_span().data() == start + 6);
}

TEST_CASE("a line of exactly max_length is accepted even when its CRLF arrives split") {
  for (const bool fail_fast : {false, true}) {
    CAPTURE(fail_fast);
    auto channel = lines(4, true, fail_fast);
    channel->write_inbound(bytes("abcd\r"));
    channel->write_inbound(bytes("\n"));
    channel->write_inbound(bytes("efgh"));
    channel->write_inbound(bytes("\n"));
    CHECK(test::inbound_texts(*channel) == Lines{"abcd", "efgh"});
    CHECK(channel->take_errors().empty());
  }
}

TEST_CASE("a too-long line that arrives whole is dropped and reported, and decoding resumes") {
  for (const bool fail_fast : {false, true}) {
    CAPTURE(fail_fast);
    auto channel = lines(3, true, fail_fast);
    channel->write_inbound(bytes("abcdef\r\nok\n"));
    CHECK(too_long_errors(*channel) == 1);
    CHECK(test::inbound_texts(*channel) == Lines{"ok"});
    CHECK(channel->is_open());
  }
}

TEST_CASE("with fail_fast a too-long line is reported as soon as the limit is crossed") {
  auto channel = lines(4, true, true);
  channel->write_inbound(bytes("abcdefg"));
  CHECK(too_long_errors(*channel) == 1);
  channel->write_inbound(bytes("hij"));
  channel->write_inbound(bytes("k\nok\n"));
  CHECK(too_long_errors(*channel) == 0);  // once per line
  CHECK(test::inbound_texts(*channel) == Lines{"ok"});
}

TEST_CASE("without fail_fast a too-long line is reported once its end has arrived") {
  auto channel = lines(4, true, false);
  channel->write_inbound(bytes("abcdefg"));
  channel->write_inbound(bytes("hij"));
  CHECK(too_long_errors(*channel) == 0);
  channel->write_inbound(bytes("k\r\nok\n"));
  CHECK(too_long_errors(*channel) == 1);
  CHECK(test::inbound_texts(*channel) == Lines{"ok"});
}

TEST_CASE("without fail_fast a too-long line cut off by the end of input is still reported") {
  for (const bool half_close : {false, true}) {
    CAPTURE(half_close);
    auto channel = lines(4, true, false);
    channel->write_inbound(bytes("ok\nabcdefg"));
    channel->write_inbound(bytes("hij\r"));
    CHECK(too_long_errors(*channel) == 0);
    if (half_close) {
      channel->pipeline().fire_user_event(ChannelInputShutdown{});
    } else {
      channel->finish();
    }
    CHECK(too_long_errors(*channel) == 1);
    CHECK(test::inbound_texts(*channel) == Lines{"ok"});
    channel->finish();  // the end of input was handled once
    CHECK(too_long_errors(*channel) == 0);
  }
}

TEST_CASE("with fail_fast a too-long line cut off by the end of input is reported only once") {
  auto channel = lines(4, true, true);
  channel->write_inbound(bytes("abcdefg"));
  CHECK(too_long_errors(*channel) == 1);
  channel->finish();
  CHECK(too_long_errors(*channel) == 0);
}

// A line one byte over the limit whose last byte is a CR is held for the LF of a CRLF; when
// the input ended there instead, the line was dropped unreported in either mode, while one
// ending in any other byte was reported.
TEST_CASE(
    "a line one byte over the limit ending in CR and cut off by the end of input is reported") {
  for (const bool fail_fast : {false, true}) {
    CAPTURE(fail_fast);
    auto channel = lines(4, true, fail_fast);
    channel->write_inbound(bytes("ok\nabcd\r"));
    CHECK(too_long_errors(*channel) == 0);
    channel->finish();
    const auto errors = channel->take_errors();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == CodecErrc::too_long_frame);
    CHECK(errors[0].message().find("line of 5 bytes") != std::string::npos);
    CHECK(test::inbound_texts(*channel) == Lines{"ok"});
  }
}

TEST_CASE("a too-long line streaming in is never held past the limit") {
  for (const bool fail_fast : {false, true}) {
    CAPTURE(fail_fast);
    auto channel = lines(64, true, fail_fast);
    auto& decoder = decoder_of(*channel);
    const std::string chunk(100, 'x');
    for (int i = 0; i < 100; ++i) {
      channel->write_inbound(bytes(chunk));
      CHECK(decoder.cumulated_bytes() <= 64 + 1);
    }
    channel->write_inbound(bytes("\nafter\n"));
    CHECK(too_long_errors(*channel) == 1);
    CHECK(test::inbound_texts(*channel) == Lines{"after"});
  }
}

TEST_CASE("input split at every byte position gives the same lines and errors") {
  const std::string input = "one\r\ntwo\nthis line is too long\r\n\r\nthree\rx\nfour\n";
  for (const bool strip : {true, false}) {
    for (const bool fail_fast : {false, true}) {
      CAPTURE(strip);
      CAPTURE(fail_fast);
      auto whole = lines(8, strip, fail_fast);
      whole->write_inbound(bytes(input));
      const Lines expected = test::inbound_texts(*whole);
      CHECK(expected.size() == 5);
      CHECK(too_long_errors(*whole) == 1);
      for (std::size_t i = 1; i < input.size(); ++i) {
        for (std::size_t j = i; j < input.size(); j += 3) {
          CAPTURE(i);
          CAPTURE(j);
          auto channel = lines(8, strip, fail_fast);
          test::write_in_pieces(*channel, input, {i, j});
          CHECK(test::inbound_texts(*channel) == expected);
          CHECK(too_long_errors(*channel) == 1);
        }
      }
      auto channel = lines(8, strip, fail_fast);
      test::write_byte_by_byte(*channel, input);
      CHECK(test::inbound_texts(*channel) == expected);
      CHECK(too_long_errors(*channel) == 1);
    }
  }
}

// max_length = SIZE_MAX ("no limit") overflows max_length_ + 1 to 0: every read without a line
// ending is taken for a too-long line and dropped.
TEST_CASE("a line decoder with the largest max_length keeps a partial line") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("lines",
               std::make_unique<LineBasedFrameDecoder>(std::numeric_limits<std::size_t>::max()));
  });
  channel->write_inbound(bytes("hel"));
  channel->write_inbound(bytes("lo\n"));
  CHECK(channel->take_errors().empty());
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"hello"});
}

// While discarding, a CR that ended one read was counted as part of the too-long line when its
// LF came in the next: the error said 7 bytes for a 6-byte line, unlike the same input in one
// read.
TEST_CASE("a too-long line's length is reported the same when its CRLF arrives split") {
  for (const bool split : {false, true}) {
    CAPTURE(split);
    auto channel = lines(4, true, false);
    if (split) {
      channel->write_inbound(bytes("abcdef\r"));
      channel->write_inbound(bytes("\nok\n"));
    } else {
      channel->write_inbound(bytes("abcdef\r\nok\n"));
    }
    const auto errors = channel->take_errors();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == CodecErrc::too_long_frame);
    CHECK(errors[0].message().find("line of 6 bytes") != std::string::npos);
    CHECK(test::inbound_texts(*channel) == Lines{"ok"});
  }
}

// The byte of slack kept for the CR of a CRLF was kept whatever that byte was: with fail_fast a
// line one byte over the limit was reported only when more bytes came, not when it crossed it.
TEST_CASE(
    "with fail_fast a line one byte over the limit is reported at once unless it ends in CR") {
  auto channel = lines(4, true, true);
  channel->write_inbound(bytes("abcde"));
  CHECK(too_long_errors(*channel) == 1);
  channel->write_inbound(bytes("f\nabcd\r"));
  CHECK(too_long_errors(*channel) == 0);
  channel->write_inbound(bytes("\n"));
  CHECK(too_long_errors(*channel) == 0);
  CHECK(test::inbound_texts(*channel) == Lines{"abcd"});
}

// A partial line kept one component, and one read buffer, per read: a line trickling in a byte
// per read held a buffer per byte (each of the transport's smallest, 64 bytes), and every search
// for "\n" walked all of them, so the work grew with the square of the line's length.
TEST_CASE("a line trickling in a byte per read is not held as one buffer per read") {
  auto channel = lines(64 * 1024);
  auto& decoder = decoder_of(*channel);
  const auto before = PooledAllocator::metrics().live_buffers;
  for (int i = 0; i < 4096; ++i) {
    Buffer read = Buffer::allocate(64);
    read.write_bytes(std::string_view(i % 2 == 0 ? "x" : "y"));
    channel->write_inbound(std::move(read));
  }
  CHECK(decoder.cumulated_bytes() == 4096);
  CHECK(PooledAllocator::metrics().live_buffers - before < 64);
  channel->write_inbound(bytes("\r\n"));
  std::string expected;
  for (int i = 0; i < 2048; ++i)
    expected += "xy";
  CHECK(test::inbound_texts(*channel) == Lines{expected});
}

// Each read searches only the bytes that are new since the last search (and the search starts
// over once a line, or a too-long line's rest, has been taken): searching the whole pending
// line again at every read made a line trickling in a byte per read cost the square of its
// length. Counted, not timed (debug builds count).
TEST_CASE("a line trickling in a byte per read has each byte searched a bounded number of times") {
  auto channel = lines(1024);
  const test::SearchedBytes searched;
  std::string input;
  for (int line = 0; line < 4; ++line)
    input += std::string(1000, static_cast<char>('a' + line)) + (line % 2 == 0 ? "\r\n" : "\n");
  input += std::string(4000, 'z') + "\n";  // too long: discarded as it arrives
  input += "end\n";
  test::write_byte_by_byte(*channel, input);
  CHECK(test::inbound_texts(*channel) == Lines{std::string(1000, 'a'), std::string(1000, 'b'),
                                               std::string(1000, 'c'), std::string(1000, 'd'),
                                               "end"});
  CHECK(too_long_errors(*channel) == 1);
  CAPTURE(searched.count());
  CHECK(searched.at_most(2 * input.size()));
}

// With auto-read off, the batches that only discarded a too-long line emitted nothing, yet asked
// for no more bytes: the decoder waited for ever for the end of the line.
TEST_CASE("with auto-read off a too-long line being discarded keeps asking for more bytes") {
  ChannelOptions options;
  options.auto_read = false;
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("lines", std::make_unique<LineBasedFrameDecoder>(4)); },
      options);
  int reads = 0;
  struct Counter : ChannelHandler {
    int* reads;
    explicit Counter(int* r) : reads(r) {}
    void read(HandlerContext& ctx) override {
      ++*reads;
      ctx.read();
    }
  };
  channel->pipeline().add_first("counter", std::make_unique<Counter>(&reads));
  channel->write_inbound(bytes("abcdefgh"));
  CHECK(reads == 1);
  channel->write_inbound(bytes("ijkl"));
  CHECK(reads == 2);
  channel->write_inbound(bytes("\n"));  // the end of the line: an error, still no line
  CHECK(reads == 3);
  CHECK(too_long_errors(*channel) == 1);
  channel->write_inbound(bytes("ok\n"));
  CHECK(reads == 3);  // a line came out: the application decides when to read
  CHECK(test::inbound_texts(*channel) == Lines{"ok"});
}

// The decoder kept ByteToMessageDecoder's 64 MiB limit on undecoded bytes, so with a larger
// max_length a line between the two was refused as cumulation_limit while still arriving.
TEST_CASE("a line past the default cumulation limit but within max_length is decoded") {
  auto channel = lines(2 * test::kPastDefaultCumulation);
  channel->write_inbound(test::filled(test::kPastDefaultCumulation - 1));
  CHECK(channel->take_errors().empty());
  CHECK(channel->is_open());
  channel->write_inbound(test::filled(1), bytes("\r\n"));
  CHECK(channel->read_inbound().bytes() == test::kPastDefaultCumulation);
  CHECK(channel->take_errors().empty());
}
