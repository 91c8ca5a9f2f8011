#include <doctest/doctest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/delimiter_based_frame_decoder.hpp"

using namespace sluice;
using sluice::test::bytes;
using Frames = std::vector<std::string>;

namespace {

Ref<EmbeddedChannel> frames(std::size_t max_length, std::vector<std::string> delimiters,
                            bool strip = true, bool fail_fast = true) {
  return EmbeddedChannel::create([=](Pipeline& p) {
    p.add_last("frames", std::make_unique<DelimiterBasedFrameDecoder>(max_length, delimiters, strip,
                                                                      fail_fast));
  });
}

DelimiterBasedFrameDecoder& decoder_of(EmbeddedChannel& channel) {
  return *static_cast<DelimiterBasedFrameDecoder*>(channel.pipeline().get("frames"));
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

TEST_CASE("frames end at the delimiter, which is stripped") {
  auto channel = frames(64, {"||"});
  channel->write_inbound(bytes("a||bb||||c|"));
  CHECK(test::inbound_texts(*channel) == Frames{"a", "bb", ""});
  CHECK(decoder_of(*channel).cumulated_bytes() == 2);
}

TEST_CASE("without strip_delimiter each frame keeps its delimiter") {
  auto channel = frames(64, {"||"}, false);
  channel->write_inbound(bytes("a||bb||"));
  CHECK(test::inbound_texts(*channel) == Frames{"a||", "bb||"});
}

TEST_CASE("among several delimiters the one that ends the shortest frame wins") {
  for (const auto& delimiters :
       {std::vector<std::string>{"\r\n", "\n"}, std::vector<std::string>{"\n", "\r\n"}}) {
    auto channel = frames(64, delimiters);
    channel->write_inbound(bytes("ab\r\ncd\nef\r\n"));
    CHECK(test::inbound_texts(*channel) == Frames{"ab", "cd", "ef"});
    auto kept = frames(64, delimiters, false);
    kept->write_inbound(bytes("ab\r\ncd\n"));
    CHECK(test::inbound_texts(*kept) == Frames{"ab\r\n", "cd\n"});
  }
  // The delimiter found first need not be the one listed first or the shortest one.
  auto channel = frames(64, {"bc", "abcd"});
  channel->write_inbound(bytes("xabcdy"));
  CHECK(test::inbound_texts(*channel) == Frames{"x"});
  CHECK(decoder_of(*channel).cumulated_bytes() == 1);
}

TEST_CASE("a frame inside one read is a slice of it") {
  auto channel = frames(64, {";"});
  Buffer input = bytes("abc;def;");
  const std::byte* start = input.readable_span().data();
  channel->write_inbound(std::move(input));
  Message first = channel->read_inbound();
  Message second = channel->read_inbound();
  REQUIRE(second.is<Buffer>());
  CHECK(first.as<Buffer>().readable_span().data() == start);
  CHECK(second.as<Buffer>().readable_span().data() == start + 4);
}

TEST_CASE("a frame of exactly max_length is accepted even when its delimiter arrives split") {
  for (const bool fail_fast : {true, false}) {
    CAPTURE(fail_fast);
    auto channel = frames(4, {"\r\n"}, true, fail_fast);
    channel->write_inbound(bytes("abcd\r"));
    channel->write_inbound(bytes("\nefgh"));
    channel->write_inbound(bytes("\r"));
    channel->write_inbound(bytes("\n"));
    CHECK(test::inbound_texts(*channel) == Frames{"abcd", "efgh"});
    CHECK(channel->take_errors().empty());
  }
}

TEST_CASE("a too-long frame that arrives whole is dropped and reported, and decoding resumes") {
  for (const bool fail_fast : {true, false}) {
    CAPTURE(fail_fast);
    auto channel = frames(3, {";"}, true, fail_fast);
    channel->write_inbound(bytes("abcdef;ok;"));
    CHECK(too_long_errors(*channel) == 1);
    CHECK(test::inbound_texts(*channel) == Frames{"ok"});
    CHECK(channel->is_open());
  }
}

TEST_CASE("with fail_fast a too-long frame is reported as soon as the limit is crossed") {
  auto channel = frames(4, {";"}, true, true);
  channel->write_inbound(bytes("abcdefg"));
  CHECK(too_long_errors(*channel) == 1);
  channel->write_inbound(bytes("hij;ok;"));
  CHECK(too_long_errors(*channel) == 0);
  CHECK(test::inbound_texts(*channel) == Frames{"ok"});
}

TEST_CASE("without fail_fast a too-long frame is reported once its delimiter has arrived") {
  auto channel = frames(4, {";"}, true, false);
  channel->write_inbound(bytes("abcdefg"));
  channel->write_inbound(bytes("hij"));
  CHECK(too_long_errors(*channel) == 0);
  channel->write_inbound(bytes("k;ok;"));
  CHECK(too_long_errors(*channel) == 1);
  CHECK(test::inbound_texts(*channel) == Frames{"ok"});
}

TEST_CASE("without fail_fast a too-long frame cut off by the end of input is still reported") {
  for (const bool half_close : {false, true}) {
    CAPTURE(half_close);
    // The frame ends in ";;" cut short: the ";" kept back as a possible delimiter's start is
    // part of the frame the error counts.
    auto channel = frames(4, {";;"}, true, false);
    channel->write_inbound(bytes("ok;;abcdefg"));
    channel->write_inbound(bytes("hij;"));
    CHECK(too_long_errors(*channel) == 0);
    if (half_close) {
      channel->pipeline().fire_user_event(ChannelInputShutdown{});
    } else {
      channel->finish();
    }
    const auto errors = channel->take_errors();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == CodecErrc::too_long_frame);
    CHECK(errors[0].message().find("frame of 11 bytes") != std::string::npos);
    CHECK(test::inbound_texts(*channel) == Frames{"ok"});
    CHECK(decoder_of(*channel).cumulated_bytes() == 0);
    channel->finish();  // the end of input was handled once
    CHECK(too_long_errors(*channel) == 0);
  }
}

TEST_CASE("with fail_fast a too-long frame cut off by the end of input is reported only once") {
  auto channel = frames(4, {";"}, true, true);
  channel->write_inbound(bytes("abcdefg"));
  CHECK(too_long_errors(*channel) == 1);
  channel->finish();
  CHECK(too_long_errors(*channel) == 0);
}

// The bytes kept back as a possible delimiter's start made a frame over the limit look within it;
// when the input ended there, the frame was dropped unreported in either mode, while one ending
// in any other bytes was reported.
TEST_CASE("a frame over the limit only with a delimiter's cut-off start is reported at the end") {
  for (const bool fail_fast : {false, true}) {
    CAPTURE(fail_fast);
    auto channel = frames(4, {"\r\n"}, true, fail_fast);
    channel->write_inbound(bytes("ok\r\nabcd\r"));
    CHECK(too_long_errors(*channel) == 0);
    channel->finish();
    const auto errors = channel->take_errors();
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == CodecErrc::too_long_frame);
    CHECK(errors[0].message().find("frame of 5 bytes") != std::string::npos);
    CHECK(test::inbound_texts(*channel) == Frames{"ok"});
  }
}

