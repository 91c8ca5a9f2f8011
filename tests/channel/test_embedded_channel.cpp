// EmbeddedChannel's own contract: dropped finished or not, writes recorded in order, and what
// write callbacks may do.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "sluice/channel/channel_error.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/channel/handler_context.hpp"
#include "sluice/channel/pipeline.hpp"
#include "support/allocation_hooks.hpp"

using namespace sluice;

namespace {

std::string text(Message& message) {
  return std::string(message.as<Buffer>().readable_view());
}

// Writes what it reads without flushing; a failed write is reported through its context.
class WriteBackUnflushed final : public ChannelHandler {
 public:
  explicit WriteBackUnflushed(std::vector<Error>& failures) : failures_(failures) {}
  void on_read(HandlerContext& ctx, Message&& message) override {
    ctx.write(std::move(message), [this, &ctx](const Error& error) {
      failures_.push_back(error);
      if (error) ctx.fire_error(error);
    });
  }
  void on_error(HandlerContext&, const Error&) override {}

 private:
  std::vector<Error>& failures_;
};

}  // namespace

TEST_CASE("an unfinished channel dropped with writes queued fails them while its handlers live") {
  // The callbacks used to run after the handlers were deleted (use after free), and the water
  // mark crossing on the way down reached a destroyed pipeline.
  std::vector<Error> failures;
  ChannelOptions options;
  options.write_high_water_mark = 4;
  options.write_low_water_mark = 2;
  auto channel = EmbeddedChannel::create(
      [&](Pipeline& p) { p.add_last("echo", std::make_unique<WriteBackUnflushed>(failures)); },
      options);
  channel->write_inbound(Buffer::copy_of("over the high water mark"));
  CHECK_FALSE(channel->is_writable());
  channel.reset();
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].code() == ChannelErrc::closed);
}

TEST_CASE("an unfinished channel dropped with a write retried while it is open stops retrying") {
  // A write callback that writes again on failure while the channel is open: the channel was
  // still open as it was torn down, so each retry was queued, failed, and retried, for ever.
  auto channel = EmbeddedChannel::create();
  Channel* raw = channel.get();
  int failures = 0;
  // Bounded so that the test ends even where the retries went on for ever.
  constexpr int kMaxFailures = 100;
  std::function<void(const Error&)> retry = [&](const Error& error) {
    if (!error || ++failures > kMaxFailures || !raw->is_open()) return;
    raw->write(Buffer::copy_of("again"), [&](const Error& e) { retry(e); });
  };
  channel->write(Buffer::copy_of("unflushed"), [&](const Error& e) { retry(e); });
  channel.reset();
  CHECK(failures == 1);
}

TEST_CASE("a write made by a write callback is recorded after the write that completed") {
  auto channel = EmbeddedChannel::create();
  channel->write(Buffer::copy_of("first"),
                 [&](const Error&) { channel->write_and_flush(Buffer::copy_of("second")); });
  channel->flush();
  std::vector<std::string> order;
  for (Message m = channel->read_outbound(); m; m = channel->read_outbound())
    order.push_back(text(m));
  CHECK(order == std::vector<std::string>{"first", "second"});
}

TEST_CASE("a write callback that throws anything is logged, not passed on") {
  auto channel = EmbeddedChannel::create();
  int calls = 0;
  channel->write(Buffer::copy_of("x"), [&](const Error&) {
    ++calls;
    throw 42;  // not a std::exception: it used to terminate the process
  });
  channel->flush();
  CHECK(calls == 1);
  CHECK(channel->is_open());
  channel->read_outbound();
}

TEST_CASE("after shutdown_output, writes fail with output_shutdown, as on a socket") {
  // Handlers and codecs tested here must meet what StreamChannel does: the unflushed write
  // fails with the shutdown, later writes fail too and never reach the outbound queue.
  auto channel = EmbeddedChannel::create();
  std::vector<Error> outcomes;
  auto record = [&](const Error& error) { outcomes.push_back(error); };
  channel->write_and_flush(Buffer::copy_of("before"), record);
  channel->write(Buffer::copy_of("unflushed"), record);
  channel->shutdown_output();
  channel->write_and_flush(Buffer::copy_of("after"), record);
  channel->shutdown_output();  // a second one sends (and announces) nothing
  channel->run_pending();

  REQUIRE(outcomes.size() == 3);
  CHECK_FALSE(outcomes[0]);
  CHECK(outcomes[1].code() == ChannelErrc::output_shutdown);
  CHECK(outcomes[2].code() == ChannelErrc::output_shutdown);
  REQUIRE(channel->outbound_count() == 1);
  Message written = channel->read_outbound();
  CHECK(text(written) == "before");
  const std::vector<Message> events = channel->take_user_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].is<ChannelOutputShutdown>());
  CHECK(channel->is_open());
  CHECK_FALSE(channel->finish());
}

