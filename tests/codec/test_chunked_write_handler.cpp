// ChunkedWriteHandler: a ChunkedStream's chunks go out in order, pulled while the channel is
// writable, then what was written after the stream; an input error or a close fails the writes
// once each.
#include <doctest/doctest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/chunked_write_handler.hpp"

using namespace sluice;
using sluice::test::bytes;

namespace {

// Hands out the given chunks, then an error if asked to.
class ListInput : public ChunkedInput {
 public:
  ListInput(std::vector<std::string> chunks, bool fail_after)
      : chunks_(std::move(chunks)), fail_(fail_after) {}
  Result<std::optional<Buffer>> next_chunk() override {
    if (next_ < chunks_.size()) {
      progress_ += chunks_[next_].size();
      return std::optional<Buffer>(Buffer::copy_of(chunks_[next_++]));
    }
    if (fail_) return Error(std::make_error_code(std::errc::io_error), "input failed");
    return std::optional<Buffer>();
  }
  std::uint64_t length() const override { return 0; }
  std::uint64_t progress() const override { return progress_; }

 private:
  std::vector<std::string> chunks_;
  bool fail_;
  std::size_t next_ = 0;
  std::uint64_t progress_ = 0;
};

// Throws instead of returning an error.
class ThrowingInput : public ChunkedInput {
 public:
  Result<std::optional<Buffer>> next_chunk() override { throw std::runtime_error("disk on fire"); }
  std::uint64_t length() const override { return 0; }
  std::uint64_t progress() const override { return 0; }
};

// Hands out one-byte chunks, `total` of them, counting how many were asked for.
class CountingInput : public ChunkedInput {
 public:
  CountingInput(std::size_t total, std::size_t& pulled) : total_(total), pulled_(pulled) {}
  Result<std::optional<Buffer>> next_chunk() override {
    if (pulled_ == total_) return std::optional<Buffer>();
    ++pulled_;
    return std::optional<Buffer>(Buffer::copy_of(std::string_view("x")));
  }
  std::uint64_t length() const override { return total_; }
  std::uint64_t progress() const override { return pulled_; }

 private:
  std::size_t total_;
  std::size_t& pulled_;
};

// Fails every write at once and leaves the channel open, as the HTTP codec does once its
// connection is ending (and the transport after shutdown_output()).
class RefusingWrites : public ChannelHandler {
 public:
  void write(HandlerContext&, Message&&, WriteCallback&& done) override {
    complete_write(done, Error(ChannelErrc::output_shutdown, "output is shut down"));
  }
};

// Holds every write's completion until complete_in_order(), as a transport does while the
// bytes wait in the socket, then fails the first non-empty write as one that met a reset.
class CompletesLater : public ChannelHandler {
 public:
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    held_.push_back({message.bytes() != 0, std::move(done)});
    ctx.write(std::move(message));
  }
  void complete_in_order() {
    bool failed = false;
    for (auto& [has_bytes, done] : held_) {
      if (has_bytes && !failed) {
        failed = true;
        complete_write(done, Error(std::make_error_code(std::errc::connection_reset)));
      } else {
        complete_write(done, Error());
      }
    }
    held_.clear();
  }

 private:
  std::vector<std::pair<bool, WriteCallback>> held_;
};

std::vector<std::string> outbound_texts(EmbeddedChannel& channel) {
  std::vector<std::string> out;
  for (Message m = channel.read_outbound(); m; m = channel.read_outbound()) {
    out.push_back(sluice::test::text_of(m));
  }
  return out;
}

}  // namespace

