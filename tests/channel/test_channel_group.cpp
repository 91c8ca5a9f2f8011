// ChannelGroup on embedded channels: membership that follows the members' lives, writes that
// share one buffer's storage, reports and close futures that count every member, and handlers
// that use the group from inside the group's own operations.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sluice/channel/channel_error.hpp"
#include "sluice/channel/channel_group.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/channel/handler_context.hpp"
#include "sluice/channel/pipeline.hpp"
#include "support/allocation_hooks.hpp"

using namespace sluice;

namespace {

std::vector<Ref<EmbeddedChannel>> make_channels(std::size_t count) {
  std::vector<Ref<EmbeddedChannel>> channels;
  for (std::size_t i = 0; i < count; ++i)
    channels.push_back(EmbeddedChannel::create());
  return channels;
}

void add_all(ChannelGroup& group, const std::vector<Ref<EmbeddedChannel>>& channels) {
  for (const Ref<EmbeddedChannel>& channel : channels)
    REQUIRE(group.add(ChannelPtr(channel.get())));
}

// Ready and successful. The group's futures belong to no loop, so then() runs at once.
bool completed(Future<void> future) {
  if (!future.is_ready()) return false;
  bool succeeded = false;
  future.then([&](const Result<void>& result) { succeeded = result.ok(); });
  return succeeded;
}

std::string outbound_text(EmbeddedChannel& channel) {
  Message message = channel.read_outbound();
  if (!message) return "(nothing)";
  return std::string(message.as<Buffer>().readable_view());
}

// Takes every write as sent: completes it and drops it, so that a test can count what the
// group's own path allocates.
class DiscardingSink final : public ChannelHandler {
 public:
  void write(HandlerContext&, Message&&, WriteCallback&& done) override {
    if (done) done(Error());
  }
  void flush(HandlerContext&) override {}
};

// Notes the mode of each close that passes it on the way to the head.
class CloseModeLog final : public ChannelHandler {
 public:
  explicit CloseModeLog(std::vector<CloseMode>& modes) : modes_(modes) {}
  void close(HandlerContext& ctx, CloseMode mode) override {
    modes_.push_back(mode);
    ctx.close(mode);
  }

 private:
  std::vector<CloseMode>& modes_;
};

// Refuses what is written to it by closing its channel, which fires on_inactive there and then,
// in the middle of the group's write; its on_inactive writes to the group too.
class ClosesOnWrite final : public ChannelHandler {
 public:
  explicit ClosesOnWrite(ChannelGroup& group) : group_(group) {}
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    ctx.write(std::move(message), std::move(done));
    ctx.close();
  }
  void on_inactive(HandlerContext& ctx) override {
    group_.write_and_flush(Buffer::copy_of("gone"), ChannelMatcher::all_except(ctx.channel()));
    ctx.fire_inactive();
  }

 private:
  ChannelGroup& group_;
};

// Says goodbye to the rest of its group, and makes the next member leave, as it goes: handlers
// that a group's close() reaches while it goes through the members.
class LeavingHandler final : public ChannelHandler {
 public:
  LeavingHandler(ChannelGroup& group, std::vector<std::string>& log) : group_(group), log_(log) {}
  void on_inactive(HandlerContext& ctx) override {
    const std::size_t reached =
        group_.write_and_flush(Buffer::copy_of("bye from " + std::to_string(ctx.channel().id())),
                               ChannelMatcher::all_except(ctx.channel()));
    log_.push_back("inactive, said bye to " + std::to_string(reached));
    group_.remove(ctx.channel());
    ctx.fire_inactive();
  }

 private:
  ChannelGroup& group_;
  std::vector<std::string>& log_;
};

}  // namespace

TEST_CASE("membership: add once, only open channels, remove, and a closed member leaves") {
  ChannelGroup group("room");
  CHECK(group.name() == "room");
  auto channels = make_channels(3);
  CHECK(group.empty());
  CHECK(group.add(ChannelPtr(channels[0].get())));
  CHECK_FALSE(group.add(ChannelPtr(channels[0].get())));
  CHECK(group.add(ChannelPtr(channels[1].get())));
  CHECK_FALSE(group.add(ChannelPtr()));
  channels[2]->close();
  CHECK_FALSE(group.add(ChannelPtr(channels[2].get())));
  CHECK(group.size() == 2);
  CHECK(group.contains(*channels[0]));
  CHECK_FALSE(group.contains(*channels[2]));

  CHECK(group.remove(*channels[1]));
  CHECK_FALSE(group.remove(*channels[1]));
  CHECK(group.size() == 1);

  channels[0]->close();
  CHECK(group.empty());
  CHECK(group.add(ChannelPtr(channels[0].get())) == false);
  CHECK(group.add(ChannelPtr(channels[1].get())));
  CHECK(group.clear() == 1);
  CHECK(group.empty());
  CHECK(channels[1]->is_open());
  // A member removed and added again leaves once, when it closes.
  CHECK(group.add(ChannelPtr(channels[1].get())));
  CHECK(group.remove(*channels[1]));
  CHECK(group.add(ChannelPtr(channels[1].get())));
  channels[1]->close();
  CHECK(group.empty());
}