TEST_CASE("decoding resumes after a too-long frame whose delimiter arrives split") {
  for (const bool fail_fast : {true, false}) {
    CAPTURE(fail_fast);
    auto channel = frames(4, {"\r\n"}, true, fail_fast);
    channel->write_inbound(bytes("abcdefgh\r"));
    channel->write_inbound(bytes("\n"));
    channel->write_inbound(bytes("ok\r\n"));
    CHECK(too_long_errors(*channel) == 1);
    CHECK(test::inbound_texts(*channel) == Frames{"ok"});
  }
}

TEST_CASE("a too-long frame streaming in is never held past the limit") {
  for (const bool fail_fast : {true, false}) {
    CAPTURE(fail_fast);
    auto channel = frames(64, {"<END>"}, true, fail_fast);
    auto& decoder = decoder_of(*channel);
    const std::string chunk(100, 'x');
    for (int i = 0; i < 100; ++i) {
      channel->write_inbound(bytes(chunk));
      // The limit, plus what could be the start of a delimiter.
      CHECK(decoder.cumulated_bytes() <= 64 + 4);
    }
    channel->write_inbound(bytes("<END>after<END>"));
    CHECK(too_long_errors(*channel) == 1);
    CHECK(test::inbound_texts(*channel) == Frames{"after"});
  }
}

