#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/byte_to_message_decoder.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/length_field_frame_decoder.hpp"

using namespace sluice;
using sluice::test::bytes;
using sluice::test::text_of;

namespace {

// Emits frames of `size` bytes: Buffers (contiguous, read_buffer) or CompositeBuffers
// (read_slice). Records how the cumulation looked to it.
class SizedFrames : public ByteToMessageDecoder {
 public:
  explicit SizedFrames(std::size_t size, bool contiguous = true,
                       Cumulation mode = Cumulation::kComposite,
                       std::size_t max_cumulation = kDefaultMaxCumulation)
      : ByteToMessageDecoder(mode, max_cumulation), size_(size), contiguous_(contiguous) {}

  std::size_t max_components_seen = 0;
  int decode_calls = 0;

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    ++decode_calls;
    max_components_seen = std::max(max_components_seen, in.component_count());
    if (in.readable_bytes() < size_) return;
    if (contiguous_) {
      ctx.fire_read(in.read_buffer(size_));
    } else {
      ctx.fire_read(in.read_slice(size_));
    }
  }

 private:
  std::size_t size_;
  bool contiguous_;
};

// SizedFrames whose decode_last emits whatever is left as one "last:<bytes>" string.
class FramesWithLast : public SizedFrames {
 public:
  using SizedFrames::SizedFrames;
  int decode_last_calls = 0;

 protected:
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override {
    ++decode_last_calls;
    std::string rest = text_of(in);
    in.skip(in.readable_bytes());
    ctx.fire_read(std::string("last:") + rest);
  }
};

// Consumes 2-byte frames without emitting them.
class Skipper : public ByteToMessageDecoder {
 public:
  Skipper() : ByteToMessageDecoder(Cumulation::kMerge) {}

 protected:
  void decode(HandlerContext&, CompositeBuffer& in) override {
    while (in.readable_bytes() >= 2)
      in.skip(2);
  }
};

// Emits the 4-byte frame "UPGR" and takes itself out of the pipeline, as a protocol switch does.
class SwitchingDecoder : public ByteToMessageDecoder {
 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    if (in.readable_bytes() < 4) return;
    ctx.fire_read(in.read_buffer(4));
    ctx.pipeline().remove(*this);
  }
};

// Takes itself out of the pipeline first, then its 4-byte switch frame (and, after "T", throws).
class RemoveThenTake : public ByteToMessageDecoder {
 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    if (in.readable_bytes() < 4) return;
    ctx.pipeline().remove(*this);
    ctx.fire_read(in.read_buffer(4));
    if (!in.empty() && in.get_u8(0) == 'T') throw CorruptedFrameError("thrown after removal");
  }
};

// Throws on a frame that starts with 'X' (a CodecError) or 'R' (a plain runtime_error).
class ThrowingDecoder : public ByteToMessageDecoder {
 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    const auto first = in.get_u8(0);
    if (first == 'X') throw CorruptedFrameError("frames must not start with X");
    if (first == 'R') throw std::runtime_error("decoder failed");
    ctx.fire_read(in.read_buffer(1));
  }
};

// Records the errors, reads and read requests that pass it.
class Probe : public ChannelHandler {
 public:
  std::vector<Error> errors;
  int inactive = 0;
  int read_requests = 0;
  void on_error(HandlerContext& ctx, const Error& error) override {
    errors.push_back(error);
    ctx.fire_error(error);
  }
  void on_inactive(HandlerContext& ctx) override {
    ++inactive;
    ctx.fire_inactive();
  }
  void read(HandlerContext& ctx) override {
    ++read_requests;
    ctx.read();
  }
};

const std::byte* data_of(const Buffer& buffer) {
  return buffer.readable_span().data();
}

template <typename Decoder>
Decoder& handler(EmbeddedChannel& channel, std::string_view name) {
  return *static_cast<Decoder*>(channel.pipeline().get(name));
}

}  // namespace

TEST_CASE("bytes from several reads are cumulated until a whole frame is there") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(4)); });
  auto& decoder = handler<SizedFrames>(*channel, "frames");
  CHECK_FALSE(channel->write_inbound(bytes("ab")));
  CHECK(decoder.cumulated_bytes() == 2);
  CHECK(channel->write_inbound(bytes("cd")));
  CHECK(decoder.cumulated_bytes() == 0);
  channel->write_inbound(bytes("efghij"));
  CHECK(decoder.cumulated_bytes() == 2);
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd", "efgh"});
}

