#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/codec/line_based_frame_decoder.hpp"
#include "sluice/codec/string_codec.hpp"

using namespace sluice;
using sluice::test::bytes;

namespace {

const std::string R = "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER

std::string repeat(const std::string& text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i)
    out += text;
  return out;
}

}  // namespace

TEST_CASE("valid UTF-8 passes unchanged, up to every length boundary") {
  const std::vector<std::string> valid = {
      "",
      "plain ASCII",
      std::string("\x00\x7F", 2),          // U+0000, U+007F
      "\xC2\x80\xDF\xBF",                  // U+0080, U+07FF
      "\xE0\xA0\x80\xEF\xBF\xBF",          // U+0800, U+FFFF
      "\xED\x9F\xBF\xEE\x80\x80",          // U+D7FF, U+E000: around the surrogates
      "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF",  // U+10000, U+10FFFF
      "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80",
  };
  for (const std::string& text : valid) {
    CAPTURE(text);
    CHECK(to_valid_utf8(text) == text);
  }
}

TEST_CASE("bytes that cannot start a sequence each become U+FFFD") {
  CHECK(to_valid_utf8("a\x80z") == "a" + R + "z");  // a lone continuation byte
  CHECK(to_valid_utf8("\xBF\xBF") == R + R);
  CHECK(to_valid_utf8("\xC0") == R);  // never used in UTF-8
  CHECK(to_valid_utf8("\xC1") == R);
  for (int lead = 0xF5; lead <= 0xFF; ++lead) {
    CAPTURE(lead);
    CHECK(to_valid_utf8(std::string(1, static_cast<char>(lead)) + "a") == R + "a");
  }
}

TEST_CASE("overlong encodings are replaced, one U+FFFD per byte") {
  CHECK(to_valid_utf8("\xC0\xAF") == R + R);                 // "/" in two bytes
  CHECK(to_valid_utf8("\xE0\x80\xAF") == R + R + R);         // "/" in three bytes
  CHECK(to_valid_utf8("\xE0\x9F\xBF") == R + R + R);         // U+07FF in three bytes
  CHECK(to_valid_utf8("\xF0\x80\x80\xAF") == repeat(R, 4));  // "/" in four bytes
  CHECK(to_valid_utf8("\xF0\x8F\xBF\xBF") == repeat(R, 4));  // U+FFFF in four bytes
}

TEST_CASE("encoded UTF-16 surrogates are replaced") {
  CHECK(to_valid_utf8("\xED\xA0\x80") == R + R + R);                 // U+D800
  CHECK(to_valid_utf8("\xED\xBF\xBF") == R + R + R);                 // U+DFFF
  CHECK(to_valid_utf8("\xED\xA0\xBD\xED\xB8\x80") == repeat(R, 6));  // a CESU-8 pair
}

TEST_CASE("code points above U+10FFFF are replaced") {
  CHECK(to_valid_utf8("\xF4\x90\x80\x80") == repeat(R, 4));
  CHECK(to_valid_utf8("\xF7\xBF\xBF\xBF") == repeat(R, 4));
}

TEST_CASE("a truncated sequence is replaced by one U+FFFD (its maximal subpart)") {
  CHECK(to_valid_utf8("\xC3") == R);
  CHECK(to_valid_utf8("\xE2\x82") == R);
  CHECK(to_valid_utf8("\xE2\x82z") == R + "z");
  CHECK(to_valid_utf8("\xF0\x9F\x98") == R);
  CHECK(to_valid_utf8("\xF0\x9F\x98 ok") == R + " ok");
  CHECK(to_valid_utf8("\xF0\x9F\xE2\x82\xAC") == R + "\xE2\x82\xAC");
  // The Unicode Standard's example (ch. 3, table 3-8): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  CHECK(to_valid_utf8("a\xF1\x80\x80\xE1\x80\xC2"
                      "b\x80"
                      "c\x80\xBF"
                      "d") == "a" + R + R + R + "b" + R + "c" + R + R + "d");
}

TEST_CASE("StringDecoder turns each inbound Buffer into a valid UTF-8 string") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("lines", std::make_unique<LineBasedFrameDecoder>(64));
    p.add_last("text", std::make_unique<StringDecoder>());
  });
  channel->write_inbound(bytes("h\xC3\xA9llo\n\xFF!\n"), 42);
  Message first = channel->read_inbound();
  Message second = channel->read_inbound();
  Message other = channel->read_inbound();
  REQUIRE(first.is<std::string>());
  CHECK(first.as<std::string>() == "h\xC3\xA9llo");
  REQUIRE(second.is<std::string>());
  CHECK(second.as<std::string>() == R + "!");
  REQUIRE(other.is<int>());  // not a Buffer: passed on untouched
  CHECK(other.as<int>() == 42);
}

TEST_CASE("StringEncoder writes a string's bytes as a Buffer and lets other messages pass") {
  std::vector<Error> results;
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("text", std::make_unique<StringEncoder>()); });
  channel->pipeline().write(std::string("h\xC3\xA9llo"),
                            [&](const Error& error) { results.push_back(error); });
  channel->pipeline().write(7);
  channel->pipeline().flush();
  Message encoded = channel->read_outbound();
  REQUIRE(encoded.is<Buffer>());
  CHECK(encoded.as<Buffer>().readable_view() == "h\xC3\xA9llo");
  Message other = channel->read_outbound();
  REQUIRE(other.is<int>());
  REQUIRE(results.size() == 1);  // the write's callback went with the buffer
  CHECK_FALSE(results[0]);
}

// A frame decoder may hand frames out as CompositeBuffers (a length-field decoder with
// contiguous_frames off); StringDecoder let them pass as if they were not bytes.
TEST_CASE("StringDecoder turns a CompositeBuffer frame into one string") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("text", std::make_unique<StringDecoder>()); });
  CompositeBuffer frame(bytes("h\xC3"));
  frame.append(bytes("\xA9llo\xFF"));
  channel->write_inbound(std::move(frame), CompositeBuffer());
  Message text = channel->read_inbound();
  REQUIRE(text.is<std::string>());
  CHECK(text.as<std::string>() == "h\xC3\xA9llo" + R);
  Message empty = channel->read_inbound();
  REQUIRE(empty.is<std::string>());
  CHECK(empty.as<std::string>().empty());
}