TEST_CASE("a stream's chunks go out in order, then what follows") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("chunked", std::make_unique<ChunkedWriteHandler>()); });
  std::vector<Error> stream_results, tail_results;
  channel->pipeline().write(
      ChunkedStream{std::make_unique<ListInput>(std::vector<std::string>{"ab", "cd"}, false)},
      [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().write(bytes("tail"), [&](const Error& e) { tail_results.push_back(e); });
  channel->pipeline().flush();
  channel->run_pending();
  CHECK(outbound_texts(*channel) == std::vector<std::string>{"ab", "cd", "", "tail"});
  REQUIRE(stream_results.size() == 1);
  CHECK(!stream_results[0]);
  REQUIRE(tail_results.size() == 1);
  CHECK(!tail_results[0]);
}

TEST_CASE("an input error fails the stream and what follows it, once each, and closes") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("chunked", std::make_unique<ChunkedWriteHandler>()); });
  std::vector<Error> stream_results, tail_results;
  channel->pipeline().write(
      ChunkedStream{std::make_unique<ListInput>(std::vector<std::string>{"ab"}, true)},
      [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().write(bytes("tail"), [&](const Error& e) { tail_results.push_back(e); });
  channel->pipeline().flush();
  channel->run_pending();
  CHECK(stream_results.size() == 1);
  CHECK(tail_results.size() == 1);
  CHECK(!channel->is_open());
  CHECK(channel->take_errors().size() == 1);
}

TEST_CASE("a close before the flush fails the queued stream and write once each") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("chunked", std::make_unique<ChunkedWriteHandler>()); });
  std::vector<Error> stream_results, tail_results;
  channel->pipeline().write(
      ChunkedStream{std::make_unique<ListInput>(std::vector<std::string>{"ab"}, false)},
      [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().write(bytes("tail"), [&](const Error& e) { tail_results.push_back(e); });
  channel->finish();
  CHECK(stream_results.size() == 1);
  CHECK(tail_results.size() == 1);
}

TEST_CASE("an input that throws fails its stream as an error does, and the channel closes") {
  // The throw used to leave the handler marked as pumping for good: every later write stalled.
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("chunked", std::make_unique<ChunkedWriteHandler>()); });
  std::vector<Error> stream_results;
  channel->pipeline().write(ChunkedStream{std::make_unique<ThrowingInput>()},
                            [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().flush();
  channel->run_pending();
  REQUIRE(stream_results.size() == 1);
  CHECK(stream_results[0].message().find("disk on fire") != std::string::npos);
  CHECK(channel->take_errors().size() == 1);
  CHECK_FALSE(channel->is_open());
}

// A stream written after the close was queued and never pumped (the channel is not open), so
// its callback waited until the handler was torn down; the head fails any other write at once.
TEST_CASE("a stream written after the close fails when flushed, with what waits behind it") {
  std::vector<Error> stream_results, tail_results;  // outlive the channel
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("chunked", std::make_unique<ChunkedWriteHandler>()); });
  channel->close();
  channel->run_pending();
  channel->pipeline().write(
      ChunkedStream{std::make_unique<ListInput>(std::vector<std::string>{"ab"}, false)},
      [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().write(bytes("tail"), [&](const Error& e) { tail_results.push_back(e); });
  channel->pipeline().flush();
  channel->run_pending();
  REQUIRE(stream_results.size() == 1);
  CHECK(stream_results[0] == ChannelErrc::closed);
  REQUIRE(tail_results.size() == 1);
  CHECK(tail_results[0] == ChannelErrc::closed);
  CHECK(channel->outbound_count() == 0);
}

// A write's callback runs inside the flush that sends it, the last one of a pump included: a
// stream written and flushed from there (the next response of a pipelined connection) found
// the handler still pumping and waited for a flush that never came.
TEST_CASE("a stream written and flushed from the callback of the stream before it goes out") {
  std::vector<Error> first_results, second_results, tail_results;  // outlive the channel
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("chunked", std::make_unique<ChunkedWriteHandler>()); });
  channel->pipeline().write(
      ChunkedStream{std::make_unique<ListInput>(std::vector<std::string>{"ab", "cd"}, false)},
      [&](const Error& e) {
        first_results.push_back(e);
        channel->pipeline().write(
            ChunkedStream{std::make_unique<ListInput>(std::vector<std::string>{"ef"}, false)},
            [&](const Error& e2) { second_results.push_back(e2); });
        channel->pipeline().write(bytes("tail"),
                                  [&](const Error& e3) { tail_results.push_back(e3); });
        channel->pipeline().flush();
      });
  channel->pipeline().flush();
  channel->run_pending();
  CHECK(outbound_texts(*channel) == std::vector<std::string>{"ab", "cd", "", "ef", "", "tail"});
  REQUIRE(first_results.size() == 1);
  CHECK(!first_results[0]);
  REQUIRE(second_results.size() == 1);
  CHECK(!second_results[0]);
  REQUIRE(tail_results.size() == 1);
  CHECK(!tail_results[0]);
}