TEST_CASE("in composite mode each read joins the cumulation as a component of its own") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(6)); });
  channel->write_inbound(bytes("ab"));
  channel->write_inbound(bytes("cd"));
  channel->write_inbound(bytes("ef"));
  CHECK(handler<SizedFrames>(*channel, "frames").max_components_seen == 3);
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcdef"});
}

TEST_CASE("in merge mode reads are joined into one contiguous buffer") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames",
               std::make_unique<SizedFrames>(6, true, ByteToMessageDecoder::Cumulation::kMerge));
  });
  channel->write_inbound(bytes("ab"));
  channel->write_inbound(bytes("cd"));
  channel->write_inbound(bytes("efgh"));
  channel->write_inbound(bytes("ijkl"));
  CHECK(handler<SizedFrames>(*channel, "frames").max_components_seen == 1);
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcdef", "ghijkl"});
}

TEST_CASE("in merge mode the decoder never writes into a buffer the sender still holds") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames",
               std::make_unique<SizedFrames>(6, true, ByteToMessageDecoder::Cumulation::kMerge));
  });
  Buffer first = Buffer::allocate(64);
  first.write_bytes(std::string_view("ab"));
  Buffer senders_handle = first.share();
  channel->write_inbound(std::move(first));
  channel->write_inbound(bytes("cd"));
  // The sender goes on writing into its own handle, past what it handed over.
  senders_handle.write_bytes(std::string_view("XY"));
  channel->write_inbound(bytes("ef"));
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcdef"});
}

TEST_CASE("in merge mode consumed bytes are reclaimed while a partial frame stays behind") {
  auto channel =
      EmbeddedChannel::create([](Pipeline& p) { p.add_last("skip", std::make_unique<Skipper>()); });
  auto& decoder = handler<Skipper>(*channel, "skip");
  channel->write_inbound(bytes("x"));  // from now on one byte is always left over
  const auto live_before = PooledAllocator::metrics().live_bytes;
  const std::string chunk(1024, 'y');
  for (int i = 0; i < 1024; ++i)
    channel->write_inbound(bytes(chunk));  // 1 MiB in all
  CHECK(decoder.cumulated_bytes() == 1);
  const auto grown = PooledAllocator::metrics().live_bytes - live_before;
  CHECK(grown < 64 * 1024);
}

TEST_CASE("a frame inside one read is a slice of that read's buffer, not a copy") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(4)); });
  Buffer input = bytes("abcdefgh");
  const std::byte* start = data_of(input);
  channel->write_inbound(std::move(input));
  Message first = channel->read_inbound();
  Message second = channel->read_inbound();
  REQUIRE(first.is<Buffer>());
  REQUIRE(second.is<Buffer>());
  CHECK(data_of(first.as<Buffer>()) == start);
  CHECK(data_of(second.as<Buffer>()) == start + 4);
  CHECK(text_of(second) == "efgh");
}

TEST_CASE("a frame straddling two reads is copied when the decoder asks for contiguous bytes") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(4)); });
  Buffer a = bytes("abc");
  Buffer b = bytes("def");
  const std::byte* a_start = data_of(a);
  const std::byte* b_start = data_of(b);
  channel->write_inbound(std::move(a));
  channel->write_inbound(std::move(b));
  Message frame = channel->read_inbound();
  REQUIRE(frame.is<Buffer>());
  CHECK(text_of(frame) == "abcd");
  const std::byte* copied = data_of(frame.as<Buffer>());
  CHECK((copied < a_start || copied >= a_start + 3));
  CHECK((copied < b_start || copied >= b_start + 3));
}

TEST_CASE("a frame straddling two reads is not copied when the decoder takes a composite") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(4, false)); });
  Buffer a = bytes("abc");
  Buffer b = bytes("def");
  const std::byte* a_start = data_of(a);
  const std::byte* b_start = data_of(b);
  channel->write_inbound(std::move(a));
  channel->write_inbound(std::move(b));
  Message frame = channel->read_inbound();
  REQUIRE(frame.is<CompositeBuffer>());
  const auto& composite = frame.as<CompositeBuffer>();
  REQUIRE(composite.component_count() == 2);
  CHECK(data_of(composite.component(0)) == a_start);
  CHECK(data_of(composite.component(1)) == b_start);
  CHECK(text_of(frame) == "abcd");
}

