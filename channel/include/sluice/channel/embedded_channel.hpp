#pragma once

#include <deque>
#include <optional>
#include <vector>

#include "sluice/channel/channel.hpp"
#include "sluice/core/unique_function.hpp"

namespace sluice {

// A channel without a socket, for testing handlers and codecs: what a test writes inbound runs
// through the pipeline as if the transport had read it, and what the pipeline writes and
// flushes is kept for the test to read back.
//
//   auto channel = EmbeddedChannel::create([](Pipeline& p) { p.add_last("lines", ...); });
//   channel->write_inbound(Buffer::copy_of("a\nb\n"));
//   Message first = channel->read_inbound();
//
// It runs on the calling thread: the thread gets one embedded loop, shared by its embedded
// channels and driven by run_pending() (every call below runs it), so timers and deferred work
// happen when the test lets them. Messages and errors that reach the tail are queued instead of
// logged, for the test to inspect. Any message type may be written outbound. After
// shutdown_output(), writes fail with ChannelErrc::output_shutdown, as on a socket.
class EmbeddedChannel final : public Channel {
 public:
  // A channel whose pipeline `initialize` fills, already active.
  static Ref<EmbeddedChannel> create(unique_function<void(Pipeline&)> initialize = {},
                                     ChannelOptions options = {});

  // Fires each message as read, then read-complete. True if inbound messages reached the tail.
  // As a socket's read batch, it stops where a handler closes the channel: the messages after
  // that point are dropped unread, and no event follows on_inactive.
  template <typename... Messages>
  bool write_inbound(Messages&&... messages) {
    ((is_open() ? pipeline().fire_read(Message(std::forward<Messages>(messages))) : void()), ...);
    if (is_open()) pipeline().fire_read_complete();
    run_pending();
    return !inbound_.empty();
  }
  // Writes each message from the tail, then flushes. True if messages reached the head.
  template <typename... Messages>
  bool write_outbound(Messages&&... messages) {
    (pipeline().write(Message(std::forward<Messages>(messages))), ...);
    pipeline().flush();
    run_pending();
    return !outbound_messages_.empty();
  }

  // The oldest message that reached the tail (inbound) or was flushed at the head (outbound);
  // an empty Message when there is none.
  Message read_inbound();
  Message read_outbound();
  std::size_t inbound_count() const noexcept { return inbound_.size(); }
  std::size_t outbound_count() const noexcept { return outbound_messages_.size(); }
  // Errors that reached the tail, oldest first; taking them clears the list.
  std::vector<Error> take_errors();
  // User events that reached the tail.
  std::vector<Message> take_user_events();

  // Runs the embedded loop's ready timers, queued tasks and deferred work, and what those
  // queue or make due in turn, until nothing is left to run. Bounded: after kMaxPendingRounds
  // passes it returns (and logs a warning) with work still pending, as a task that queues
  // itself again on every run would otherwise never let it return. Timers not yet due wait.
  void run_pending();
  static constexpr int kMaxPendingRounds = 1000;
  // Closes the channel; true if messages were left unread in either direction.
  bool finish();

 private:
  explicit EmbeddedChannel(ChannelOptions options);

  void do_write(Message&& message, WriteCallback&& done) override;
  void do_flush() override;
  void do_read() override {}
  void do_close() override;
  void do_shutdown_output() override;
  bool can_write(const Message&) const noexcept override { return true; }
  void on_unhandled_read(Message&& message) override { inbound_.push_back(std::move(message)); }
  void on_unhandled_error(const Error& error) override { errors_.push_back(error); }
  void on_unhandled_user_event(Message&& event) override {
    user_events_.push_back(std::move(event));
  }
  void dispose() noexcept override;

  std::deque<Message> inbound_;
  std::deque<Message> outbound_messages_;
  std::vector<Error> errors_;
  std::vector<Message> user_events_;
  bool output_shutdown_ = false;  // writes fail from then on, as on StreamChannel
};

}  // namespace sluice
