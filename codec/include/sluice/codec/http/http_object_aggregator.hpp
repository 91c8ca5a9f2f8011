#pragma once

#include <cstddef>
#include <optional>

#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/http/http_request.hpp"

namespace sluice::http {

// Joins a request's head and body pieces into one FullHttpRequest (the body's pieces are
// joined as a CompositeBuffer, not copied; past 1024 pieces, such as a body trickled in a byte
// per read, each holding its whole read buffer, they are copied into one buffer). Put it after
// HttpServerCodec.
//
// A body over max_content_length is answered 413 with "Connection: close" and not buffered:
// decided from Content-Length before any of it is read, or, for a chunked body, as soon as the
// pieces pass the limit. "Expect: 100-continue" (RFC 9110 §10.1.1) is answered with
// 100 Continue when the body will be accepted, or with the 413 at once when it will not.
// Other messages pass on untouched: the Buffers that follow a 101 Switching Protocols are
// another protocol's bytes, never a body, and no limit applies to them.
class HttpObjectAggregator : public ChannelHandler {
 public:
  explicit HttpObjectAggregator(std::size_t max_content_length)
      : max_content_length_(max_content_length) {}

  void on_read(HandlerContext& ctx, Message&& message) override;

 private:
  void reject(HandlerContext& ctx);

  std::size_t max_content_length_;
  std::optional<FullHttpRequest> current_;
  bool discarding_ = false;
};

}  // namespace sluice::http