TEST_CASE("messages that are not Buffers pass through the decoder untouched") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(4)); });
  channel->write_inbound(bytes("ab"), std::string("not bytes"));
  Message message = channel->read_inbound();
  REQUIRE(message.is<std::string>());
  CHECK(message.as<std::string>() == "not bytes");
  CHECK(handler<SizedFrames>(*channel, "frames").cumulated_bytes() == 2);
}

TEST_CASE("decode_last gets the bytes left when the channel closes, then inactive goes on") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames", std::make_unique<FramesWithLast>(4));
    p.add_last("probe", std::make_unique<Probe>());
  });
  auto& decoder = handler<FramesWithLast>(*channel, "frames");
  channel->write_inbound(bytes("abcdef"));
  channel->finish();
  CHECK(decoder.decode_last_calls == 1);
  CHECK(decoder.cumulated_bytes() == 0);
  CHECK(handler<Probe>(*channel, "probe").inactive == 1);
  Message frame = channel->read_inbound();
  Message last = channel->read_inbound();
  CHECK(text_of(frame) == "abcd");
  REQUIRE(last.is<std::string>());
  CHECK(last.as<std::string>() == "last:ef");
}

TEST_CASE("decode_last runs once when the peer half-closes, and the event goes on") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<FramesWithLast>(4)); });
  auto& decoder = handler<FramesWithLast>(*channel, "frames");
  channel->write_inbound(bytes("abcdefg"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  CHECK(decoder.decode_last_calls == 1);
  const auto events = channel->take_user_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].is<ChannelInputShutdown>());
  channel->finish();  // the end of input was already handled
  CHECK(decoder.decode_last_calls == 1);
  Message frame = channel->read_inbound();
  Message last = channel->read_inbound();
  CHECK(text_of(frame) == "abcd");
  REQUIRE(last.is<std::string>());
  CHECK(last.as<std::string>() == "last:efg");
}

TEST_CASE("the default decode_last decodes once more and drops an incomplete remainder") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(4)); });
  channel->write_inbound(bytes("abcdef"));
  channel->finish();
  CHECK(handler<SizedFrames>(*channel, "frames").cumulated_bytes() == 0);
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd"});
}

TEST_CASE("more undecoded bytes than the limit fail with cumulation_limit and close the channel") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames", std::make_unique<SizedFrames>(
                             100, true, ByteToMessageDecoder::Cumulation::kComposite, 8));
    p.add_last("probe", std::make_unique<Probe>());
  });
  channel->write_inbound(bytes("12345"));
  CHECK(channel->is_open());
  channel->write_inbound(bytes("67890"));
  auto& probe = handler<Probe>(*channel, "probe");
  REQUIRE(probe.errors.size() == 1);
  CHECK(probe.errors[0] == CodecErrc::cumulation_limit);
  const auto errors = channel->take_errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == CodecErrc::cumulation_limit);
  CHECK_FALSE(channel->is_open());
  CHECK(handler<SizedFrames>(*channel, "frames").cumulated_bytes() == 0);
  CHECK(channel->inbound_count() == 0);
}

TEST_CASE("whole frames in one read larger than the cumulation limit are decoded, not refused") {
  // The limit is on bytes held undecoded, not on the size of a read.
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames", std::make_unique<SizedFrames>(
                             4, true, ByteToMessageDecoder::Cumulation::kComposite, 8));
  });
  channel->write_inbound(bytes("aaaabbbbccccdd"));
  CHECK(channel->take_errors().empty());
  CHECK(channel->is_open());
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"aaaa", "bbbb", "cccc"});
}

TEST_CASE("a decoder that removes itself mid-stream passes the bytes it did not decode on") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("switch", std::make_unique<SwitchingDecoder>()); });
  channel->write_inbound(bytes("UPGRrest of the stream"));
  CHECK(channel->pipeline().names().empty());
  channel->write_inbound(bytes(" and more"));
  CHECK(test::inbound_texts(*channel) ==
        std::vector<std::string>{"UPGR", "rest of the stream", " and more"});
}

