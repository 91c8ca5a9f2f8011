#pragma once

#include <cstdint>
#include <type_traits>

#include "sluice/channel/message.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/unique_function.hpp"

namespace sluice {

class HandlerContext;

// How an outbound close ends the channel: at once, what is queued failing (Channel::close), or
// once what was flushed has been written (Channel::close_when_flushed). A handler that holds a
// close back, to say goodbye to its peer first, passes the mode on with it when it lets it go.
enum class CloseMode : std::uint8_t { kNow, kWhenFlushed };

// Called once a write is done: with an empty Error when the bytes reached the kernel, or with
// the reason it failed (the channel closed first, a reset, a truncated file). Writes carry no
// callback unless one is given, so a plain write allocates nothing for completion.
using WriteCallback = unique_function<void(const Error&)>;

// Calls `done`, if set, with `result` and leaves it empty, so that it cannot be called twice.
// What the callback throws is logged, never passed on: it would unwind through the transport.
void complete_write(WriteCallback& done, const Error& result) noexcept;

// A stage of a channel's pipeline. Every event has a default that passes it on unchanged, so a
// handler overrides only what it cares about; when it is added through the templated Pipeline
// API, the events it does not override skip it entirely (see Pipeline).
//
// Inbound events travel from the transport (head) toward the application (tail); outbound
// operations travel from the tail toward the transport. All calls come on the channel's loop
// thread, so a handler needs no locks. A handler that throws from an event has its exception
// turned into an Error and delivered to its own on_error; on_added is the exception (below).
class ChannelHandler {
 public:
  virtual ~ChannelHandler() = default;

  // Lifecycle: the handler joined or left a pipeline. on_removed runs once for every handler
  // whose on_added ran, also one whose on_added threw: such a handler is taken out again at
  // once (its on_removed can undo what on_added had set up) and add_*() or replace() rethrows
  // the exception, as they throw PipelineError for a taken name; a failed replace() leaves the
  // old handler in place. Not on_error, as for events: the handler would stay in the pipeline
  // half set up, and the error would not reach the code that added it and could act on it.
  virtual void on_added(HandlerContext&) {}
  virtual void on_removed(HandlerContext&) {}

  // Inbound.
  virtual void on_active(HandlerContext& ctx);
  virtual void on_inactive(HandlerContext& ctx);
  virtual void on_read(HandlerContext& ctx, Message&& message);
  virtual void on_read_complete(HandlerContext& ctx);
  virtual void on_user_event(HandlerContext& ctx, Message&& event);
  virtual void on_writability_changed(HandlerContext& ctx);
  virtual void on_error(HandlerContext& ctx, const Error& error);

  // Outbound.
  virtual void write(HandlerContext& ctx, Message&& message, WriteCallback&& done);
  virtual void flush(HandlerContext& ctx);
  virtual void read(HandlerContext& ctx);
  virtual void close(HandlerContext& ctx, CloseMode mode);
  virtual void shutdown_output(HandlerContext& ctx);
};

// Event bits: which events a handler overrides.
enum EventBit : std::uint32_t {
  kOnActive = 1u << 0,
  kOnInactive = 1u << 1,
  kOnRead = 1u << 2,
  kOnReadComplete = 1u << 3,
  kOnUserEvent = 1u << 4,
  kOnWritabilityChanged = 1u << 5,
  kOnError = 1u << 6,
  kWrite = 1u << 7,
  kFlush = 1u << 8,
  kRead = 1u << 9,
  kClose = 1u << 10,
  kShutdownOutput = 1u << 11,
};
inline constexpr int kInboundEventCount = 7;
inline constexpr int kOutboundEventCount = 5;
inline constexpr std::uint32_t kAllEvents = (1u << (kInboundEventCount + kOutboundEventCount)) - 1;

// The events H overrides, found at compile time: `&H::on_read` names ChannelHandler's member
// unless H (or a base between) declares its own. An override declared private or protected
// (a `class` handler without `public:`) cannot be named here; it is counted as overridden,
// which is always correct: the event is delivered, only never skipped.
#define SLUICE_DETAIL_OVERRIDES(event)                                               \
  [] {                                                                               \
    if constexpr (requires { &H::event; }) {                                         \
      return !std::is_same_v<decltype(&H::event), decltype(&ChannelHandler::event)>; \
    } else {                                                                         \
      return true;                                                                   \
    }                                                                                \
  }()

template <typename H>
requires std::is_base_of_v<ChannelHandler, H>
constexpr std::uint32_t overridden_events() {
  std::uint32_t mask = 0;
  if (SLUICE_DETAIL_OVERRIDES(on_active)) mask |= kOnActive;
  if (SLUICE_DETAIL_OVERRIDES(on_inactive)) mask |= kOnInactive;
  if (SLUICE_DETAIL_OVERRIDES(on_read)) mask |= kOnRead;
  if (SLUICE_DETAIL_OVERRIDES(on_read_complete)) mask |= kOnReadComplete;
  if (SLUICE_DETAIL_OVERRIDES(on_user_event)) mask |= kOnUserEvent;
  if (SLUICE_DETAIL_OVERRIDES(on_writability_changed)) mask |= kOnWritabilityChanged;
  if (SLUICE_DETAIL_OVERRIDES(on_error)) mask |= kOnError;
  if (SLUICE_DETAIL_OVERRIDES(write)) mask |= kWrite;
  if (SLUICE_DETAIL_OVERRIDES(flush)) mask |= kFlush;
  if (SLUICE_DETAIL_OVERRIDES(read)) mask |= kRead;
  if (SLUICE_DETAIL_OVERRIDES(close)) mask |= kClose;
  if (SLUICE_DETAIL_OVERRIDES(shutdown_output)) mask |= kShutdownOutput;
  return mask;
}

#undef SLUICE_DETAIL_OVERRIDES

}  // namespace sluice
