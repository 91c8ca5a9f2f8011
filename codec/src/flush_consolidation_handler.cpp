#include "sluice/codec/flush_consolidation_handler.hpp"

#include <stdexcept>

#include "sluice/channel/channel.hpp"
#include "sluice/channel/handler_context.hpp"
#include "sluice/core/event_loop.hpp"

namespace sluice {

FlushConsolidationHandler::FlushConsolidationHandler(std::size_t flush_after,
                                                     bool consolidate_outside_reads)
    : flush_after_(flush_after),
      consolidate_outside_reads_(consolidate_outside_reads),
      presence_(std::make_shared<FlushConsolidationHandler*>(this)) {
  if (flush_after == 0) {
    throw std::invalid_argument("FlushConsolidationHandler: flush_after must be at least 1");
  }
}

FlushConsolidationHandler::~FlushConsolidationHandler() {
  *presence_ = nullptr;
}

void FlushConsolidationHandler::on_removed(HandlerContext& ctx) {
  flush_held(ctx);
  *presence_ = nullptr;
}

void FlushConsolidationHandler::on_read(HandlerContext& ctx, Message&& message) {
  reading_ = true;
  ctx.fire_read(std::move(message));
}

void FlushConsolidationHandler::on_read_complete(HandlerContext& ctx) {
  reading_ = false;
  flush_held(ctx);
  ctx.fire_read_complete();
}

void FlushConsolidationHandler::on_writability_changed(HandlerContext& ctx) {
  if (!ctx.channel().is_writable()) flush_held(ctx);
  ctx.fire_writability_changed();
}

void FlushConsolidationHandler::on_error(HandlerContext& ctx, const Error& error) {
  flush_held(ctx);
  ctx.fire_error(error);
}

void FlushConsolidationHandler::flush(HandlerContext& ctx) {
  if (reading_ || consolidate_outside_reads_) {
    hold(ctx);
  } else {
    flush_now(ctx);
  }
}

void FlushConsolidationHandler::close(HandlerContext& ctx, CloseMode mode) {
  flush_held(ctx);
  ctx.close(mode);
}

void FlushConsolidationHandler::shutdown_output(HandlerContext& ctx) {
  flush_held(ctx);
  ctx.shutdown_output();
}

void FlushConsolidationHandler::hold(HandlerContext& ctx) {
  if (++held_ >= flush_after_) {
    flush_now(ctx);
    return;
  }
  // Outside a batch nothing ends it: the end of the iteration does.
  if (reading_ || flush_scheduled_) return;
  flush_scheduled_ = true;
  ctx.loop().defer([presence = std::weak_ptr(presence_), &ctx] {
    const auto handler = presence.lock();
    if (!handler || *handler == nullptr) return;
    (*handler)->flush_scheduled_ = false;
    (*handler)->flush_held(ctx);
  });
}

void FlushConsolidationHandler::flush_held(HandlerContext& ctx) {
  if (held_ != 0) flush_now(ctx);
}

void FlushConsolidationHandler::flush_now(HandlerContext& ctx) {
  held_ = 0;
  ctx.flush();
}

}  // namespace sluice
