#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/buffer/mapped_region.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/logging_handler.hpp"
#include "sluice/core/log.hpp"
#include "support/allocation_hooks.hpp"
#include "support/captured_log.hpp"

using namespace sluice;
using sluice::test::bytes;
using sluice::test::CapturedLog;
using sluice::test::text_of;

// This program's operator new (support/allocation_hooks.hpp) counts the allocations made on
// each thread and can refuse the large ones, so that tests can tell what work the logging
// handler does.
using sluice::test::allocations_made;
using sluice::test::refuse_allocations_from;

namespace {

// Records every event that reaches it, with what it carried, then passes it on.
class Recorder : public ChannelHandler {
 public:
  Recorder(std::string tag, std::vector<std::string>& log) : tag_(std::move(tag)), log_(log) {}

  void on_active(HandlerContext& ctx) override {
    add("active");
    ctx.fire_active();
  }
  void on_inactive(HandlerContext& ctx) override {
    add("inactive");
    ctx.fire_inactive();
  }
  void on_read(HandlerContext& ctx, Message&& message) override {
    add("read " + describe(message));
    ctx.fire_read(std::move(message));
  }
  void on_read_complete(HandlerContext& ctx) override {
    add("read_complete");
    ctx.fire_read_complete();
  }
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    add("user_event " + describe(event));
    ctx.fire_user_event(std::move(event));
  }
  void on_writability_changed(HandlerContext& ctx) override {
    add("writability");
    ctx.fire_writability_changed();
  }
  void on_error(HandlerContext& ctx, const Error& error) override {
    add("error " + error.message());
    ctx.fire_error(error);
  }
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    add("write " + describe(message) + (done ? " +callback" : ""));
    ctx.write(std::move(message), std::move(done));
  }
  void flush(HandlerContext& ctx) override {
    add("flush");
    ctx.flush();
  }
  void read(HandlerContext& ctx) override {
    add("read_request");
    ctx.read();
  }
  void close(HandlerContext& ctx, CloseMode mode) override {
    add(mode == CloseMode::kNow ? "close" : "close_when_flushed");
    ctx.close(mode);
  }
  void shutdown_output(HandlerContext& ctx) override {
    add("shutdown_output");
    ctx.shutdown_output();
  }

 private:
  static std::string describe(const Message& message) {
    if (const auto* number = message.get_if<int>()) return "int " + std::to_string(*number);
    if (const auto* text = message.get_if<std::string>()) return "string " + *text;
    return text_of(message);
  }
  void add(const std::string& event) { log_.push_back(tag_ + ":" + event); }

  std::string tag_;
  std::vector<std::string>& log_;
};

struct Outcome {
  std::vector<std::string> events;
  std::vector<std::string> inbound;
  std::vector<std::string> outbound;
  std::vector<std::string> user_events;
  std::vector<std::string> errors;
  std::vector<std::string> write_results;
  bool inbound_buffer_is_the_same = false;
  bool outbound_buffer_is_the_same = false;
};

// Runs every kind of event through [recorder "in"] [middle?] [recorder "out"].
Outcome run_events(std::shared_ptr<ChannelHandler> middle) {
  Outcome outcome;
  auto channel = EmbeddedChannel::create([&](Pipeline& p) {
    p.add_last("before", std::make_unique<Recorder>("before", outcome.events));
    if (middle) p.add_last("middle", middle);
    p.add_last("after", std::make_unique<Recorder>("after", outcome.events));
  });
  Buffer inbound = bytes("abc");
  const std::byte* inbound_data = inbound.readable_span().data();
  channel->write_inbound(std::move(inbound), std::string("text"));
  Message first = channel->read_inbound();
  outcome.inbound_buffer_is_the_same =
      first.is<Buffer>() && first.as<Buffer>().readable_span().data() == inbound_data;
  outcome.inbound.push_back(text_of(first));
  outcome.inbound.push_back(text_of(channel->read_inbound()));
  channel->pipeline().fire_user_event(42);
  channel->pipeline().fire_error(Error(CodecErrc::corrupted_frame, "test error"));
  channel->pipeline().fire_writability_changed();
  Buffer outbound = bytes("out");
  const std::byte* outbound_data = outbound.readable_span().data();
  channel->pipeline().write(std::move(outbound), [&](const Error& error) {
    outcome.write_results.push_back(error ? error.message() : "ok");
  });
  channel->pipeline().flush();
  Message written = channel->read_outbound();
  outcome.outbound_buffer_is_the_same =
      written.is<Buffer>() && written.as<Buffer>().readable_span().data() == outbound_data;
  outcome.outbound.push_back(text_of(written));
  channel->pipeline().read();
  channel->pipeline().shutdown_output();
  channel->finish();
  for (const Message& event : channel->take_user_events()) {
    outcome.user_events.push_back(std::string(event.type_name()));
  }
  for (const Error& error : channel->take_errors())
    outcome.errors.push_back(error.message());
  return outcome;
}

}  // namespace

