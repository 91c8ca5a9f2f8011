#include "connection_limit.hpp"

#include "sluice/buffer/buffer.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/handler_context.hpp"
#include "sluice/codec/http/http_request.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_status.hpp"
#include "sluice/codec/idle_state_handler.hpp"

namespace sluice::examples {

void ConnectionSlot::on_inactive(HandlerContext& ctx) {
  give_back();
  ctx.fire_inactive();
}

void OverCapacityHandler::on_active(HandlerContext& ctx) {
  Ref<Channel> channel(&ctx.channel());
  grace_ = ctx.loop().schedule(kGrace, [channel] { channel->close(); });
  ctx.fire_active();
}

void OverCapacityHandler::on_inactive(HandlerContext& ctx) {
  grace_.cancel();
  ctx.fire_inactive();
}

void OverCapacityHandler::on_removed(HandlerContext&) {
  grace_.cancel();
}

void OverCapacityHandler::on_read(HandlerContext& ctx, Message&& message) {
  if (!message.is<http::HttpRequest>() || answered_) return;
  answered_ = true;
  ctx.write(http::HttpResponse(http::status::kServiceUnavailable)
                .header("Server", "sluice")
                .header("Content-Type", "text/plain; charset=utf-8")
                .header("Retry-After", "1")
                .close_connection()
                .body(Buffer::copy_of("Too many connections, try again shortly.\n")));
}

void OverCapacityHandler::on_read_complete(HandlerContext& ctx) {
  ctx.flush();
}

// A connection over the limit that never sends a request must not keep its descriptor.
void OverCapacityHandler::on_user_event(HandlerContext& ctx, Message&& event) {
  if (event.is<IdleStateEvent>()) ctx.close();
}

}  // namespace sluice::examples
