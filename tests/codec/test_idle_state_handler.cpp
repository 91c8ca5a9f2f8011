// Timer-driven tests. They assert only what holds on a slow machine: an event fires within a
// generous bound, and no event fires while activity continues (checked only when the test
// really kept the gaps between activities well below the timeout) or after the handler stopped.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <thread>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/codec/idle_state_handler.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using sluice::test::bytes;

namespace {

using Clock = std::chrono::steady_clock;

// The idle events that reached the tail so far.
struct IdleLog {
  std::vector<IdleStateEvent> events;

  void collect(EmbeddedChannel& channel) {
    for (Message& event : channel.take_user_events()) {
      if (const auto* idle = event.get_if<IdleStateEvent>()) events.push_back(*idle);
    }
  }
  std::vector<IdleStateEvent> of(IdleState state) const {
    std::vector<IdleStateEvent> found;
    for (const auto& event : events) {
      if (event.state == state) found.push_back(event);
    }
    return found;
  }
  std::size_t count(IdleState state) const { return of(state).size(); }
};

Ref<EmbeddedChannel> idle_channel(std::chrono::milliseconds reader,
                                  std::chrono::milliseconds writer, std::chrono::milliseconds all) {
  return EmbeddedChannel::create([=](Pipeline& p) {
    p.add_last("idle", std::make_unique<IdleStateHandler>(reader, writer, all));
  });
}

// Waits (generously) until `count` events of `state` have been seen.
bool wait_for(EmbeddedChannel& channel, IdleLog& log, IdleState state, std::size_t count = 1) {
  return test::poll_until(channel, [&] {
    log.collect(channel);
    return log.count(state) >= count;
  });
}

// Keeps the channel busy with `activity` every ~2 ms for `duration`; returns the longest gap
// between two activities, which tells whether the machine let the test keep up.
template <typename Activity>
std::chrono::milliseconds keep_busy(EmbeddedChannel& channel, IdleLog& log,
                                    std::chrono::milliseconds duration, Activity activity) {
  const auto end = Clock::now() + duration;
  auto last = Clock::now();
  auto longest = Clock::duration::zero();
  while (Clock::now() < end) {
    activity();
    const auto now = Clock::now();
    longest = std::max(longest, now - last);
    last = now;
    log.collect(channel);
    std::this_thread::sleep_for(2ms);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(longest);
}

// Sits between the head and the idle handler, so that what it writes leaves the channel (and
// moves bytes_written) without passing the idle handler: a stand-in for a transport draining,
// long after it was asked, a write that has already been counted.
class Drain final : public ChannelHandler {
 public:
  void on_added(HandlerContext& ctx) override { ctx_ = &ctx; }
  void send(std::string_view text) {
    ctx_->write(bytes(text));
    ctx_->flush();
  }

 private:
  HandlerContext* ctx_ = nullptr;
};

struct DrainedChannel {
  Ref<EmbeddedChannel> channel;
  Drain* drain;
};

DrainedChannel drained_channel(std::chrono::milliseconds reader, std::chrono::milliseconds writer,
                               std::chrono::milliseconds all, OutputProgress output) {
  Drain* drain = nullptr;
  auto channel = EmbeddedChannel::create([&](Pipeline& p) {
    auto made = std::make_unique<Drain>();
    drain = made.get();
    p.add_last("drain", std::move(made));
    p.add_last("idle", std::make_unique<IdleStateHandler>(reader, writer, all, output));
  });
  return {std::move(channel), drain};
}

// Lets the loop run for `duration` (for checks that nothing happens).
void idle_for(EmbeddedChannel& channel, IdleLog& log, std::chrono::milliseconds duration) {
  const auto end = Clock::now() + duration;
  while (Clock::now() < end) {
    channel.run_pending();
    log.collect(channel);
    std::this_thread::sleep_for(2ms);
  }
}

}  // namespace

TEST_CASE("reader idle fires after the reader timeout when nothing is read") {
  auto channel = idle_channel(30ms, 0ms, 0ms);
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kReaderIdle));
  CHECK(log.of(IdleState::kReaderIdle)[0].first);
  CHECK(log.count(IdleState::kWriterIdle) == 0);
  CHECK(log.count(IdleState::kAllIdle) == 0);
}

