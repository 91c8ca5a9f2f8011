#pragma once

#include "relay_handler.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/idle_state_handler.hpp"

namespace sluice::examples {

// Last in a proxy's pipeline, after an IdleStateHandler: a connection on which nothing moved
// either way for the whole period is closed, relayed or not, and the other side of its relay
// (the handler named "relay") with it, at once. Left to the relay's close once flushed, a
// backend that stopped reading would keep its side open for good: what is queued for it is
// what held this side still.
class CloseWhenIdle final : public ChannelHandler {
 public:
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<IdleStateEvent>()) {
      if (auto* relay = dynamic_cast<RelayHandler*>(ctx.pipeline().get("relay"))) {
        relay->close_peer_now();
      }
      ctx.close();
      return;
    }
    ctx.fire_user_event(std::move(event));
  }
};

}  // namespace sluice::examples
