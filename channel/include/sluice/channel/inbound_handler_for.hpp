#pragma once

#include "sluice/channel/channel_handler.hpp"
#include "sluice/channel/handler_context.hpp"

namespace sluice {

// A handler for inbound messages of one type: on_message gets each T; messages of other types
// pass on to the next handler untouched.
//
//   class Echo : public InboundHandlerFor<Buffer> {
//     void on_message(HandlerContext& ctx, Buffer&& bytes) override {
//       ctx.write(std::move(bytes));
//     }
//   };
template <typename T>
class InboundHandlerFor : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (T* value = message.get_if<T>()) {
      on_message(ctx, std::move(*value));
    } else {
      ctx.fire_read(std::move(message));
    }
  }

 protected:
  virtual void on_message(HandlerContext& ctx, T&& message) = 0;
};

// The outbound counterpart: on_write gets each T written; other messages pass on untouched.
template <typename T>
class OutboundHandlerFor : public ChannelHandler {
 public:
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    if (T* value = message.get_if<T>()) {
      on_write(ctx, std::move(*value), std::move(done));
    } else {
      ctx.write(std::move(message), std::move(done));
    }
  }

 protected:
  virtual void on_write(HandlerContext& ctx, T&& message, WriteCallback&& done) = 0;
};

}  // namespace sluice
