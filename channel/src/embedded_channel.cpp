#include "sluice/channel/embedded_channel.hpp"

#include <memory>

#include "sluice/channel/channel_error.hpp"
#include "sluice/core/log.hpp"

namespace sluice {
namespace {

// Each thread that makes embedded channels gets one loop, bound to it and driven by hand.
EventLoop& embedded_loop() {
  thread_local std::unique_ptr<EventLoop> loop = [] {
    auto made = std::make_unique<EventLoop>("embedded");
    made->bind_to_current_thread();
    return made;
  }();
  return *loop;
}

// Runs the embedded loop until nothing is left to run: tasks queued by the tasks it ran, timers
// they started with no delay, what a closed timer's task held. One pass left those for the
// next call, and a test that expects nothing runnable after run_pending() saw them pending.
void run_until_quiet(EventLoop& loop) {
  for (int round = 0; round < EmbeddedChannel::kMaxPendingRounds; ++round) {
    loop.run_ready();
    if (!loop.has_ready_work()) return;
  }
  // A task that queues itself again whenever it runs (a self-rescheduling poll) never lets the
  // loop go quiet: stopping here returns control to the test, with that work still pending.
  logger().warn(
      "embedded loop: work still pending after {} rounds (a task that queues itself "
      "again?)",
      EmbeddedChannel::kMaxPendingRounds);
}

SocketAddress embedded_address() {
  return *SocketAddress::from_unix_path("embedded");
}

}  // namespace

EmbeddedChannel::EmbeddedChannel(ChannelOptions options) : Channel(embedded_loop(), options) {}

Ref<EmbeddedChannel> EmbeddedChannel::create(unique_function<void(Pipeline&)> initialize,
                                             ChannelOptions options) {
  validate(options);
  // Not registered with the loop, so it holds no reference to itself: it goes when the test
  // drops it, finished or not.
  Ref<EmbeddedChannel> channel(new EmbeddedChannel(options));
  if (initialize) initialize(channel->pipeline());
  channel->become_active(embedded_address(), embedded_address());
  channel->run_pending();
  return channel;
}

Message EmbeddedChannel::read_inbound() {
  run_pending();
  if (inbound_.empty()) return {};
  Message message = std::move(inbound_.front());
  inbound_.pop_front();
  return message;
}

Message EmbeddedChannel::read_outbound() {
  run_pending();
  if (outbound_messages_.empty()) return {};
  Message message = std::move(outbound_messages_.front());
  outbound_messages_.pop_front();
  return message;
}

std::vector<Error> EmbeddedChannel::take_errors() {
  run_pending();
  return std::exchange(errors_, {});
}

std::vector<Message> EmbeddedChannel::take_user_events() {
  run_pending();
  return std::exchange(user_events_, {});
}

void EmbeddedChannel::run_pending() {
  run_until_quiet(loop());
}

bool EmbeddedChannel::finish() {
  close();
  run_pending();
  return !inbound_.empty() || !outbound_messages_.empty();
}

void EmbeddedChannel::do_flush() {
  outbound_.mark_flushed();
  // Recorded before its callback runs: a callback that writes again must come after it.
  while (outbound_.has_flushed()) {
    const std::uint64_t bytes = outbound_.front().message.bytes();
    outbound_messages_.push_back(std::move(outbound_.front().message));
    // Counted once recorded: a push that throws leaves the message queued for the next flush.
    add_written(bytes);
    outbound_.complete_front();
  }
  // close_when_flushed() asked from a write callback, with later writes still flushed, leaves
  // the close to the transport: as a socket does, it closes once they are recorded.
  if (close_requested_when_flushed() && is_open()) do_close();
}

void EmbeddedChannel::do_close() {
  if (!is_open()) return;
  mark_closed();
  finish_close(Error(ChannelErrc::closed));
}

void EmbeddedChannel::do_write(Message&& message, WriteCallback&& done) {
  if (output_shutdown_) {
    complete_write(done, Error(ChannelErrc::output_shutdown, describe()));
    return;
  }
  Channel::do_write(std::move(message), std::move(done));
}

void EmbeddedChannel::do_shutdown_output() {
  if (!is_open() || output_shutdown_) return;
  output_shutdown_ = true;
  // Flushing here is immediate, so nothing flushed waits for the FIN: what is left was never
  // flushed, and fails as it does on a socket.
  outbound_.fail_all(Error(ChannelErrc::output_shutdown, describe()));
  if (!is_open()) return;  // a failed write's callback closed the channel
  pipeline().fire_user_event(ChannelOutputShutdown{});
}

void EmbeddedChannel::dispose() noexcept {
  // No socket, no callbacks in flight: the channel can go at once, after the work it deferred.
  run_pending();
  tear_down();
  delete this;
  run_until_quiet(embedded_loop());
}

}  // namespace sluice