TEST_CASE("input split at every byte position gives the same frames and errors") {
  struct Case {
    std::string input;
    std::vector<std::string> delimiters;
    std::size_t frames;
  };
  const std::vector<Case> cases = {
      {"one\r\ntwo\nmuch too long for it\r\n\r\nthree\rx\nfour\r\n", {"\r\n", "\n"}, 5},
      {"one<=>two<=toolong-frame<=>three<<=>four<=><=>", {"<=>"}, 4},
      {"one\r\ntwo\rmuch too long\r\rthree\r\n", {"\r\n", "\r"}, 4},
  };
  for (const Case& c : cases) {
    for (const bool strip : {true, false}) {
      for (const bool fail_fast : {true, false}) {
        CAPTURE(c.input);
        CAPTURE(strip);
        CAPTURE(fail_fast);
        auto whole = frames(8, c.delimiters, strip, fail_fast);
        whole->write_inbound(bytes(c.input));
        const Frames expected = test::inbound_texts(*whole);
        CHECK(expected.size() == c.frames);
        CHECK(too_long_errors(*whole) == 1);
        for (std::size_t i = 1; i < c.input.size(); ++i) {
          for (std::size_t j = i; j < c.input.size(); j += 3) {
            CAPTURE(i);
            CAPTURE(j);
            auto channel = frames(8, c.delimiters, strip, fail_fast);
            test::write_in_pieces(*channel, c.input, {i, j});
            CHECK(test::inbound_texts(*channel) == expected);
            CHECK(too_long_errors(*channel) == 1);
          }
        }
        auto channel = frames(8, c.delimiters, strip, fail_fast);
        test::write_byte_by_byte(*channel, c.input);
        CHECK(test::inbound_texts(*channel) == expected);
        CHECK(too_long_errors(*channel) == 1);
      }
    }
  }
}

TEST_CASE("empty or missing delimiters and a zero maximum are refused") {
  CHECK_THROWS_AS(DelimiterBasedFrameDecoder(8, {}), std::invalid_argument);
  CHECK_THROWS_AS(DelimiterBasedFrameDecoder(8, {";", ""}), std::invalid_argument);
  CHECK_THROWS_AS(DelimiterBasedFrameDecoder(0, {";"}), std::invalid_argument);
}

TEST_CASE("a delimiter decoder with the largest max_length keeps a partial frame") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames",
               std::make_unique<DelimiterBasedFrameDecoder>(std::numeric_limits<std::size_t>::max(),
                                                            std::vector<std::string>{"\r\n"}));
  });
  channel->write_inbound(bytes("hel"));
  channel->write_inbound(bytes("lo\r\n"));
  CHECK(channel->take_errors().empty());
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"hello"});
}

// A delimiter found at the end of what has arrived was taken at once, even when more bytes could
// still make a delimiter that wins over it: one that starts earlier (and so ends a shorter frame),
// or one listed before it that starts at the same place. Which frames came out then depended on
// how the input was split into reads.
TEST_CASE("overlapping delimiters give the same frames however the input is split") {
  struct Case {
    std::string input;
    std::vector<std::string> delimiters;
    Frames frames;
  };
  const std::vector<Case> cases = {
      // CR, LF or CRLF: "\r" must not be taken while "\r\n" may still come.
      {"abc\r\ndef\rghi\nj\r\r\nk\r", {"\r\n", "\r", "\n"}, {"abc", "def", "ghi", "j", "", "k"}},
      // "y" lies inside "xyz": the "y" of "xy" must wait to know whether "xyz" ends a shorter
      // frame.
      {"axyzbycxyzdxyxyz", {"xyz", "y"}, {"a", "b", "c", "dx", ""}},
  };
  for (const Case& c : cases) {
    for (const bool strip : {true, false}) {
      CAPTURE(c.input);
      CAPTURE(strip);
      auto whole = frames(64, c.delimiters, strip);
      whole->write_inbound(bytes(c.input));
      whole->finish();
      const Frames expected = test::inbound_texts(*whole);
      if (strip) CHECK(expected == c.frames);
      for (std::size_t i = 1; i < c.input.size(); ++i) {
        for (std::size_t j = i; j < c.input.size(); ++j) {
          CAPTURE(i);
          CAPTURE(j);
          auto channel = frames(64, c.delimiters, strip);
          test::write_in_pieces(*channel, c.input, {i, j});
          channel->finish();
          CHECK(test::inbound_texts(*channel) == expected);
          CHECK(channel->take_errors().empty());
        }
      }
    }
  }
}

TEST_CASE("a frame whose delimiter could still grow waits for the next byte or the end of input") {
  auto channel = frames(64, {"\r\n", "\r"});
  channel->write_inbound(bytes("abc\r"));
  CHECK(channel->inbound_count() == 0);
  channel->write_inbound(bytes("\ndef\r"));
  CHECK(test::inbound_texts(*channel) == Frames{"abc"});
  channel->write_inbound(bytes("x"));
  CHECK(test::inbound_texts(*channel) == Frames{"def"});
  channel->write_inbound(bytes("\r"));
  channel->finish();
  CHECK(test::inbound_texts(*channel) == Frames{"x"});
}

