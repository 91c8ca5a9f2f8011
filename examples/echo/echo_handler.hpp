#pragma once

#include "sluice/channel/channel.hpp"
#include "sluice/channel/inbound_handler_for.hpp"

namespace sluice::examples {

// Writes every buffer it reads back to the peer, flushing once per read batch, so a batch of
// reads leaves in one gathered sendmsg. When the peer reads slower than it sends, the channel
// stops being writable; reading pauses until it drains, so memory stays bounded. After the
// peer's half-close it sends what is left and closes its side as well.
class EchoHandler final : public InboundHandlerFor<Buffer> {
 public:
  void on_message(HandlerContext& ctx, Buffer&& bytes) override {
    ctx.write(std::move(bytes));
    if (!ctx.channel().is_writable()) ctx.channel().set_auto_read(false);
  }
  void on_read_complete(HandlerContext& ctx) override { ctx.flush(); }
  void on_writability_changed(HandlerContext& ctx) override {
    if (ctx.channel().is_writable()) ctx.channel().set_auto_read(true);
    ctx.fire_writability_changed();
  }
  // The peer has sent its last byte (with allow_half_closure on): echo what is left, then end
  // the output too, and the connection closes.
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<ChannelInputShutdown>()) {
      ctx.flush();
      ctx.shutdown_output();
    }
    ctx.fire_user_event(std::move(event));
  }
};

}  // namespace sluice::examples