TEST_CASE("the logging handler passes every event on unchanged") {
  CapturedLog captured;
  const Outcome without = run_events(nullptr);
  const Outcome with = run_events(std::make_shared<LoggingHandler>(spdlog::level::trace));
  CHECK(with.events == without.events);
  CHECK(with.inbound == without.inbound);
  CHECK(with.outbound == without.outbound);
  CHECK(with.user_events == without.user_events);
  CHECK(with.errors == without.errors);
  CHECK(with.write_results == without.write_results);
  CHECK(with.inbound_buffer_is_the_same);
  CHECK(with.outbound_buffer_is_the_same);
  // The scenario did exercise every event.
  CHECK(with.events.size() == 2 * 14);
  CHECK(with.write_results == std::vector<std::string>{"ok"});
}

TEST_CASE("the logging handler logs each event, with a hex dump of buffers at trace level") {
  CapturedLog captured;
  run_events(std::make_shared<LoggingHandler>(spdlog::level::trace));
  const std::string log = captured.text();
  for (const char* event : {"ACTIVE", "READ", "READ COMPLETE", "USER EVENT", "ERROR", "WRITE",
                            "FLUSH", "READ REQUEST", "SHUTDOWN OUTPUT", "CLOSE", "INACTIVE"}) {
    CAPTURE(event);
    CHECK(log.find(event) != std::string::npos);
  }
  CHECK(log.find("61 62 63") != std::string::npos);  // "abc" dumped
}

TEST_CASE("a logging handler below the logger's level logs nothing and still passes events") {
  CapturedLog captured;
  spdlog::logger& log = logger();
  log.set_level(spdlog::level::info);
  const Outcome outcome = run_events(std::make_shared<LoggingHandler>(spdlog::level::debug));
  REQUIRE(outcome.inbound.size() == 2);
  CHECK(outcome.inbound[0] == "abc");
  CHECK(outcome.events.size() == 2 * 14);
  CHECK(captured.text().empty());
}

TEST_CASE("one logging handler can serve two pipelines at once") {
  CapturedLog captured;
  auto shared = std::make_shared<LoggingHandler>(spdlog::level::debug);
  auto first = EmbeddedChannel::create([&](Pipeline& p) { p.add_last("log", shared); });
  auto second = EmbeddedChannel::create([&](Pipeline& p) { p.add_last("log", shared); });
  first->write_inbound(bytes("one"));
  second->write_inbound(bytes("two"));
  first->write_inbound(bytes("three"));
  CHECK(test::inbound_texts(*first) == std::vector<std::string>{"one", "three"});
  CHECK(test::inbound_texts(*second) == std::vector<std::string>{"two"});
  const std::string log = captured.text();
  CHECK(log.find("[id " + std::to_string(first->id())) != std::string::npos);
  CHECK(log.find("[id " + std::to_string(second->id())) != std::string::npos);
  first->finish();
  CHECK(second->is_open());  // closing one pipeline leaves the other handler working
  second->write_inbound(bytes("four"));
  CHECK(test::inbound_texts(*second) == std::vector<std::string>{"four"});
}

namespace {

// Ends every inbound event it sees, without allocating.
class InboundSink final : public ChannelHandler {
 public:
  void on_read(HandlerContext&, Message&&) override {}
  void on_read_complete(HandlerContext&) override {}
  void on_user_event(HandlerContext&, Message&&) override {}
  void on_writability_changed(HandlerContext&) override {}
  void on_error(HandlerContext&, const Error&) override {}
};

// Ends every outbound event it sees, without allocating.
class OutboundSink final : public ChannelHandler {
 public:
  void write(HandlerContext&, Message&&, WriteCallback&&) override {}
  void flush(HandlerContext&) override {}
  void read(HandlerContext&) override {}
  void shutdown_output(HandlerContext&) override {}
};

// The allocations made while every event but active, inactive and close crosses `middle`.
std::size_t allocations_for_events(std::shared_ptr<ChannelHandler> middle) {
  auto channel = EmbeddedChannel::create([&](Pipeline& p) {
    p.add_last("outbound-end", std::make_unique<OutboundSink>());
    if (middle) p.add_last("middle", middle);
    p.add_last("inbound-end", std::make_unique<InboundSink>());
  });
  Buffer inbound = bytes("abc");
  Buffer outbound = bytes("out");
  const Error error(CodecErrc::corrupted_frame, "an error whose text is long enough to allocate");
  Pipeline& pipeline = channel->pipeline();
  const std::size_t before = allocations_made;
  pipeline.fire_read(std::move(inbound));
  pipeline.fire_read_complete();
  pipeline.fire_user_event(42);
  pipeline.fire_writability_changed();
  pipeline.fire_error(error);
  pipeline.write(std::move(outbound));
  pipeline.flush();
  pipeline.read();
  pipeline.shutdown_output();
  const std::size_t made = allocations_made - before;
  channel->finish();
  return made;
}

}  // namespace

TEST_CASE("a logging handler below the logger's level does no formatting work") {
  CapturedLog captured;
  logger().set_level(spdlog::level::info);
  REQUIRE(allocations_for_events(nullptr) == 0);  // the events alone allocate nothing
  CHECK(allocations_for_events(std::make_shared<LoggingHandler>(spdlog::level::debug)) == 0);
  logger().set_level(spdlog::level::off);
  CHECK(allocations_for_events(std::make_shared<LoggingHandler>(spdlog::level::trace)) == 0);
  CHECK(captured.text().empty());
}