// Nothing queues a refused chunk, so the channel stays writable: the pump used to read the
// whole input, as fast as it could be read, only to have every chunk refused (a multi-GiB file
// read in one go on the loop thread, for a client whose connection was already ending).
TEST_CASE("a chunk whose write fails ends its stream with that error; the rest is not read") {
  std::size_t pulled = 0;
  std::vector<Error> stream_results, tail_results;  // outlive the channel
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("refusing", std::make_unique<RefusingWrites>());
    p.add_last("chunked", std::make_unique<ChunkedWriteHandler>());
  });
  channel->pipeline().write(ChunkedStream{std::make_unique<CountingInput>(1000, pulled)},
                            [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().write(bytes("tail"), [&](const Error& e) { tail_results.push_back(e); });
  channel->pipeline().flush();
  channel->run_pending();
  CHECK(pulled == 1);
  REQUIRE(stream_results.size() == 1);
  CHECK(stream_results[0] == ChannelErrc::output_shutdown);
  REQUIRE(tail_results.size() == 1);
  CHECK(tail_results[0] == ChannelErrc::output_shutdown);
  CHECK(channel->is_open());
}

// The stream's callback took the result of the empty write that ends it, which succeeds when
// the channel stays open, though a chunk before it had failed.
TEST_CASE("a chunk that fails as it completes fails its stream, though the input has ended") {
  std::vector<Error> stream_results;  // outlives the channel
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("completes-later", std::make_unique<CompletesLater>());
    p.add_last("chunked", std::make_unique<ChunkedWriteHandler>());
  });
  channel->pipeline().write(
      ChunkedStream{std::make_unique<ListInput>(std::vector<std::string>{"ab"}, false)},
      [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().flush();
  channel->run_pending();
  CHECK(outbound_texts(*channel) == std::vector<std::string>{"ab", ""});  // the end was pulled
  CHECK(stream_results.empty());
  static_cast<CompletesLater*>(channel->pipeline().get("completes-later"))->complete_in_order();
  REQUIRE(stream_results.size() == 1);
  CHECK(stream_results[0] == std::errc::connection_reset);
}

// A moved-from stream reached next_chunk() through a null input and crashed the loop thread.
TEST_CASE("a stream without an input is empty: it completes in its turn") {
  std::vector<Error> stream_results, tail_results;  // outlive the channel
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("chunked", std::make_unique<ChunkedWriteHandler>()); });
  ChunkedStream stream{std::make_unique<ListInput>(std::vector<std::string>{"ab"}, false)};
  ChunkedStream taken = std::move(stream);
  channel->pipeline().write(std::move(stream),
                            [&](const Error& e) { stream_results.push_back(e); });
  channel->pipeline().write(bytes("tail"), [&](const Error& e) { tail_results.push_back(e); });
  channel->pipeline().flush();
  channel->run_pending();
  CHECK(outbound_texts(*channel) == std::vector<std::string>{"", "tail"});
  REQUIRE(stream_results.size() == 1);
  CHECK(!stream_results[0]);
  REQUIRE(tail_results.size() == 1);
  CHECK(!tail_results[0]);
  CHECK(channel->is_open());
}

TEST_CASE("a ChunkedFile with a chunk size of 0, or over a buffer's capacity, is refused") {
  auto opened = File::open("/proc/self/exe");
  REQUIRE(opened);
  CHECK_THROWS_AS(ChunkedFile(*opened, 0, 3, 0), std::invalid_argument);
  CHECK_THROWS_AS(ChunkedFile(*opened, 0, 3, Buffer::kMaxCapacity + 1), std::invalid_argument);
}
