#pragma once

#include <cstddef>
#include <stdexcept>

#include "sluice/buffer/buffer.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/channel/handler_context.hpp"

namespace sluice {

// Encodes outbound messages of type T into bytes: encode() writes into a pooled buffer, which
// goes on toward the transport with the write's callback. Other messages pass untouched.
template <typename T>
class MessageToByteEncoder : public ChannelHandler {
 public:
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    T* value = message.get_if<T>();
    if (value == nullptr) {
      ctx.write(std::move(message), std::move(done));
      return;
    }
    Buffer out = Buffer::allocate(size_hint(*value));
    encode(ctx, std::move(*value), out);
    ctx.write(std::move(out), std::move(done));
  }

 protected:
  virtual void encode(HandlerContext& ctx, T&& message, Buffer& out) = 0;
  // The capacity the output buffer starts with (it grows as needed).
  virtual std::size_t size_hint(const T&) const { return 256; }
};

// Turns inbound messages of type T into other messages, emitted with ctx.fire_read(); other
// messages pass untouched.
template <typename T>
class MessageToMessageDecoder : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (T* value = message.get_if<T>()) {
      decode(ctx, std::move(*value));
    } else {
      ctx.fire_read(std::move(message));
    }
  }

 protected:
  virtual void decode(HandlerContext& ctx, T&& message) = 0;
};

// Turns outbound messages of type T into other messages, written with ctx.write(); the write's
// callback must go with the last of them (or be completed by encode), else the write fails.
// Other messages pass untouched.
template <typename T>
class MessageToMessageEncoder : public ChannelHandler {
 public:
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    if (T* value = message.get_if<T>()) {
      encode(ctx, std::move(*value), std::move(done));
      // A callback left here would be destroyed uncalled, and whoever waits on it would wait
      // for ever. Throwing lets the pipeline fail it and report the error, as Netty does.
      if (done) {
        throw std::logic_error(
            "MessageToMessageEncoder: encode() neither passed the write's callback on nor "
            "completed it");
      }
    } else {
      ctx.write(std::move(message), std::move(done));
    }
  }

 protected:
  virtual void encode(HandlerContext& ctx, T&& message, WriteCallback&& done) = 0;
};

}  // namespace sluice
