#pragma once

#include <cstdint>
#include <memory>

#include "sluice/codec/byte_to_message_decoder.hpp"
#include "sluice/codec/http/http_head_parser.hpp"
#include "sluice/codec/http/http_limits.hpp"
#include "sluice/codec/http/http_request.hpp"
#include "sluice/core/scheduled_task.hpp"

namespace sluice::http {

// Decodes HTTP/1.1 requests (RFC 9112), streaming: each request becomes an HttpRequest, then
// HttpContent pieces of its body as they arrive (slices of the read buffers, de-chunked), the
// last one marked `last`. Pipelined requests come out in order.
//
// Strict, with one rule per known request-smuggling vector:
//   - Content-Length with Transfer-Encoding, several Content-Length lines, or one that is not
//     1*DIGIT or overflows: 400 (RFC 9112 §6.3, CVE-2019-18277, CVE-2022-24761 class);
//   - Transfer-Encoding whose final coding is not chunked, or lists chunked twice: 400; another
//     coding before chunked: 501 (§6.1); Transfer-Encoding on HTTP/1.0: 400;
//   - chunk sizes that are not hex, have whitespace, overflow or run past 16 digits, malformed
//     chunk extensions, chunk data not followed by CRLF: 400 (§7.1, CVE-2023-44487-era
//     desync bugs in lenient parsers);
//   - a CONNECT that announces content (Content-Length other than 0, or Transfer-Encoding):
//     400, as its bytes could be read as a body or as the tunnel's (RFC 9110 §9.3.6);
//   - and everything HttpHeadParser rejects in the head.
// A bad request becomes one HttpDecodeError; the decoder then discards everything else the
// connection sends. After a request that ends the connection (keep_alive() false) the rest of
// the input is ignored too (RFC 9112 §9.6).
//
// A request head must arrive whole within HttpLimits::head_timeout of its first byte: one that
// does not becomes an HttpDecodeError with status 408. The clock runs only while a partial
// head waits for bytes; a head that arrives in one read costs no timer.
//
// A request that asks to switch protocols is marked (HttpRequest::upgrade()), and so is one
// that asks for a tunnel (HttpRequest::is_connect()). On its own the decoder has no way to
// know the answer and goes on decoding (after a CONNECT even when it asked to close: only the
// answer says whether the connection goes on); HttpServerCodec holds the input after such a
// request until it is answered, and after a 101, or a 2xx to CONNECT, the bytes that follow
// the request are no longer HTTP: they go on as Buffers, as they arrived (switch_protocols()).
class HttpRequestDecoder : public ByteToMessageDecoder {
 public:
  explicit HttpRequestDecoder(const HttpLimits& limits = {});
  ~HttpRequestDecoder() override;

  void on_inactive(HandlerContext& ctx) override;
  void on_removed(HandlerContext& ctx) override;

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override;
  // The input ended inside a request (RFC 9112 §8, an incomplete message): a 400
  // HttpDecodeError, so that the request is not left waiting for the rest of itself.
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override;

  // Where decoded messages go; the server codec intercepts them.
  virtual void emit_request(HandlerContext& ctx, HttpRequest&& request);
  virtual void emit_content(HandlerContext& ctx, HttpContent&& content);
  virtual void emit_error(HandlerContext& ctx, HttpDecodeError&& error);
  // Ignores the rest of the input (the request was refused, or the connection is closing):
  // RFC 9112 §9.6, no later request on the connection is processed.
  void stop_decoding() noexcept { state_ = State::kDiscard; }
  // Asked before each request head is decoded; false holds the head back (the subclass has
  // paused decoding, see ByteToMessageDecoder::pause_decoding).
  virtual bool ready_for_request(HandlerContext&) { return true; }
  // A request has gone out and the last piece of its body has not: it is being received.
  bool receiving_request() const noexcept { return receiving_; }
  // The request being received, or else the last one received, was answered 101 (RFC 9110
  // §15.2.2), or 2xx to its CONNECT (§9.3.6): every byte after its end belongs to the new
  // protocol or the tunnel and is passed on untouched as a Buffer, with no HTTP limit and no
  // error at the end of input. Its body, if it has one, is still decoded first.
  void switch_protocols() noexcept;

 private:
  enum class State {
    kHead,
    kBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kDiscard,
    kRaw,  // after a 101: another protocol's bytes, passed on
  };

  void decode_head(HandlerContext& ctx, CompositeBuffer& in);
  void decode_body(HandlerContext& ctx, CompositeBuffer& in, bool chunk);
  void decode_chunk_size(HandlerContext& ctx, CompositeBuffer& in);
  void decode_chunk_end(HandlerContext& ctx, CompositeBuffer& in);
  void decode_trailers(HandlerContext& ctx, CompositeBuffer& in);
  HttpFields take_fields(CompositeBuffer& in);
  void finish_request(HandlerContext& ctx, HttpContent&& last);
  // `head`: the request refused is a HEAD (HttpDecodeError::head).
  void fail(HandlerContext& ctx, CompositeBuffer& in, std::uint16_t status, std::string reason,
            bool head = false);
  // The state fail() leaves, and the error, for a refusal made outside decode() (whose caller
  // drops the undecoded bytes itself).
  void refuse(HandlerContext& ctx, std::uint16_t status, std::string reason, bool head = false);
  static void pass_on_raw(HandlerContext& ctx, CompositeBuffer& in);
  // A head has begun to arrive and not ended: its clock starts (the timer is set unless one
  // is already due).
  void head_begun(HandlerContext& ctx);
  void watch_head(HandlerContext& ctx, std::uint64_t delay_ms);
  void head_deadline(HandlerContext& ctx);

 protected:
  const HttpLimits& limits() const noexcept { return limits_; }
  // Points at this decoder while it is in a pipeline, null once it is removed or destroyed:
  // work queued on the loop (a timer, a deferred resume) holds it to find out whether the
  // decoder is still there. Made the first time it is asked for.
  const std::shared_ptr<HttpRequestDecoder*>& presence();

 private:
  HttpLimits limits_;
  HttpHeadParser parser_;
  State state_ = State::kHead;
  std::uint64_t remaining_ = 0;  // body or chunk bytes still to come
  // Leading bytes of the pending chunk-size line already searched for its LF: back to 0 when a
  // line is taken or refused, so that each line's search starts at its first byte.
  std::size_t chunk_line_scanned_ = 0;
  bool keep_alive_ = true;  // of the request being decoded
  bool receiving_ = false;
  bool switch_after_request_ = false;  // answered 101 while being received
  // The partial head's clock (HttpLimits::head_timeout): when its first byte was decoded, in
  // the loop's milliseconds, and whether one is waiting for its end.
  bool head_waiting_ = false;
  std::uint64_t head_began_ms_ = 0;
  // One timer at a time, never cancelled as heads come and go: when it falls due it looks at
  // the head waiting then, if any, and sets itself again for that head's deadline.
  ScheduledTask head_timer_;
  bool head_timer_set_ = false;
  std::shared_ptr<HttpRequestDecoder*> presence_;  // see presence()
};

}  // namespace sluice::http
