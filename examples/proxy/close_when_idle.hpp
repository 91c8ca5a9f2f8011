#pragma once

#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/idle_state_handler.hpp"

namespace sluice::examples {

// Last in a proxy's pipeline, after an IdleStateHandler: a connection on which nothing moved
// either way for the whole period is closed, relayed or not. The other side of a relay follows
// through its RelayHandler, so a client or backend that stopped reading cannot keep both open
// for good.
class CloseWhenIdle final : public ChannelHandler {
 public:
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<IdleStateEvent>()) {
      ctx.close();
      return;
    }
    ctx.fire_user_event(std::move(event));
  }
};

}  // namespace sluice::examples
