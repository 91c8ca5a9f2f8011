#pragma once

#include <memory>

#include "sluice/channel/channel_handler.hpp"

namespace sluice::http {

namespace detail {
class ResponseEncoding;
}

// Encodes HttpResponse, body pieces and HttpEnd into bytes: the head as one pooled buffer
// (status line, headers, Content-Length or Transfer-Encoding: chunked, Date, CRLF); body
// Buffers, CompositeBuffers and FileRegions pass through untouched (framed as chunks when the
// length is unknown), so a response leaves as one gathered write, or a write and a sendfile.
// On its own it knows nothing of the request; HttpServerCodec adds HEAD, HTTP/1.0 and
// keep-alive handling.
class HttpResponseEncoder : public ChannelHandler {
 public:
  HttpResponseEncoder();
  ~HttpResponseEncoder() override;
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;

 private:
  std::unique_ptr<detail::ResponseEncoding> encoding_;
};

}  // namespace sluice::http