// The leftover bytes went on the moment the decoder was removed, inside decode(): the frame it
// went on to take came after them, from a cumulation already emptied (an index error).
TEST_CASE("a decoder that removes itself before taking a frame emits it before the bytes left") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("switch", std::make_unique<RemoveThenTake>()); });
  channel->write_inbound(bytes("UPGRrest of the stream"));
  CHECK(channel->pipeline().names().empty());
  CHECK(channel->take_errors().empty());
  channel->write_inbound(bytes(" and more"));
  CHECK(test::inbound_texts(*channel) ==
        std::vector<std::string>{"UPGR", "rest of the stream", " and more"});
}

TEST_CASE("a decoder that removes itself and then throws still passes the bytes left on") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("switch", std::make_unique<RemoveThenTake>()); });
  channel->write_inbound(bytes("UPGRTail"));
  CHECK(test::error_codes(*channel) ==
        std::vector<std::error_code>{make_error_code(CodecErrc::corrupted_frame)});
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"UPGR", "Tail"});
}

namespace {

// Records each message, closes the channel at the first and takes the decoder ("frames") out at
// the second.
class ClosesThenRemoves : public ChannelHandler {
 public:
  std::vector<std::string> seen;
  void on_read(HandlerContext& ctx, Message&& message) override {
    seen.push_back(text_of(message));
    if (seen.size() == 1) ctx.close();
    if (seen.size() == 2) ctx.pipeline().remove("frames");
  }
};

}  // namespace

// The close at the first frame ends the input inside decode(): the decoder decodes the rest
// there, and its removal at the next frame must still pass on the bytes after that one rather
// than have the end of input drop them.
TEST_CASE("a decoder taken out at a frame decoded at the end of input passes its bytes on") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames", std::make_unique<SizedFrames>(4));
    p.add_last("handler", std::make_unique<ClosesThenRemoves>());
  });
  auto& handler_after = handler<ClosesThenRemoves>(*channel, "handler");
  channel->write_inbound(bytes("aaaabbbbcc"));
  CHECK_FALSE(channel->is_open());
  CHECK(channel->pipeline().names() == std::vector<std::string>{"handler"});
  CHECK(handler_after.seen == std::vector<std::string>{"aaaa", "bbbb", "cc"});
}

TEST_CASE("a decoder taken out of the pipeline from outside passes its leftover bytes on") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<SizedFrames>(4)); });
  channel->write_inbound(bytes("abcdefg"));
  channel->pipeline().remove("frames");
  channel->write_inbound(bytes("hi"));
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd", "efg", "hi"});
}

TEST_CASE("a CodecError thrown by decode() reaches on_error with its code") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("decoder", std::make_unique<ThrowingDecoder>());
    p.add_last("probe", std::make_unique<Probe>());
  });
  channel->write_inbound(bytes("abX"));
  auto& probe = handler<Probe>(*channel, "probe");
  REQUIRE(probe.errors.size() == 1);
  CHECK(probe.errors[0] == CodecErrc::corrupted_frame);
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"a", "b"});
  const auto errors = channel->take_errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == CodecErrc::corrupted_frame);
}

TEST_CASE("any other exception thrown by decode() reaches on_error as a handler exception") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("decoder", std::make_unique<ThrowingDecoder>());
    p.add_last("probe", std::make_unique<Probe>());
  });
  channel->write_inbound(bytes("R"));
  auto& probe = handler<Probe>(*channel, "probe");
  REQUIRE(probe.errors.size() == 1);
  CHECK(probe.errors[0] == ChannelErrc::handler_exception);
  CHECK(probe.errors[0].message().find("decoder failed") != std::string::npos);
}

TEST_CASE("with auto-read off a batch that completes no frame asks for more bytes") {
  ChannelOptions options;
  options.auto_read = false;
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) {
        p.add_last("probe", std::make_unique<Probe>());
        p.add_last("frames", std::make_unique<SizedFrames>(4));
      },
      options);
  auto& probe = handler<Probe>(*channel, "probe");
  channel->write_inbound(bytes("ab"));
  CHECK(probe.read_requests == 1);
  channel->write_inbound(bytes("cd"));
  CHECK(probe.read_requests == 1);  // a frame came out: the application decides when to read
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd"});
}