TEST_CASE("the group's reference keeps a member alive until it closes") {
  ChannelGroup group;
  auto channel = EmbeddedChannel::create();
  Channel* raw = channel.get();
  REQUIRE(group.add(ChannelPtr(raw)));
  channel.reset();
  // Still there, still usable through the group.
  CHECK(group.size() == 1);
  CHECK(group.write_and_flush(Buffer::copy_of("x")) == 1);
  CHECK(group.members().front().get() == raw);
  CHECK(completed(group.close()));
  CHECK(group.empty());
}

TEST_CASE("write_and_flush gives each member a slice of the same bytes, matched members only") {
  ChannelGroup group;
  auto channels = make_channels(4);
  add_all(group, channels);
  const Buffer line = Buffer::copy_of("hello, room\n");

  CHECK(group.write_and_flush(line, ChannelMatcher::all_except(*channels[2])) == 3);
  for (std::size_t i = 0; i < channels.size(); ++i) {
    CAPTURE(i);
    Message sent = channels[i]->read_outbound();
    if (i == 2) {
      CHECK_FALSE(sent);
      continue;
    }
    REQUIRE(sent);
    const Buffer& bytes = sent.as<Buffer>();
    CHECK(bytes.readable_view() == "hello, room\n");
    CHECK(bytes.readable_view().data() == line.readable_view().data());  // no copy
  }
  CHECK(line.readable_view() == "hello, room\n");  // the caller's indices are untouched

  // A predicate of the caller's own.
  const std::uint64_t wanted = channels[3]->id();
  CHECK(group.write_and_flush(line, [&](const Channel& c) { return c.id() == wanted; }) == 1);
  CHECK(outbound_text(*channels[3]) == "hello, room\n");
  CHECK(outbound_text(*channels[0]) == "(nothing)");
}

TEST_CASE("a composite goes to each member as slices of its components") {
  ChannelGroup group;
  auto channels = make_channels(2);
  add_all(group, channels);
  CompositeBuffer framed;
  framed.append(Buffer::copy_of("head:"));
  framed.append(Buffer::copy_of("payload"));
  CHECK(group.write_and_flush(framed) == 2);
  for (const auto& channel : channels) {
    Message sent = channel->read_outbound();
    REQUIRE(sent.is<CompositeBuffer>());
    const CompositeBuffer& bytes = sent.as<CompositeBuffer>();
    REQUIRE(bytes.component_count() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(bytes.component(i).readable_view().data() ==
            framed.component(i).readable_view().data());  // no copy
    }
    CHECK(bytes.readable_bytes() == framed.readable_bytes());
  }
  CHECK(framed.readable_bytes() == 12);  // the caller's composite is untouched
}

TEST_CASE("write() queues without flushing until the group's flush()") {
  ChannelGroup group;
  auto channels = make_channels(2);
  add_all(group, channels);
  CHECK(group.write(Buffer::copy_of("held")) == 2);
  CHECK(channels[0]->outbound_count() == 0);
  CHECK(channels[1]->pending_write_bytes() == 4);
  group.flush(ChannelMatcher::all_except(*channels[1]));
  CHECK(outbound_text(*channels[0]) == "held");
  CHECK(channels[1]->outbound_count() == 0);
  group.flush();
  CHECK(outbound_text(*channels[1]) == "held");
}

TEST_CASE("a copyable message is copied to each member for its pipeline") {
  ChannelGroup group;
  auto channels = make_channels(2);
  add_all(group, channels);
  const std::string text = "typed";
  CHECK(group.write_and_flush(text) == 2);
  for (const auto& channel : channels) {
    Message sent = channel->read_outbound();
    REQUIRE(sent.is<std::string>());
    CHECK(sent.as<std::string>() == "typed");
  }
}

