#pragma once

#include <deque>
#include <memory>

#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/chunked_input.hpp"

namespace sluice {

// Writes ChunkedStream messages a chunk at a time, pulling the next chunk only while the
// channel is writable, so a large body never sits in memory: at most about a high water mark
// of it is buffered. Messages written after a stream wait behind it, keeping the order. The
// stream's write callback completes when its last chunk is written; an error from the input
// fails it, goes through on_error and closes the channel. A chunk whose write fails ends its
// stream with that error (nothing more is read from it); the channel is left to whoever
// failed the write.
class ChunkedWriteHandler final : public ChannelHandler {
 public:
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;
  void flush(HandlerContext& ctx) override;
  void on_writability_changed(HandlerContext& ctx) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_removed(HandlerContext& ctx) override;

 private:
  // The first failure among a stream's chunk writes, shared with their callbacks, which may
  // run after the stream has left the queue (or the handler the pipeline).
  struct ChunkWrites {
    Error failure;
  };
  struct Queued {
    Message message;
    WriteCallback done;
    std::shared_ptr<ChunkWrites> chunk_writes;  // a stream's, made with its first chunk
  };

  void pump(HandlerContext& ctx);
  void pump_once(HandlerContext& ctx);
  void discard(const Error& error);

  std::deque<Queued> queue_;
  bool pumping_ = false;
  bool pump_again_ = false;  // pump() was called again while pumping
};

}  // namespace sluice