// The bytes kept back in case they start a delimiter were kept whatever they were: with
// fail_fast a frame one byte over the limit was reported only when more bytes came.
TEST_CASE(
    "with fail_fast a frame over the limit is reported at once unless it may end in a delimiter") {
  auto channel = frames(4, {"\r\n", "<END>"}, true, true);
  channel->write_inbound(bytes("abcde"));
  CHECK(too_long_errors(*channel) == 1);
  channel->write_inbound(bytes("f\r\nabcd<EN"));
  CHECK(too_long_errors(*channel) == 0);
  channel->write_inbound(bytes("D>"));
  CHECK(too_long_errors(*channel) == 0);
  CHECK(test::inbound_texts(*channel) == Frames{"abcd"});
}

// A frame over the limit whose delimiter might still be overtaken by a longer one ("\r" by
// "\r\n") was held whole until the next byte came: with fail_fast it was not reported although
// too long whichever delimiter won, and unlike the same bytes split over two reads.
TEST_CASE("a too-long frame is dropped and reported at once though its delimiter may still grow") {
  for (const bool fail_fast : {true, false}) {
    CAPTURE(fail_fast);
    auto channel = frames(4, {"\r\n", "\r"}, true, fail_fast);
    auto& decoder = decoder_of(*channel);
    channel->write_inbound(bytes("abcdefgh\r"));
    CHECK(too_long_errors(*channel) == (fail_fast ? 1 : 0));
    CHECK(decoder.cumulated_bytes() <= 2);
    channel->write_inbound(bytes("\nok\r\n"));
    const auto errors = channel->take_errors();
    if (fail_fast) {
      CHECK(errors.empty());
    } else {
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].message().find("frame of 8 bytes") != std::string::npos);
    }
    CHECK(test::inbound_texts(*channel) == Frames{"ok"});
  }
}

// A partial frame kept one component, and one read buffer, per read, and each read searched it
// again from its first byte: a frame trickling in a byte per read held a buffer per byte and
// cost work that grew with the square of its length.
TEST_CASE("a frame trickling in a byte per read is not held as one buffer per read") {
  auto channel = frames(64 * 1024, {"\r\n", "\n"});
  auto& decoder = decoder_of(*channel);
  const auto before = PooledAllocator::metrics().live_buffers;
  std::string expected;
  for (int i = 0; i < 1024; ++i) {
    const std::string_view byte = i % 64 == 63 ? "\r" : "x";
    expected += byte;
    Buffer read = Buffer::allocate(64);
    read.write_bytes(byte);
    channel->write_inbound(std::move(read));
  }
  CHECK(decoder.cumulated_bytes() == 1024);
  CHECK(PooledAllocator::metrics().live_buffers - before < 64);
  channel->write_inbound(bytes("\n"));
  expected.pop_back();
  CHECK(test::inbound_texts(*channel) == Frames{expected});
}

// Each read searches, for each delimiter, only where it could end in bytes new since the last
// search; searching the whole pending frame again at every read made a frame trickling in a
// byte per read cost the square of its length. Counted, not timed (debug builds count).
TEST_CASE("a frame trickling in a byte per read has each byte searched a bounded number of times") {
  auto channel = frames(1024, {"\r\n", "\n", "END"}, true, false);
  const test::SearchedBytes searched;
  std::string input;
  for (int frame = 0; frame < 3; ++frame)
    input += std::string(1000, static_cast<char>('a' + frame)) + (frame == 1 ? "END" : "\r\n");
  input += std::string(4000, 'z') + "\n";  // too long: discarded as it arrives
  input += "last\n";
  test::write_byte_by_byte(*channel, input);
  CHECK(test::inbound_texts(*channel) ==
        Frames{std::string(1000, 'a'), std::string(1000, 'b'), std::string(1000, 'c'), "last"});
  CHECK(too_long_errors(*channel) == 1);
  CAPTURE(searched.count());
  // Three delimiters, each looked for from up to two bytes back: at most about 3 + 2 + 1 per
  // byte, whatever the length of the frames.
  CHECK(searched.at_most(8 * input.size()));
}

// The decoder kept ByteToMessageDecoder's 64 MiB limit on undecoded bytes, so with a larger
// max_length a frame between the two was refused as cumulation_limit while still arriving.
TEST_CASE("a frame past the default cumulation limit but within max_length is decoded") {
  auto channel = frames(2 * test::kPastDefaultCumulation, {"||"});
  channel->write_inbound(test::filled(test::kPastDefaultCumulation), bytes("|"));
  CHECK(channel->take_errors().empty());
  CHECK(channel->is_open());
  channel->write_inbound(bytes("|"));
  CHECK(channel->read_inbound().bytes() == test::kPastDefaultCumulation);
  CHECK(channel->take_errors().empty());
}