TEST_CASE("the write report counts every member once, failures with their channel and error") {
  ChannelGroup group;
  auto channels = make_channels(3);
  add_all(group, channels);
  channels[1]->shutdown_output();  // writes to it fail at once, on this thread

  int reports = 0;
  GroupWriteReport seen;
  const std::size_t reached =
      group.write_and_flush(Buffer::copy_of("news"), {}, [&](const GroupWriteReport& report) {
        ++reports;
        seen = report;
      });
  CHECK(reached == 3);
  REQUIRE(reports == 1);
  CHECK(seen.succeeded == 2);
  CHECK_FALSE(seen.ok());
  REQUIRE(seen.failed.size() == 1);
  CHECK(seen.failed[0].first.get() == channels[1].get());
  CHECK(seen.failed[0].second == ChannelErrc::output_shutdown);
  seen = {};  // lets the member go

  // Unflushed writes report when they complete, here when the member closes under them.
  reports = 0;
  group.write(Buffer::copy_of("later"), ChannelMatcher::all_except(*channels[1]),
              [&](const GroupWriteReport& report) {
                ++reports;
                seen = report;
              });
  CHECK(reports == 0);
  group.flush(ChannelMatcher::all_except(*channels[0]));
  CHECK(reports == 0);
  channels[0]->close();
  REQUIRE(reports == 1);
  CHECK(seen.succeeded == 1);
  REQUIRE(seen.failed.size() == 1);
  CHECK(seen.failed[0].second == ChannelErrc::closed);
  seen = {};

  // No member matched: the report comes at once, empty.
  reports = 0;
  CHECK(group.write_and_flush(
            Buffer::copy_of("nobody"), [](const Channel&) { return false; },
            [&](const GroupWriteReport& report) {
              ++reports;
              CHECK(report.succeeded == 0);
              CHECK(report.ok());
            }) == 0);
  CHECK(reports == 1);
}

TEST_CASE("close() closes the matched members and completes once all have closed") {
  ChannelGroup group;
  auto channels = make_channels(3);
  add_all(group, channels);
  CHECK(completed(group.close(ChannelMatcher::all_except(*channels[0]))));
  CHECK(channels[0]->is_open());
  CHECK_FALSE(channels[1]->is_open());
  CHECK_FALSE(channels[2]->is_open());
  CHECK(group.size() == 1);

  // Nothing to close: complete at once.
  CHECK(completed(group.close([](const Channel&) { return false; })));
  CHECK(channels[0]->is_open());
}

TEST_CASE("close_when_flushed() lets what was flushed go first") {
  ChannelGroup group;
  // An embedded channel records a flush at once, so by the close nothing flushed is left to
  // wait for: only the mode the handlers see tells close_when_flushed() from close().
  std::vector<CloseMode> modes;
  std::vector<Ref<EmbeddedChannel>> channels;
  for (int i = 0; i < 2; ++i) {
    channels.push_back(EmbeddedChannel::create(
        [&](Pipeline& p) { p.add_last("modes", std::make_unique<CloseModeLog>(modes)); }));
  }
  add_all(group, channels);
  group.write_and_flush(Buffer::copy_of("last words"));
  Future<void> closed = group.close_when_flushed();
  channels[0]->run_pending();
  CHECK(completed(closed));
  for (const auto& channel : channels) {
    CHECK_FALSE(channel->is_open());
    CHECK(outbound_text(*channel) == "last words");
  }
  CHECK(group.empty());
  CHECK(modes == std::vector<CloseMode>{CloseMode::kWhenFlushed, CloseMode::kWhenFlushed});
}

TEST_CASE("handlers closed by the group may write to it and leave it from on_inactive") {
  // With the group's lock held through its close(), the first on_inactive would deadlock (or,
  // with the list iterated in place, the removal would invalidate the iteration).
  ChannelGroup group;
  std::vector<std::string> log;
  std::vector<Ref<EmbeddedChannel>> channels;
  for (int i = 0; i < 3; ++i) {
    channels.push_back(EmbeddedChannel::create(
        [&](Pipeline& p) { p.add_last("leaving", std::make_unique<LeavingHandler>(group, log)); }));
  }
  add_all(group, channels);
  CHECK(completed(group.close()));
  CHECK(group.empty());
  // Each said goodbye to those still open (and not yet removed) as it went.
  REQUIRE(log.size() == 3);
  CHECK(log[0] == "inactive, said bye to 2");
  CHECK(log[1] == "inactive, said bye to 1");
  CHECK(log[2] == "inactive, said bye to 0");
}

TEST_CASE("a member closed by its own handler in the middle of a group write leaves the group") {
  // With the group's lock held through its write, the member's leaving (its close future
  // completes there and then, and takes the lock) would deadlock, as would its on_inactive.
  ChannelGroup group;
  auto channels = make_channels(2);
  channels.push_back(EmbeddedChannel::create(
      [&](Pipeline& p) { p.add_last("closes", std::make_unique<ClosesOnWrite>(group)); }));
  add_all(group, channels);
  int reports = 0;
  GroupWriteReport seen;
  CHECK(group.write_and_flush(Buffer::copy_of("news"), {}, [&](const GroupWriteReport& report) {
    ++reports;
    seen = report;
  }) == 3);
  CHECK_FALSE(channels[2]->is_open());
  CHECK(group.size() == 2);
  REQUIRE(reports == 1);
  CHECK(seen.succeeded == 2);
  REQUIRE(seen.failed.size() == 1);
  CHECK(seen.failed[0].first.get() == channels[2].get());
  CHECK(seen.failed[0].second == ChannelErrc::closed);
  seen = {};
  for (std::size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    std::vector<std::string> received;
    for (std::string text; (text = outbound_text(*channels[i])) != "(nothing)";)
      received.push_back(text);
    std::sort(received.begin(), received.end());
    CHECK(received == std::vector<std::string>{"gone", "news"});
  }
}