namespace {

// Emits contiguous frames of `size` bytes, cumulating in merge mode.
class MergedFrames : public ByteToMessageDecoder {
 public:
  explicit MergedFrames(std::size_t size) : ByteToMessageDecoder(Cumulation::kMerge), size_(size) {}

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    if (in.readable_bytes() >= size_) ctx.fire_read(in.read_buffer(size_));
  }

 private:
  std::size_t size_;
};

// 4-byte frames; the test pauses and resumes it. decode_last counts its calls and emits
// "last:<rest>".
class PausableFrames : public ByteToMessageDecoder {
 public:
  HandlerContext* context = nullptr;
  int decode_last_calls = 0;
  void on_added(HandlerContext& ctx) override { context = &ctx; }
  void pause() { pause_decoding(*context); }
  void resume() { resume_decoding(*context); }
  using ByteToMessageDecoder::input_finished;

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    if (in.readable_bytes() >= 4) ctx.fire_read(in.read_buffer(4));
  }
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override {
    ++decode_last_calls;
    while (in.readable_bytes() >= 4)
      ctx.fire_read(in.read_buffer(4));
    std::string rest = sluice::test::text_of(in);
    in.skip(in.readable_bytes());
    ctx.fire_read(std::string("last:") + rest);
  }
};

// Counts the read requests that pass it toward the head.
class ReadCounter : public ChannelHandler {
 public:
  int read_requests = 0;
  void read(HandlerContext& ctx) override {
    ++read_requests;
    ctx.read();
  }
};

// Inbound messages as text, strings included.
std::vector<std::string> texts(EmbeddedChannel& channel) {
  std::vector<std::string> out;
  for (Message m = channel.read_inbound(); m; m = channel.read_inbound()) {
    out.push_back(m.is<std::string>() ? m.as<std::string>() : sluice::test::text_of(m));
  }
  return out;
}

}  // namespace

// A merge-mode decoder fed slices (the frames of a decoder in front of it, or a leftover passed
// on) must cumulate them like any other read: a slice's max capacity is its length, so writing
// the next read into it throws CapacityExceededError.
TEST_CASE("a merge-mode decoder cumulates inbound slices without failing") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    LengthFieldFrameOptions options;
    options.length_field_length = 1;
    options.initial_bytes_to_strip = 1;
    p.add_last("frames", std::make_unique<LengthFieldBasedFrameDecoder>(options));
    p.add_last("merged", std::make_unique<MergedFrames>(4));
  });
  channel->write_inbound(
      bytes(std::string("\x02"
                        "ab",
                        3)));
  channel->write_inbound(
      bytes(std::string("\x02"
                        "cd",
                        3)));
  CHECK(channel->take_errors().empty());
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd"});
}

TEST_CASE("a merge-mode decoder cumulates a single inbound slice") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("merged", std::make_unique<MergedFrames>(4)); });
  Buffer slice;
  {
    Buffer whole = bytes("xxab");
    slice = whole.slice(2, 2);  // `whole` goes: the slice is the only handle
  }
  channel->write_inbound(std::move(slice));
  channel->write_inbound(bytes("cd"));
  CHECK(channel->take_errors().empty());
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd"});
}

// With auto_read off, a read batch that completes no frame must ask for more bytes
// (on_read_complete does). A batch that arrived while paused skipped that request; when
// resume_decoding() decodes it and still no frame comes out, nothing ever asks again: the
// channel stalls with a partial frame.
TEST_CASE("with auto-read off, resuming on a partial frame asks for more bytes") {
  ChannelOptions options;
  options.auto_read = false;
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) {
        p.add_last("counter", std::make_unique<ReadCounter>());
        p.add_last("frames", std::make_unique<PausableFrames>());
      },
      options);
  auto& counter = handler<ReadCounter>(*channel, "counter");
  auto& decoder = handler<PausableFrames>(*channel, "frames");
  decoder.pause();
  channel->write_inbound(bytes("ab"));
  CHECK(counter.read_requests == 0);  // held back while paused
  decoder.resume();
  channel->run_pending();
  CHECK(channel->inbound_count() == 0);
  CHECK(counter.read_requests == 1);  // the partial frame needs more bytes
}