TEST_CASE("an embedded channel counts the bytes of what it records as written") {
  auto channel = EmbeddedChannel::create();
  CHECK(channel->bytes_written() == 0);
  REQUIRE(channel->write_outbound(Buffer::copy_of("hello"), Buffer::copy_of(", world")));
  CHECK(channel->bytes_written() == 12);
  channel->write(Buffer::copy_of("unflushed"));
  CHECK(channel->bytes_written() == 12);  // nothing went out yet
  channel->flush();
  CHECK(channel->bytes_written() == 21);
  while (channel->read_outbound()) {
  }
  CHECK(channel->finish() == false);
}

TEST_CASE(
    "a write from another thread that runs out of memory leaves the pending bytes as they were") {
  // Its bytes were counted before the queued write was made, and nothing took them back out:
  // the channel reported them pending, and itself unwritable, for good.
  auto channel = EmbeddedChannel::create();
  bool refused = false;
  std::thread([&] {
    Message message = Buffer::copy_of(std::string(100 * 1024, 'x'));
    test::refuse_next_allocation = true;
    try {
      channel->write(std::move(message));
    } catch (const std::bad_alloc&) {
      refused = true;
    }
    test::refuse_next_allocation = false;
  }).join();
  CHECK(refused);
  CHECK(channel->pending_write_bytes() == 0);
  CHECK(channel->is_writable());
  CHECK_FALSE(channel->finish());
}

TEST_CASE("a flush that runs out of memory while recording counts only what it recorded") {
  // The bytes were counted before the message was recorded: the one that failed counted once
  // then, and again when the next flush recorded it.
  auto channel = EmbeddedChannel::create();
  std::vector<Buffer> parts;
  for (int i = 0; i < 8; ++i)
    parts.push_back(Buffer::copy_of("12345"));
  for (Buffer& part : parts)
    channel->pipeline().write(std::move(part));
  test::refuse_allocations_from = 512;  // the recorded queue's next block, not the error's text
  channel->pipeline().flush();
  test::refuse_allocations_from = 0;
  REQUIRE(channel->outbound_count() < 8);
  CHECK(channel->bytes_written() == 5 * channel->outbound_count());
  channel->pipeline().flush();
  CHECK(channel->outbound_count() == 8);
  CHECK(channel->bytes_written() == 40);
  CHECK(channel->take_errors().size() == 1);
  CHECK(channel->finish());
}

namespace {

// Closes the channel at the first message it reads.
class CloseOnRead final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    ctx.fire_read(std::move(message));
    ctx.close();
  }
};

// Logs the inbound events that reach it.
class InboundLog final : public ChannelHandler {
 public:
  explicit InboundLog(std::vector<std::string>& log) : log_(log) {}
  void on_read(HandlerContext& ctx, Message&& message) override {
    log_.push_back("read " + text(message));
    ctx.fire_read(std::move(message));
  }
  void on_read_complete(HandlerContext& ctx) override {
    log_.push_back("read_complete");
    ctx.fire_read_complete();
  }
  void on_inactive(HandlerContext& ctx) override {
    log_.push_back("inactive");
    ctx.fire_inactive();
  }

 private:
  std::vector<std::string>& log_;
};

}  // namespace

TEST_CASE("a channel closed by a handler mid-way through write_inbound reads nothing more") {
  // As StreamChannel stops its read batch at a close: no event follows on_inactive.
  std::vector<std::string> log;
  auto channel = EmbeddedChannel::create([&](Pipeline& p) {
    p.add_last("closer", std::make_unique<CloseOnRead>());
    p.add_last("log", std::make_unique<InboundLog>(log));
  });
  CHECK(channel->write_inbound(Buffer::copy_of("a"), Buffer::copy_of("b")));
  CHECK(log == std::vector<std::string>{"read a", "inactive"});
  CHECK(channel->inbound_count() == 1);

  log.clear();
  channel->write_inbound(Buffer::copy_of("c"));
  CHECK(log.empty());
  CHECK(channel->inbound_count() == 1);
  CHECK(channel->finish());  // "a" is still unread
}