TEST_CASE("an idle stretch fires first=true once, then first=false, until activity resets it") {
  auto channel = idle_channel(20ms, 0ms, 0ms);
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kReaderIdle, 3));
  auto events = log.of(IdleState::kReaderIdle);
  CHECK(events[0].first);
  CHECK_FALSE(events[1].first);
  CHECK_FALSE(events[2].first);
  channel->write_inbound(bytes("activity"));
  log.events.clear();
  REQUIRE(wait_for(*channel, log, IdleState::kReaderIdle, 2));
  events = log.of(IdleState::kReaderIdle);
  CHECK(events[0].first);
  CHECK_FALSE(events[1].first);
}

TEST_CASE("reading keeps reader idle from firing") {
  auto channel = idle_channel(200ms, 0ms, 0ms);
  IdleLog log;
  const auto longest_gap =
      keep_busy(*channel, log, 600ms, [&] { channel->write_inbound(bytes("x")); });
  if (longest_gap < 80ms) {
    CHECK(log.count(IdleState::kReaderIdle) == 0);
  } else {
    MESSAGE("the machine stalled for " << longest_gap.count() << " ms; not judged");
  }
  REQUIRE(wait_for(*channel, log, IdleState::kReaderIdle));  // and once reading stops, it fires
}

TEST_CASE("writer idle fires when nothing is written, and writing keeps it off") {
  auto channel = idle_channel(0ms, 30ms, 0ms);
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kWriterIdle));
  CHECK(log.of(IdleState::kWriterIdle)[0].first);
  CHECK(log.count(IdleState::kReaderIdle) == 0);

  auto busy = idle_channel(0ms, 200ms, 0ms);
  IdleLog busy_log;
  const auto longest_gap =
      keep_busy(*busy, busy_log, 600ms, [&] { busy->write_outbound(bytes("x")); });
  while (busy->read_outbound()) {
  }
  if (longest_gap < 80ms) {
    CHECK(busy_log.count(IdleState::kWriterIdle) == 0);
  } else {
    MESSAGE("the machine stalled for " << longest_gap.count() << " ms; not judged");
  }
}

TEST_CASE("reading does not keep writer idle from firing") {
  auto channel = idle_channel(0ms, 30ms, 0ms);
  IdleLog log;
  const auto end = Clock::now() + 5s;
  while (log.count(IdleState::kWriterIdle) == 0 && Clock::now() < end) {
    channel->write_inbound(bytes("x"));
    log.collect(*channel);
    std::this_thread::sleep_for(2ms);
  }
  CHECK(log.count(IdleState::kWriterIdle) >= 1);
}

TEST_CASE("all idle fires only when there is neither reading nor writing") {
  auto channel = idle_channel(0ms, 0ms, 200ms);
  IdleLog log;
  bool read_turn = true;
  const auto longest_gap = keep_busy(*channel, log, 600ms, [&] {
    // Alternate: each kind of activity alone must keep all-idle off.
    if (read_turn) {
      channel->write_inbound(bytes("x"));
    } else {
      channel->write_outbound(bytes("y"));
    }
    read_turn = !read_turn;
  });
  while (channel->read_outbound()) {
  }
  if (longest_gap < 40ms) {
    CHECK(log.count(IdleState::kAllIdle) == 0);
  } else {
    MESSAGE("the machine stalled for " << longest_gap.count() << " ms; not judged");
  }
  REQUIRE(wait_for(*channel, log, IdleState::kAllIdle));
  CHECK(log.of(IdleState::kAllIdle)[0].first);
}

TEST_CASE("a zero timeout turns that check off") {
  auto channel = idle_channel(0ms, 20ms, 0ms);
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kWriterIdle, 3));
  CHECK(log.count(IdleState::kReaderIdle) == 0);
  CHECK(log.count(IdleState::kAllIdle) == 0);
}

TEST_CASE("removing the handler stops its timers") {
  auto channel = idle_channel(20ms, 20ms, 20ms);
  IdleLog log;
  channel->pipeline().remove("idle");
  idle_for(*channel, log, 150ms);
  CHECK(log.events.empty());
}

TEST_CASE("closing the channel stops the idle timers") {
  auto channel = idle_channel(20ms, 20ms, 20ms);
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kReaderIdle));
  channel->finish();
  log.events.clear();
  idle_for(*channel, log, 150ms);
  CHECK(log.events.empty());
}

TEST_CASE("a handler added to a channel that is already active starts at once") {
  auto channel = EmbeddedChannel::create();
  channel->pipeline().add_last("idle", std::make_unique<IdleStateHandler>(20ms, 0ms, 0ms));
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kReaderIdle));
}

