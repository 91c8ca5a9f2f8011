#pragma once

#include "sluice/channel/channel.hpp"
#include "sluice/channel/inbound_handler_for.hpp"

namespace sluice::examples {

// Writes every buffer it reads back to the peer, flushing once per read batch, so a batch of
// reads leaves in one gathered sendmsg. When the peer reads slower than it sends, the channel
// stops being writable; reading pauses until it drains, so memory stays bounded.
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
};

}  // namespace sluice::examples