// Input shutdown while paused defers decode_last to resume_decoding(); if the channel then goes
// inactive before any resume, on_inactive sees input_ended_ and skips the end of input, so
// decode_last never runs and input_finished() stays false — unlike inactive while paused
// without the half-close, which does run decode_last.
TEST_CASE("decode_last runs when the channel closes after a half-close while paused") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<PausableFrames>()); });
  auto& decoder = handler<PausableFrames>(*channel, "frames");
  decoder.pause();
  channel->write_inbound(bytes("abcdef"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  CHECK(decoder.decode_last_calls == 0);  // deferred while paused: fine
  channel->finish();
  CHECK(decoder.decode_last_calls == 1);
  CHECK(decoder.input_finished());
  CHECK(texts(*channel) == std::vector<std::string>{"abcd", "last:ef"});
}

namespace {

// Records, in the order they arrive, the messages read (as text) and the half-close.
class Sequence : public ChannelHandler {
 public:
  std::vector<std::string> seen;
  void on_read(HandlerContext&, Message&& message) override {
    seen.push_back(message.is<std::string>() ? message.as<std::string>()
                                             : sluice::test::text_of(message));
  }
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<ChannelInputShutdown>()) seen.emplace_back("input shutdown");
    ctx.fire_user_event(std::move(event));
  }
};

// PausableFrames that throws on a frame starting with 'X' (without consuming it).
class PausableStrictFrames : public PausableFrames {
 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    if (in.get_u8(0) == 'X') throw CorruptedFrameError("frames must not start with X");
    PausableFrames::decode(ctx, in);
  }
};

// Takes the decoder ("frames") out of the pipeline when its last frame arrives.
class RemovesDecoderAtLast : public Sequence {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    const bool last = message.is<std::string>() && message.as<std::string>().starts_with("last:");
    Sequence::on_read(ctx, std::move(message));
    if (last) ctx.pipeline().remove("frames");
  }
};

}  // namespace

// A handler after the decoder must not hear that the input ended and then receive frames.
TEST_CASE("a half-close while paused goes on after the frames held back") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames", std::make_unique<PausableFrames>());
    p.add_last("sequence", std::make_unique<Sequence>());
  });
  auto& decoder = handler<PausableFrames>(*channel, "frames");
  auto& sequence = handler<Sequence>(*channel, "sequence");
  decoder.pause();
  channel->write_inbound(bytes("abcdef"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  CHECK(sequence.seen.empty());
  CHECK(channel->take_user_events().empty());
  SUBCASE("resumed") {
    decoder.resume();
    CHECK(sequence.seen == std::vector<std::string>{"abcd", "last:ef", "input shutdown"});
    channel->finish();  // the end of input was handled once
    CHECK(decoder.decode_last_calls == 1);
  }
  SUBCASE("closed before any resume") {
    channel->finish();
    CHECK(sequence.seen == std::vector<std::string>{"abcd", "last:ef", "input shutdown"});
  }
  SUBCASE("taken out of the pipeline before any resume") {
    channel->pipeline().remove("frames");
    CHECK(sequence.seen == std::vector<std::string>{"abcdef", "input shutdown"});
  }
  CHECK(channel->take_user_events().size() == 1);
}

// The half-close held while paused was passed on by the decoder only if it was still in the
// pipeline when its last frame had gone out: taken out at that frame, the handlers after it never
// heard that the input had ended (unlike a half-close that arrives while not paused).
TEST_CASE("a half-close goes on when the decoder is taken out at its last frame") {
  for (const bool paused : {false, true}) {
    CAPTURE(paused);
    auto channel = EmbeddedChannel::create([](Pipeline& p) {
      p.add_last("frames", std::make_unique<PausableFrames>());
      p.add_last("sequence", std::make_unique<RemovesDecoderAtLast>());
    });
    auto& decoder = handler<PausableFrames>(*channel, "frames");
    auto& sequence = handler<RemovesDecoderAtLast>(*channel, "sequence");
    if (paused) decoder.pause();
    channel->write_inbound(bytes("abcdef"));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    if (paused) decoder.resume();
    CHECK(channel->pipeline().names() == std::vector<std::string>{"sequence"});
    CHECK(sequence.seen == std::vector<std::string>{"abcd", "last:ef", "input shutdown"});
    CHECK(channel->take_user_events().size() == 1);
  }
}

// decode() ran on resume outside any try: what it threw escaped from resume_decoding() into
// whoever resumed (a timer, a write callback) instead of reaching on_error.
TEST_CASE("an exception thrown by decode() on resume reaches on_error, not the caller") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames", std::make_unique<PausableStrictFrames>());
    p.add_last("probe", std::make_unique<Probe>());
  });
  auto& decoder = handler<PausableStrictFrames>(*channel, "frames");
  decoder.pause();
  channel->write_inbound(bytes("abcdXY"));
  CHECK_NOTHROW(decoder.resume());
  auto& probe = handler<Probe>(*channel, "probe");
  REQUIRE(probe.errors.size() == 1);
  CHECK(probe.errors[0] == CodecErrc::corrupted_frame);
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd"});
  CHECK(decoder.cumulated_bytes() == 2);
}

