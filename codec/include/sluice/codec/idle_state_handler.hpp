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

// Fires IdleStateEvent when nothing was read (reader idle), nothing was written (writer idle),
// or neither (all idle) for the given time; a zero time turns that check off. A handler after
// it typically closes the channel on a reader-idle event, which is how a server drops clients
// that stop half-way through a request.
//
// A write counts when it is requested; each check is one timer per idle kind, re-armed for the
// time left, so steady traffic costs a timestamp per event and no timer work.
class IdleStateHandler : public ChannelHandler {
 public:
  IdleStateHandler(std::chrono::milliseconds reader_idle, std::chrono::milliseconds writer_idle,
                   std::chrono::milliseconds all_idle);

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

  Check checks_[3];
  std::uint64_t last_read_ms_ = 0;
  std::uint64_t last_write_ms_ = 0;
  bool reading_ = false;
  bool started_ = false;
};

}  // namespace sluice
