#include "sluice/codec/chunked_write_handler.hpp"

#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_error.hpp"

namespace sluice {

void ChunkedWriteHandler::write(HandlerContext& ctx, Message&& message, WriteCallback&& done) {
  if (queue_.empty() && !message.is<ChunkedStream>()) {
    ctx.write(std::move(message), std::move(done));
    return;
  }
  queue_.push_back({std::move(message), std::move(done), nullptr});
}

void ChunkedWriteHandler::flush(HandlerContext& ctx) {
  if (queue_.empty()) {
    ctx.flush();
    return;
  }
  pump(ctx);
}

void ChunkedWriteHandler::on_writability_changed(HandlerContext& ctx) {
  if (ctx.channel().is_writable()) pump(ctx);
  ctx.fire_writability_changed();
}

void ChunkedWriteHandler::on_inactive(HandlerContext& ctx) {
  discard(Error(ChannelErrc::closed));
  ctx.fire_inactive();
}

void ChunkedWriteHandler::on_removed(HandlerContext&) {
  discard(Error(ChannelErrc::closed));
}

void ChunkedWriteHandler::pump(HandlerContext& ctx) {
  // A write callback may flush again from inside pump(): the pass under way takes what it
  // queued, or, if that was its last flush, one more pass does.
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  do {
    pump_again_ = false;
    pump_once(ctx);
  } while (pump_again_);
  pumping_ = false;
}

void ChunkedWriteHandler::pump_once(HandlerContext& ctx) {
  Channel& channel = ctx.channel();
  // Written after the close (on_inactive failed what was queued then): nothing will pump it.
  if (!channel.is_open()) discard(Error(ChannelErrc::closed, channel.describe()));
  while (!queue_.empty() && channel.is_open()) {
    Queued& front = queue_.front();
    auto* stream = front.message.get_if<ChunkedStream>();
    if (stream == nullptr) {
      Queued item = std::move(front);
      queue_.pop_front();
      ctx.write(std::move(item.message), std::move(item.done));
      continue;
    }
    if (front.chunk_writes && front.chunk_writes->failure) {
      // A refused chunk is queued nowhere, so the channel stays writable: the rest of the
      // input would be read as fast as it can be, only to be refused in turn.
      const Error error = front.chunk_writes->failure;
      Queued item = std::move(front);
      queue_.pop_front();
      complete_write(item.done, error);
      continue;
    }
    if (!channel.is_writable()) break;  // resumed by on_writability_changed
    // An input that throws ends its stream like one that returns an error (and must not leave
    // pumping_ set, which would stall every later write).
    // A stream without an input (moved from, or made empty) has nothing to send, as a
    // moved-from FileRegion has: it completes in its turn.
    Result<std::optional<Buffer>> chunk = std::optional<Buffer>();
    try {
      if (stream->input) chunk = stream->input->next_chunk();
    } catch (...) {
      chunk = error_from_exception(std::current_exception());
    }
    if (!chunk.ok()) {
      const Error error = chunk.error();
      Queued item = std::move(front);
      queue_.pop_front();
      complete_write(item.done, error);
      ctx.fire_error(error);
      ctx.close();
      break;
    }
    if (!chunk.value()) {
      // The stream is done: its callback completes after its last chunk is written, with the
      // first chunk failure if one came meanwhile (writes complete in order, so any has come
      // by then; a chunk can fail while the empty write behind it succeeds).
      Queued item = std::move(front);
      queue_.pop_front();
      if (item.done && item.chunk_writes) {
        ctx.write(Buffer(), [writes = std::move(item.chunk_writes),
                             done = std::move(item.done)](const Error& error) mutable {
          complete_write(done, writes->failure ? writes->failure : error);
        });
      } else {
        ctx.write(Buffer(), std::move(item.done));
      }
      continue;
    }
    if (!front.chunk_writes) front.chunk_writes = std::make_shared<ChunkWrites>();
    ctx.write(std::move(*chunk.value()), [writes = front.chunk_writes](const Error& error) {
      if (error && !writes->failure) writes->failure = error;
    });
    ctx.flush();
  }
  ctx.flush();
}

void ChunkedWriteHandler::discard(const Error& error) {
  while (!queue_.empty()) {
    Queued item = std::move(queue_.front());
    queue_.pop_front();
    complete_write(item.done, error);
  }
}

}  // namespace sluice