TEST_CASE("decode_last runs when the channel closes while paused") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("frames", std::make_unique<PausableFrames>()); });
  auto& decoder = handler<PausableFrames>(*channel, "frames");
  decoder.pause();
  channel->write_inbound(bytes("abcdef"));
  channel->finish();
  CHECK(decoder.decode_last_calls == 1);
  CHECK(decoder.input_finished());
  CHECK(texts(*channel) == std::vector<std::string>{"abcd", "last:ef"});
}

namespace {

// Throws on a frame that starts with 'X' without consuming it; other bytes are 1-byte frames.
class StuckDecoder : public ByteToMessageDecoder {
 public:
  explicit StuckDecoder(std::size_t max_cumulation)
      : ByteToMessageDecoder(Cumulation::kComposite, max_cumulation) {}

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    if (in.get_u8(0) == 'X') throw CorruptedFrameError("frames must not start with X");
    ctx.fire_read(in.read_buffer(1));
  }
};

// 4-byte frames; at the end of input a partial frame is an error (a truncated message).
class StrictLast : public SizedFrames {
 public:
  StrictLast() : SizedFrames(4) {}

 protected:
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override {
    decode(ctx, in);
    if (!in.empty()) throw CorruptedFrameError("the input ended inside a frame");
  }
};

}  // namespace

// A decoder that throws on bytes it cannot consume keeps them; the exception skipped the limit
// check, so every later read piled up behind them and the limit never closed the channel.
TEST_CASE("the cumulation limit holds for a decoder that throws without consuming") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("decoder", std::make_unique<StuckDecoder>(8));
    p.add_last("probe", std::make_unique<Probe>());
  });
  auto& decoder = handler<StuckDecoder>(*channel, "decoder");
  channel->write_inbound(bytes("abX"));
  CHECK(test::error_codes(*channel) == std::vector<std::error_code>{CodecErrc::corrupted_frame});
  CHECK(channel->is_open());
  channel->write_inbound(bytes("12345"));
  channel->write_inbound(bytes("67890"));
  CHECK(test::error_codes(*channel) == std::vector<std::error_code>{CodecErrc::corrupted_frame,
                                                                    CodecErrc::corrupted_frame,
                                                                    CodecErrc::cumulation_limit});
  CHECK_FALSE(channel->is_open());
  CHECK(decoder.cumulated_bytes() == 0);
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"a", "b"});
}

