#pragma once

#include <deque>

#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/chunked_input.hpp"

namespace sluice {

// Writes ChunkedStream messages a chunk at a time, pulling the next chunk only while the
// channel is writable, so a large body never sits in memory: at most about a high water mark
// of it is buffered. Messages written after a stream wait behind it, keeping the order. The
// stream's write callback completes when its last chunk is written; an error from the input
// fails it, goes through on_error and closes the channel.
class ChunkedWriteHandler final : public ChannelHandler {
 public:
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;
  void flush(HandlerContext& ctx) override;
  void on_writability_changed(HandlerContext& ctx) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_removed(HandlerContext& ctx) override;

 private:
  struct Queued {
    Message message;
    WriteCallback done;
  };

  void pump(HandlerContext& ctx);
  void pump_once(HandlerContext& ctx);
  void discard(const Error& error);

  std::deque<Queued> queue_;
  bool pumping_ = false;
  bool pump_again_ = false;  // pump() was called again while pumping
};

}  // namespace sluice