namespace {

// Once the channel is writable again, writes and flushes one more message with a callback.
class WriteWhenWritable final : public ChannelHandler {
 public:
  explicit WriteWhenWritable(std::vector<std::string>& log) : log_(log) {}
  void on_writability_changed(HandlerContext& ctx) override {
    if (!ctx.channel().is_writable() || written_) return;
    written_ = true;
    ctx.write_and_flush(Buffer::copy_of("more"),
                        [this](const Error&) { log_.push_back("done more"); });
  }

 private:
  std::vector<std::string>& log_;
  bool written_ = false;
};

}  // namespace

TEST_CASE("write callbacks run in the order of the writes, also for writes made as one completes") {
  std::vector<std::string> log;
  ChannelOptions options;
  options.write_high_water_mark = 4;
  options.write_low_water_mark = 2;
  auto channel = EmbeddedChannel::create(
      [&](Pipeline& p) { p.add_last("more", std::make_unique<WriteWhenWritable>(log)); }, options);
  channel->write_and_flush(Buffer::copy_of("12345"),
                           [&](const Error&) { log.push_back("done first"); });
  channel->run_pending();
  CHECK(log == std::vector<std::string>{"done first", "done more"});
  CHECK(channel->outbound_count() == 2);
  CHECK(channel->pending_write_bytes() == 0);
  channel->finish();
}

namespace {

// On each read, starts a chain of work on the loop: a task that queues a task that starts a
// timer with no delay, each logging as it runs.
class StartsChain final : public ChannelHandler {
 public:
  explicit StartsChain(std::vector<std::string>& log) : log_(log) {}
  void on_read(HandlerContext& ctx, Message&&) override {
    EventLoop& loop = ctx.loop();
    loop.execute([this, &loop] {
      log_.push_back("task");
      loop.execute([this, &loop] {
        log_.push_back("queued by the task");
        (void)loop.schedule(std::chrono::milliseconds(0),
                            [this] { log_.push_back("timer started by it"); });
      });
    });
  }

 private:
  std::vector<std::string>& log_;
};

}  // namespace

TEST_CASE("run_pending runs what the tasks it runs queue, and timers they make due, too") {
  // One pass left the second task, and the timer it starts, for the next call.
  std::vector<std::string> log;
  auto channel = EmbeddedChannel::create(
      [&](Pipeline& p) { p.add_last("chain", std::make_unique<StartsChain>(log)); });
  channel->write_inbound(Buffer::copy_of("go"));  // runs run_pending() once
  CHECK(log == std::vector<std::string>{"task", "queued by the task", "timer started by it"});
  CHECK_FALSE(channel->loop().has_ready_work());
  channel->finish();
}

TEST_CASE("run_pending returns after a bounded number of rounds from a task queueing itself") {
  auto channel = EmbeddedChannel::create();
  EventLoop& loop = channel->loop();
  int runs = 0;
  bool again = true;
  std::function<void()> requeue = [&] {
    ++runs;
    if (again) loop.execute([&] { requeue(); });
  };
  loop.execute([&] { requeue(); });
  channel->run_pending();
  CHECK(runs >= EmbeddedChannel::kMaxPendingRounds - 1);
  CHECK(runs <= EmbeddedChannel::kMaxPendingRounds + 1);
  CHECK(loop.has_ready_work());  // still queued: the bound stopped it, not quiet
  again = false;
  channel->run_pending();
  CHECK_FALSE(loop.has_ready_work());
  channel->finish();
}

TEST_CASE(
    "close_when_flushed closes once what was flushed is recorded, also from a write callback") {
  // Asked between writes the channel records at once, it closes at once; asked from the callback
  // of one of several writes being recorded, it closes after the last of them, as a socket does.
  auto at_once = EmbeddedChannel::create();
  at_once->write_and_flush(Buffer::copy_of("answer"));
  at_once->close_when_flushed();
  CHECK_FALSE(at_once->is_open());
  CHECK(at_once->outbound_count() == 1);

  std::vector<Error> outcomes;  // outlives the channel, whose teardown fails what it still holds
  auto record = [&](const Error& error) { outcomes.push_back(error); };
  auto channel = EmbeddedChannel::create();
  channel->write(Buffer::copy_of("first"), [&](const Error& error) {
    record(error);
    channel->close_when_flushed();
  });
  channel->write(Buffer::copy_of("second"), record);
  channel->flush();
  channel->write(Buffer::copy_of("not flushed"), record);
  channel->run_pending();
  CHECK_FALSE(channel->is_open());
  REQUIRE(outcomes.size() == 3);
  CHECK_FALSE(outcomes[0]);
  CHECK_FALSE(outcomes[1]);
  CHECK(outcomes[2].code() == ChannelErrc::closed);
  CHECK(channel->outbound_count() == 2);
}