TEST_CASE("for_each visits every member, and may use the group inside the visit") {
  ChannelGroup group;
  auto channels = make_channels(3);
  add_all(group, channels);
  int visits = 0;
  std::size_t inner_reached = 0;
  group.for_each([&](Channel& member) {
    ++visits;
    inner_reached +=
        group.write_and_flush(Buffer::copy_of("to the others"), ChannelMatcher::all_except(member));
    if (visits == 1) group.remove(member);  // the visit's own list is not disturbed
  });
  CHECK(visits == 3);
  CHECK(inner_reached == 2 + 1 + 1);
  CHECK(group.size() == 2);
}

TEST_CASE("a member closing after the group is gone leaves no trace") {
  auto channel = EmbeddedChannel::create();
  {
    ChannelGroup group;
    REQUIRE(group.add(ChannelPtr(channel.get())));
  }
  CHECK(channel->is_open());
  channel->close();
  CHECK_FALSE(channel->is_open());
}

TEST_CASE("joining and leaving again and again leaves nothing behind on the channel") {
  // A channel may join and leave a group many times while it stays open (a subscriber that
  // comes and goes). Something kept per join (a callback on its close future, say) would grow
  // without bound, and show as a round that allocates more than the others.
  ChannelGroup group;
  auto channel = EmbeddedChannel::create();
  const ChannelPtr member(channel.get());
  REQUIRE(group.add(member));
  REQUIRE(group.remove(*member));
  std::size_t least = ~std::size_t{0};
  std::size_t most = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::size_t before = test::allocations_made;
    REQUIRE(group.add(member));
    REQUIRE(group.remove(*member));
    const std::size_t made = test::allocations_made - before;
    least = std::min(least, made);
    most = std::max(most, made);
  }
  CHECK(least == most);
  // Joined once more, it still leaves as it closes.
  REQUIRE(group.add(member));
  channel->close();
  CHECK(group.empty());
}

TEST_CASE("a group used by the last destructors of a thread, after its spare vectors went") {
  ChannelGroup group;
  std::atomic<bool> late_write_ran{false};
  std::thread([&] {
    // This thread's embedded loop first, the group's spare vectors after: as the thread ends
    // they go first, and the loop, destroyed after them, still runs what was queued to it.
    { auto made_the_loop = EmbeddedChannel::create(); }
    CHECK(group.write_and_flush(Buffer::copy_of("early")) == 0);
    EventLoop* const loop = EventLoop::current();
    CHECK(loop != nullptr);
    if (loop == nullptr) return;
    CHECK(loop->execute([&] {
      group.write_and_flush(Buffer::copy_of("late"));
      late_write_ran = true;
    }));
  }).join();
  CHECK(late_write_ran);
}

TEST_CASE("a broadcast allocates nothing in steady state when no report is asked for") {
  ChannelGroup group;
  std::vector<Ref<EmbeddedChannel>> channels;
  for (int i = 0; i < 8; ++i) {
    channels.push_back(EmbeddedChannel::create(
        [](Pipeline& p) { p.add_last("sink", std::make_unique<DiscardingSink>()); }));
  }
  add_all(group, channels);
  const Buffer line = Buffer::copy_of("tick\n");
  group.write_and_flush(line);  // the first takes the thread's snapshot vector
  const std::size_t before = test::allocations_made;
  for (int i = 0; i < 100; ++i)
    group.write_and_flush(line);
  CHECK(test::allocations_made - before == 0);
}

TEST_CASE("a matcher that throws stops the write there, and the report still comes") {
  ChannelGroup group;
  auto channels = make_channels(4);
  add_all(group, channels);
  int matched = 0;
  int reports = 0;
  std::size_t succeeded = 0;
  CHECK_THROWS_AS(group.write_and_flush(
                      Buffer::copy_of("partial"),
                      [&](const Channel&) {
                        if (++matched == 3) throw std::runtime_error("matcher failed");
                        return true;
                      },
                      [&](const GroupWriteReport& report) {
                        ++reports;
                        succeeded = report.succeeded;
                      }),
                  std::runtime_error);
  CHECK(reports == 1);
  CHECK(succeeded == 2);
}
