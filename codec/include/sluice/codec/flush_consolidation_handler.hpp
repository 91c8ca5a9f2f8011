#pragma once

#include <cstddef>
#include <memory>

#include "sluice/channel/channel_handler.hpp"

namespace sluice {

// Holds flushes back while a read batch is under way and flushes once when the batch
// completes, so that a protocol answered message by message, whose handler flushes each
// answer (pipelined requests), still leaves in one gathered write per batch. Put it first in
// the pipeline (nearest the socket) so that it sees every flush.
//
// - During a batch, every `flush_after`-th flush held back goes through at once, so that a
//   long batch does not hold its answers back until it ends.
// - Outside a batch (a write from a timer, or from another channel's handler), a flush goes
//   through at once; with `consolidate_outside_reads`, it is held until the end of the loop's
//   iteration, or until `flush_after` of them have been held, whichever comes first.
// - What is held goes out before a close, a shutdown of output, an error passed on, the
//   handler's removal, and when the channel stops being writable (the bytes held back would
//   only add to what must drain).
// - A read batch is a run of on_read events ended by on_read_complete, as the transport fires
//   them: code that fires reads into the pipeline itself must end them with a read-complete,
//   or every flush stays held until `flush_after` of them have been.
// - Channel::close_when_flushed() and an event loop group's graceful shutdown drain what was
//   flushed, the flushes held here included: their close passes through this handler, which
//   lets them go first.
class FlushConsolidationHandler final : public ChannelHandler {
 public:
  static constexpr std::size_t kDefaultFlushAfter = 256;

  explicit FlushConsolidationHandler(std::size_t flush_after = kDefaultFlushAfter,
                                     bool consolidate_outside_reads = false);
  ~FlushConsolidationHandler() override;

  void on_removed(HandlerContext& ctx) override;
  void on_read(HandlerContext& ctx, Message&& message) override;
  void on_read_complete(HandlerContext& ctx) override;
  void on_writability_changed(HandlerContext& ctx) override;
  void on_error(HandlerContext& ctx, const Error& error) override;
  void flush(HandlerContext& ctx) override;
  void close(HandlerContext& ctx, CloseMode mode) override;
  void shutdown_output(HandlerContext& ctx) override;

 private:
  void hold(HandlerContext& ctx);
  void flush_held(HandlerContext& ctx);
  void flush_now(HandlerContext& ctx);

  std::size_t flush_after_;
  bool consolidate_outside_reads_;
  bool reading_ = false;
  bool flush_scheduled_ = false;
  std::size_t held_ = 0;  // flushes held back since the last one that went through
  // Read by the end-of-iteration flush: null once the handler is removed or destroyed.
  std::shared_ptr<FlushConsolidationHandler*> presence_;
};

}  // namespace sluice