TEST_CASE("a read-complete that follows no read is not reading activity") {
  // What a decoder in front of the handler passes on after a batch that completed no frame:
  // the bytes never reached this handler, so its reader is still idle.
  auto channel = idle_channel(30ms, 0ms, 0ms);
  IdleLog log;
  const auto end = Clock::now() + 5s;
  while (log.count(IdleState::kReaderIdle) == 0 && Clock::now() < end) {
    channel->pipeline().fire_read_complete();
    channel->run_pending();
    log.collect(*channel);
    std::this_thread::sleep_for(2ms);
  }
  CHECK(log.count(IdleState::kReaderIdle) >= 1);
}

TEST_CASE("with auto_read off the reader idles as it would otherwise") {
  ChannelOptions options;
  options.auto_read = false;
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("idle", std::make_unique<IdleStateHandler>(20ms, 0ms, 0ms)); },
      options);
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kReaderIdle));
  CHECK(log.of(IdleState::kReaderIdle)[0].first);
}

TEST_CASE("output that leaves the channel is not writing unless output progress counts") {
  // The behaviour before the option existed, and its default.
  auto [channel, drain] = drained_channel(0ms, 30ms, 30ms, OutputProgress::kIgnored);
  IdleLog log;
  const auto end = Clock::now() + 5s;
  while ((log.count(IdleState::kWriterIdle) == 0 || log.count(IdleState::kAllIdle) == 0) &&
         Clock::now() < end) {
    drain->send("x");
    log.collect(*channel);
    std::this_thread::sleep_for(2ms);
  }
  CHECK(log.count(IdleState::kWriterIdle) >= 1);
  CHECK(log.count(IdleState::kAllIdle) >= 1);
  CHECK(channel->bytes_written() > 0);
}

TEST_CASE("with output progress counted, bytes leaving keep writer and all idle off") {
  auto [channel, drain] = drained_channel(0ms, 100ms, 100ms, OutputProgress::kCountsAsWrite);
  IdleLog log;
  // Whatever the machine's stalls, bytes leave before every run of the loop, so each check
  // that expires finds the counter moved: nothing here depends on the gaps.
  keep_busy(*channel, log, 500ms, [&] { drain->send("x"); });
  CHECK(log.count(IdleState::kWriterIdle) == 0);
  CHECK(log.count(IdleState::kAllIdle) == 0);
  // The checks re-armed: once the bytes stop, both fire, starting a new idle stretch.
  REQUIRE(wait_for(*channel, log, IdleState::kWriterIdle));
  REQUIRE(wait_for(*channel, log, IdleState::kAllIdle));
  CHECK(log.of(IdleState::kWriterIdle)[0].first);
  CHECK(log.of(IdleState::kAllIdle)[0].first);
}

TEST_CASE("with output progress counted, stalled output fires once per period as before") {
  auto [channel, drain] = drained_channel(0ms, 20ms, 20ms, OutputProgress::kCountsAsWrite);
  IdleLog log;
  REQUIRE(wait_for(*channel, log, IdleState::kWriterIdle, 3));
  REQUIRE(wait_for(*channel, log, IdleState::kAllIdle, 3));
  for (IdleState state : {IdleState::kWriterIdle, IdleState::kAllIdle}) {
    const auto events = log.of(state);
    CHECK(events[0].first);
    CHECK_FALSE(events[1].first);
    CHECK_FALSE(events[2].first);
  }
  // A byte that leaves ends the stretch, and the next one starts afresh once output stalls.
  drain->send("x");
  log.events.clear();
  REQUIRE(wait_for(*channel, log, IdleState::kWriterIdle, 2));
  const auto events = log.of(IdleState::kWriterIdle);
  CHECK(events[0].first);
  CHECK_FALSE(events[1].first);
}

TEST_CASE("with output progress counted, reader idle still fires for a peer that sends nothing") {
  auto [channel, drain] = drained_channel(30ms, 0ms, 0ms, OutputProgress::kCountsAsWrite);
  IdleLog log;
  const auto end = Clock::now() + 5s;
  while (log.count(IdleState::kReaderIdle) == 0 && Clock::now() < end) {
    drain->send("x");
    log.collect(*channel);
    std::this_thread::sleep_for(2ms);
  }
  CHECK(log.count(IdleState::kReaderIdle) >= 1);
}
