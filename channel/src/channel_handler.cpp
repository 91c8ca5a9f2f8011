#include "sluice/channel/channel_handler.hpp"

#include "sluice/channel/handler_context.hpp"
#include "sluice/core/log.hpp"

namespace sluice {

void complete_write(WriteCallback& done, const Error& result) noexcept {
  if (!done) return;
  WriteCallback callback = std::move(done);
  try {
    callback(result);
  } catch (const std::exception& error) {
    logger().error("a write callback threw: {}", error.what());
  } catch (...) {
    logger().error("a write callback threw something that is not a std::exception");
  }
}

void ChannelHandler::on_active(HandlerContext& ctx) {
  ctx.fire_active();
}
void ChannelHandler::on_inactive(HandlerContext& ctx) {
  ctx.fire_inactive();
}
void ChannelHandler::on_read(HandlerContext& ctx, Message&& message) {
  ctx.fire_read(std::move(message));
}
void ChannelHandler::on_read_complete(HandlerContext& ctx) {
  ctx.fire_read_complete();
}
void ChannelHandler::on_user_event(HandlerContext& ctx, Message&& event) {
  ctx.fire_user_event(std::move(event));
}
void ChannelHandler::on_writability_changed(HandlerContext& ctx) {
  ctx.fire_writability_changed();
}
void ChannelHandler::on_error(HandlerContext& ctx, const Error& error) {
  ctx.fire_error(error);
}

void ChannelHandler::write(HandlerContext& ctx, Message&& message, WriteCallback&& done) {
  ctx.write(std::move(message), std::move(done));
}
void ChannelHandler::flush(HandlerContext& ctx) {
  ctx.flush();
}
void ChannelHandler::read(HandlerContext& ctx) {
  ctx.read();
}
void ChannelHandler::close(HandlerContext& ctx, CloseMode mode) {
  ctx.close(mode);
}
void ChannelHandler::shutdown_output(HandlerContext& ctx) {
  ctx.shutdown_output();
}

}  // namespace sluice
