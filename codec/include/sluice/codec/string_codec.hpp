#pragma once

#include <string>
#include <string_view>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/codec/message_codecs.hpp"

namespace sluice {

// Replaces each invalid UTF-8 sequence in `bytes` with U+FFFD, as decoders of text do.
std::string to_valid_utf8(std::string_view bytes);

// Inbound Buffers and CompositeBuffers to std::string (UTF-8; invalid sequences become U+FFFD).
// Put it after a frame decoder, so that each string is a whole frame.
class StringDecoder final : public MessageToMessageDecoder<Buffer> {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (auto* composite = message.get_if<CompositeBuffer>()) {
      // A frame in pieces (a length-field decoder's with contiguous_frames off): one string.
      const Buffer joined = composite->coalesce();
      ctx.fire_read(to_valid_utf8(joined.readable_view()));
      return;
    }
    MessageToMessageDecoder<Buffer>::on_read(ctx, std::move(message));
  }

 protected:
  void decode(HandlerContext& ctx, Buffer&& bytes) override {
    ctx.fire_read(to_valid_utf8(bytes.readable_view()));
  }
};

// Outbound std::string to a Buffer holding its bytes.
class StringEncoder final : public MessageToMessageEncoder<std::string> {
 protected:
  void encode(HandlerContext& ctx, std::string&& text, WriteCallback&& done) override {
    ctx.write(Buffer::copy_of(text), std::move(done));
  }
};

}  // namespace sluice