// An exception from decode_last propagated out of on_inactive (or on_user_event): the handlers
// after the decoder never saw the channel go inactive (or the half-close), and the cumulation
// kept the bytes.
TEST_CASE("a decoder that fails at the end of input still passes the end on and drops its bytes") {
  SUBCASE("inactive") {
    auto channel = EmbeddedChannel::create([](Pipeline& p) {
      p.add_last("decoder", std::make_unique<StrictLast>());
      p.add_last("probe", std::make_unique<Probe>());
    });
    auto& decoder = handler<StrictLast>(*channel, "decoder");
    channel->write_inbound(bytes("abcdef"));
    channel->finish();
    auto& probe = handler<Probe>(*channel, "probe");
    REQUIRE(probe.errors.size() == 1);
    CHECK(probe.errors[0] == CodecErrc::corrupted_frame);
    CHECK(probe.inactive == 1);
    CHECK(decoder.cumulated_bytes() == 0);
    CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd"});
  }
  SUBCASE("half-close") {
    auto channel = EmbeddedChannel::create([](Pipeline& p) {
      p.add_last("decoder", std::make_unique<StrictLast>());
      p.add_last("probe", std::make_unique<Probe>());
    });
    auto& decoder = handler<StrictLast>(*channel, "decoder");
    channel->write_inbound(bytes("abcdef"));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    CHECK(handler<Probe>(*channel, "probe").errors.size() == 1);
    const auto events = channel->take_user_events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].is<ChannelInputShutdown>());
    CHECK(decoder.cumulated_bytes() == 0);
  }
}

// Frames that a decoder in front hands out as CompositeBuffers (a length-field decoder with
// contiguous_frames off) are bytes like any Buffer; they went past the decoder undecoded, as if
// they were some other message.
TEST_CASE("a decoder behind one that emits CompositeBuffer frames decodes them") {
  for (const auto mode :
       {ByteToMessageDecoder::Cumulation::kComposite, ByteToMessageDecoder::Cumulation::kMerge}) {
    auto channel = EmbeddedChannel::create([mode](Pipeline& p) {
      LengthFieldFrameOptions options;
      options.length_field_length = 1;
      options.initial_bytes_to_strip = 1;
      options.contiguous_frames = false;
      p.add_last("frames", std::make_unique<LengthFieldBasedFrameDecoder>(options));
      p.add_last("pairs", std::make_unique<SizedFrames>(2, true, mode));
    });
    channel->write_inbound(
        bytes(std::string("\x05"
                          "abc",
                          4)));
    channel->write_inbound(
        bytes(std::string("de\x01"
                          "f",
                          4)));
    CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"ab", "cd", "ef"});
    CHECK(handler<SizedFrames>(*channel, "pairs").cumulated_bytes() == 0);
  }
}

namespace {

// Closes the channel on the first message it reads; counts the events that follow inactive.
class CloseOnFirst : public ChannelHandler {
 public:
  int inactive = 0;
  int events_after_inactive = 0;
  void on_read(HandlerContext& ctx, Message&&) override {
    if (inactive != 0) ++events_after_inactive;
    ctx.close();
  }
  void on_read_complete(HandlerContext&) override {
    if (inactive != 0) ++events_after_inactive;
  }
  void on_inactive(HandlerContext& ctx) override {
    ++inactive;
    ctx.fire_inactive();
  }
};

}  // namespace

// resume_decoding() ended the frames it decoded with a read-complete even when one of them had
// closed the channel: the handlers got an event after on_inactive, which the transport never
// sends.
TEST_CASE("a handler that closes the channel on a frame decoded on resume sees nothing after") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("frames", std::make_unique<PausableFrames>());
    p.add_last("closer", std::make_unique<CloseOnFirst>());
  });
  auto& decoder = handler<PausableFrames>(*channel, "frames");
  auto& closer = handler<CloseOnFirst>(*channel, "closer");
  decoder.pause();
  channel->write_inbound(bytes("abcd"));
  decoder.resume();
  channel->run_pending();
  CHECK_FALSE(channel->is_open());
  CHECK(closer.inactive == 1);
  CHECK(closer.events_after_inactive == 0);
}

// With auto-read off, a batch whose bytes the decoder consumed without emitting anything (it
// skipped them, or discarded a too-long frame) counted as one that completed a frame: no read
// was asked for, and the channel waited for ever for bytes it never requested.
TEST_CASE("with auto-read off a batch consumed without a frame still asks for more bytes") {
  ChannelOptions options;
  options.auto_read = false;
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) {
        p.add_last("probe", std::make_unique<Probe>());
        p.add_last("skip", std::make_unique<Skipper>());
      },
      options);
  auto& probe = handler<Probe>(*channel, "probe");
  channel->write_inbound(bytes("abcd"));
  CHECK(probe.read_requests == 1);
  channel->write_inbound(bytes("ef"));
  CHECK(probe.read_requests == 2);
}
