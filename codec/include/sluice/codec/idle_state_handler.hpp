#pragma once

#include <chrono>
#include <cstdint>

#include "sluice/channel/channel_handler.hpp"
#include "sluice/core/scheduled_task.hpp"

namespace sluice {

enum class IdleState : std::uint8_t { kReaderIdle, kWriterIdle, kAllIdle };

// Fired as a user event when a channel has been idle for a configured time. `first` is true
// for the first event of an idle stretch, false when it repeats.
struct IdleStateEvent {
  IdleState state;
  bool first;
};

// Whether bytes reaching the peer (Channel::bytes_delivered()) count as writing for the
// writer-idle and all-idle checks; see IdleStateHandler.
enum class OutputProgress : std::uint8_t { kIgnored, kCountsAsWrite };

// Fires IdleStateEvent when nothing was read (reader idle), nothing was written (writer idle),
// or neither (all idle) for the given time; a zero or negative time turns that check off. An
// idle stretch fires once per period: `first` on its first event, then again each period it
// lasts. A handler after it typically closes the channel on a reader-idle event, which is how a
// server drops clients that stop half-way through a request.
//
// What counts as activity:
// - A read is a message reaching this handler; it counts when its batch completes, and no
//   reader or all-idle event fires while a batch is under way. A read-complete that brought no
//   message (a decoder in front passes one on for a batch that completed no frame) is not a
//   read. As in Netty.
// - A write counts when it is requested, as it passes through this handler, not when the
//   kernel has taken it. Netty counts a write when it completes (its write listener, plus, with
//   observeOutput, the progress of one under way). Completion would take a callback on every
//   write, and wrapping a caller's own callback allocates (unique_function keeps 32 bytes
//   inline), so sluice counts requests. Hence a write that waits behind a peer that does not
//   read still counts: that peer shows as the channel staying unwritable
//   (on_writability_changed), and, when it sends nothing either, as reader idle, or, with
//   output progress counted (below), as writer and all idle.
// - With auto_read off nothing is read unless asked for, and the reader idles as it would
//   otherwise: a handler that pauses reading for longer than the reader timeout sees
//   reader-idle events (Netty does the same).
// - With OutputProgress::kCountsAsWrite (Netty's observeOutput), bytes that reached the peer
//   count too: a writer-idle or all-idle check that finds Channel::bytes_delivered() moved
//   since the previous check takes it as a write at that moment and re-arms instead of firing.
//   So a large response draining to a slow reader keeps the channel busy for as long as it
//   moves, and a peer that stops reading leaves it idle once the bytes stop. The moment a byte
//   arrived is only known to within a check, so the event comes one to two periods after the
//   last one. Delivered bytes, not written ones: the kernel takes more into a full socket
//   buffer only once about a third of it has drained, so the bytes written could stand still
//   for a whole period under a reader that reads steadily but slowly (on loopback, with 4 MiB
//   send buffers, any reader under about 45 KB/s for a 30 s timeout), while the bytes
//   delivered move a segment at a time.
//   Reader idle is left alone, as in Netty: it says the peer sent nothing, which stays true
//   while the peer downloads, and a handler that watches for a silent peer (a heartbeat, a
//   request deadline) must still hear it. To drop connections on which nothing happens either
//   way, use all-idle with output counted: a client that sends nothing but keeps downloading
//   is then never idle; one that stops reading, or stays silent between requests, is.
//
// The checks start when the channel becomes active, or at once when the handler is added to
// an active channel; they stop when it goes inactive or the handler is removed, and no event
// fires after that. Each check is one timer per idle kind, re-armed for the time left when it
// expires, so steady traffic costs a timestamp per event and no timer work. Counting output
// adds nothing per read or write: a check asks the channel when it expires (one ioctl).
class IdleStateHandler : public ChannelHandler {
 public:
  IdleStateHandler(std::chrono::milliseconds reader_idle, std::chrono::milliseconds writer_idle,
                   std::chrono::milliseconds all_idle,
                   OutputProgress output = OutputProgress::kIgnored);

  void on_added(HandlerContext& ctx) override;
  void on_removed(HandlerContext& ctx) override;
  void on_active(HandlerContext& ctx) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_read(HandlerContext& ctx, Message&& message) override;
  void on_read_complete(HandlerContext& ctx) override;
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;

 private:
  struct Check {
    IdleState state;
    std::uint64_t timeout_ms;
    ScheduledTask timer;
    bool first = true;
  };

  void start(HandlerContext& ctx);
  void stop();
  void arm(HandlerContext& ctx, Check& check, std::uint64_t delay_ms);
  void expire(HandlerContext& ctx, Check& check);
  std::uint64_t last_activity(const Check& check) const noexcept;
  // A write at `now`: writer and all idle start a new stretch.
  void note_write(std::uint64_t now) noexcept;
  void note_output_progress(HandlerContext& ctx, std::uint64_t now) noexcept;

  Check checks_[3];
  std::uint64_t last_read_ms_ = 0;
  std::uint64_t last_write_ms_ = 0;
  std::uint64_t bytes_delivered_seen_ = 0;  // at the previous check, when output counts
  bool reading_ = false;
  bool started_ = false;
  bool output_counts_;
};

}  // namespace sluice