TEST_CASE("a logging handler that cannot build its line still passes the event on") {
  CapturedLog captured;
  Message passed;
  bool errored = false;
  // Keeps what reaches it in `passed`, without allocating.
  class Keeper final : public ChannelHandler {
   public:
    Keeper(Message& passed, bool& errored) : passed_(passed), errored_(errored) {}
    void on_read(HandlerContext&, Message&& message) override { passed_ = std::move(message); }
    void on_error(HandlerContext&, const Error&) override { errored_ = true; }

   private:
    Message& passed_;
    bool& errored_;
  };
  auto channel = EmbeddedChannel::create([&](Pipeline& p) {
    p.add_last("log", std::make_unique<LoggingHandler>(spdlog::level::trace));
    p.add_last("keep", std::make_unique<Keeper>(passed, errored));
  });
  Buffer data = Buffer::allocate(300);
  data.write_bytes(std::vector<std::byte>(300, std::byte{0x5a}));
  const std::byte* address = data.readable_span().data();
  // Out of memory for anything of 1 KiB or more: the 300-byte hex dump cannot be built.
  refuse_allocations_from = 1024;
  channel->pipeline().fire_read(std::move(data));
  refuse_allocations_from = 0;
  CHECK_FALSE(errored);
  REQUIRE(passed.is<Buffer>());
  CHECK(passed.as<Buffer>().readable_span().data() == address);
  CHECK(passed.as<Buffer>().readable_bytes() == 300);
  passed.reset();
  channel->finish();
}

TEST_CASE("at trace level a composite buffer is dumped across its components") {
  CapturedLog captured;
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("log", std::make_unique<LoggingHandler>(spdlog::level::trace));
  });
  CompositeBuffer composite;
  composite.append(bytes("ab"));
  composite.append(bytes("cd"));
  channel->write_inbound(std::move(composite));
  CHECK(test::inbound_texts(*channel) == std::vector<std::string>{"abcd"});
  CHECK(captured.text().find("61 62 63 64") != std::string::npos);
  // A long one: its first 512 bytes, and how many more there were.
  CompositeBuffer long_one;
  long_one.append(Buffer::copy_of(std::string(300, 'x')));
  long_one.append(Buffer::copy_of(std::string(300, 'y')));
  channel->write_inbound(std::move(long_one));
  CHECK(test::inbound_texts(*channel) ==
        std::vector<std::string>{std::string(300, 'x') + std::string(300, 'y')});
  CHECK(captured.text().find("... 88 more bytes") != std::string::npos);
  channel->finish();
}

TEST_CASE("at trace level bytes mapped from a file are described, not read") {
  // A mapped file that shrinks turns a read of its vanished pages into SIGBUS; only the kernel
  // may read them (it fails the write with EFAULT instead).
  char path[] = "/tmp/sluice-logging-mapped-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  const std::vector<char> content(65536, 'm');
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  auto file = File::open(path);
  ::unlink(path);
  REQUIRE(file);
  Result<Buffer> mapped = map_file_region(**file, 0, content.size());
  REQUIRE(mapped);
  REQUIRE(::ftruncate(fd, 0) == 0);
  ::close(fd);

  CapturedLog captured;
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("log", std::make_unique<LoggingHandler>(spdlog::level::trace));
  });
  channel->write_inbound(std::move(*mapped));
  Message passed = channel->read_inbound();
  REQUIRE(passed.is<Buffer>());
  CHECK(passed.as<Buffer>().readable_bytes() == content.size());
  const std::string log = captured.text();
  CHECK(log.find("READ sluice::Buffer (65536 bytes)") != std::string::npos);
  CHECK(log.find("mapped") != std::string::npos);
  passed.reset();
  channel->finish();
}

TEST_CASE("the logging handler names a close's mode and passes it on") {
  CapturedLog captured;
  std::vector<std::string> seen;
  auto channel = EmbeddedChannel::create([&](Pipeline& p) {
    p.add_last("recorder", std::make_unique<Recorder>("head", seen));
    p.add_last("log", std::make_shared<LoggingHandler>(spdlog::level::debug));
  });
  channel->close_when_flushed();
  CHECK(captured.text().find("CLOSE WHEN FLUSHED") != std::string::npos);
  CHECK(std::find(seen.begin(), seen.end(), "head:close_when_flushed") != seen.end());
}

// spdlog's should_log(off) holds on any logger that is not itself off, so a handler at level off
// wrote every event as an "off" line, hex dumps included.
TEST_CASE("a logging handler at level off logs nothing, whatever the logger's level") {
  CapturedLog captured;
  logger().set_level(spdlog::level::trace);
  const Outcome outcome = run_events(std::make_shared<LoggingHandler>(spdlog::level::off));
  CHECK(outcome.events.size() == 2 * 14);
  CHECK(captured.text().empty());
  CHECK(allocations_for_events(std::make_shared<LoggingHandler>(spdlog::level::off)) == 0);
}
