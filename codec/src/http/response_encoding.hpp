#pragma once

#include "sluice/channel/handler_context.hpp"
#include "sluice/codec/http/http_response.hpp"

namespace sluice::http::detail {

// What the encoder must know about the request a response answers.
struct RequestContext {
  bool head = false;       // a HEAD request: send the head, never a body
  bool http10 = false;     // an HTTP/1.0 client: no chunked encoding
  bool keep_alive = true;  // the connection persists after this response
  // A 2xx to CONNECT, which makes the connection a tunnel: the head alone, with no framing
  // (RFC 9110 §9.3.6) and no Connection (the tunnel lasts as long as the connection).
  bool tunnel = false;
};

// Writes responses: finishes and sends the head, passes body pieces through untouched
// (framing them as chunks when the length is unknown), and tracks when a response is done.
class ResponseEncoding {
 public:
  enum class Progress { kInformational, kStreaming, kComplete };

  // Why `response` cannot be a 2xx that opens a tunnel (it has content or closes), or null.
  static const char* tunnel_refusal(const HttpResponse& response) noexcept;
  // Writes the head (and the body, for a whole response). Throws a CodecError
  // (body_length_mismatch) while the previous response is still streaming.
  Progress write_response(HandlerContext& ctx, HttpResponse&& response, WriteCallback&& done,
                          const RequestContext& request);
  // A Buffer, CompositeBuffer or FileRegion of a streamed body. Throws a CodecError
  // (body_length_mismatch) for a part that goes past the announced Content-Length, and
  // unsupported_message for a part whose size is unknown: the response cannot be completed.
  void write_body_part(HandlerContext& ctx, Message&& part, WriteCallback&& done);
  // HttpEnd: returns kComplete when it ended a response in progress. Throws a CodecError
  // (body_length_mismatch) when fewer bytes than the announced Content-Length were written;
  // the response is then still streaming, as the client still waits for those bytes. Its
  // trailer fields go out after a chunked body's last chunk and are dropped otherwise.
  Progress write_end(HandlerContext& ctx, const HttpEnd& end, WriteCallback&& done);

  // A response's head is out and its body is not complete.
  bool streaming() const noexcept { return mode_ != Mode::kIdle && mode_ != Mode::kNoContent; }
  // Between responses: no head is waiting for its body.
  bool idle() const noexcept { return mode_ == Mode::kIdle; }
  // The response ends only when the connection closes (an HTTP/1.0 client, no length).
  bool close_delimited() const noexcept { return mode_ == Mode::kCloseDelimited; }

 private:
  // kDiscard: the body of a response to HEAD (sent nothing, completed by HttpEnd).
  // kNoContent: body parts announced for a 204 or 304, which has none (RFC 9110 §6.4.1): the
  // response was complete with its head; the parts and their HttpEnd are dropped.
  enum class Mode { kIdle, kLength, kChunked, kCloseDelimited, kDiscard, kNoContent };

  Mode mode_ = Mode::kIdle;
  bool chunk_sent_ = false;
  std::uint64_t remaining_ = 0;  // kLength: bytes the announced length still expects
};

}  // namespace sluice::http::detail
