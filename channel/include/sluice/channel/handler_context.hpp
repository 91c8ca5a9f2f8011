#pragma once

#include <boost/intrusive/list_hook.hpp>

#include <array>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "sluice/channel/channel_handler.hpp"

namespace sluice {

class Channel;
class EventLoop;
class Pipeline;

// A handler's place in a pipeline. A handler talks to the rest of the pipeline only through
// its context: fire_* passes an inbound event to the next handler toward the tail that handles
// it; write/flush/read/close pass an outbound operation to the previous handler toward the
// head that handles it. Loop thread only: an outbound operation that reaches the head from
// another thread aborts, naming itself (in every build); from other threads use Channel's
// write/flush/close, which queue to the loop.
class HandlerContext {
 public:
  Channel& channel() const noexcept;
  Pipeline& pipeline() const noexcept { return *pipeline_; }
  EventLoop& loop() const noexcept;
  const std::string& name() const noexcept { return name_; }
  ChannelHandler& handler() const noexcept { return *handler_; }
  // True once the handler has been taken out of its pipeline.
  bool is_removed() const noexcept { return removed_; }
  // How many messages the handler has passed on with fire_read(): a decoder learns from it
  // whether a step emitted anything.
  std::uint64_t reads_fired() const noexcept { return reads_fired_; }

  void fire_active() { next_[kActiveIndex]->invoke_active(); }
  void fire_inactive() { next_[kInactiveIndex]->invoke_inactive(); }
  void fire_read(Message&& message) {
    ++reads_fired_;
    next_[kReadIndex]->invoke_read(std::move(message));
  }
  void fire_read_complete() { next_[kReadCompleteIndex]->invoke_read_complete(); }
  void fire_user_event(Message&& event) {
    next_[kUserEventIndex]->invoke_user_event(std::move(event));
  }
  void fire_writability_changed() { next_[kWritabilityIndex]->invoke_writability_changed(); }
  void fire_error(const Error& error) { next_[kErrorIndex]->invoke_error(error); }

  void write(Message&& message, WriteCallback done = {}) {
    prev_[kWriteIndex]->invoke_write(std::move(message), std::move(done));
  }
  void flush() { prev_[kFlushIndex]->invoke_flush(); }
  void write_and_flush(Message&& message, WriteCallback done = {}) {
    write(std::move(message), std::move(done));
    flush();
  }
  void read() { prev_[kReadRequestIndex]->invoke_read_request(); }
  void close(CloseMode mode = CloseMode::kNow) { prev_[kCloseIndex]->invoke_close(mode); }
  void shutdown_output() { prev_[kShutdownIndex]->invoke_shutdown_output(); }

 private:
  friend class Pipeline;

  enum : int {
    kActiveIndex,
    kInactiveIndex,
    kReadIndex,
    kReadCompleteIndex,
    kUserEventIndex,
    kWritabilityIndex,
    kErrorIndex,
  };
  enum : int { kWriteIndex, kFlushIndex, kReadRequestIndex, kCloseIndex, kShutdownIndex };

  HandlerContext(Pipeline& pipeline, std::string name, ChannelHandler* handler,
                 std::uint32_t handled_events)
      : pipeline_(&pipeline), name_(std::move(name)), handler_(handler), handled_(handled_events) {}

  // Each invoke_* calls the handler and turns an exception into on_error. A removed context is
  // only reached through the stale link of another removed one: its handler, whose on_removed
  // has run, is skipped and the event goes on.
  void invoke_active() noexcept;
  void invoke_inactive() noexcept;
  void invoke_read(Message&& message) noexcept;
  void invoke_read_complete() noexcept;
  void invoke_user_event(Message&& event) noexcept;
  void invoke_writability_changed() noexcept;
  void invoke_error(const Error& error) noexcept;
  void deliver_error(const Error& error) noexcept;
  void invoke_write(Message&& message, WriteCallback&& done) noexcept;
  void invoke_flush() noexcept;
  void invoke_read_request() noexcept;
  void invoke_close(CloseMode mode) noexcept;
  void invoke_shutdown_output() noexcept;
  void handler_threw(std::exception_ptr exception) noexcept;

  bool handles(std::uint32_t event_bit) const noexcept { return (handled_ & event_bit) != 0; }

  // For each event, the next context toward the tail (inbound) or the head (outbound) that
  // handles it; recomputed whenever the pipeline changes, so events skip handlers that would
  // only pass them on. A removed context points at its neighbours at removal instead (see
  // Pipeline::detach): events already on their way through it continue down the pipeline.
  std::array<HandlerContext*, kInboundEventCount> next_{};
  std::array<HandlerContext*, kOutboundEventCount> prev_{};
  boost::intrusive::list_member_hook<> hook_;
  Pipeline* pipeline_;
  std::string name_;
  ChannelHandler* handler_;
  std::unique_ptr<ChannelHandler> owned_;
  std::shared_ptr<ChannelHandler> shared_;
  std::uint32_t handled_;
  bool removed_ = false;
  std::uint64_t reads_fired_ = 0;
};

}  // namespace sluice
