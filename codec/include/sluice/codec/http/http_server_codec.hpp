#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "sluice/codec/http/http_request_decoder.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/core/ring_queue.hpp"
#include "sluice/core/scheduled_task.hpp"

namespace sluice::http {

namespace detail {
class ResponseEncoding;
struct RequestContext;
}  // namespace detail

// The server side of HTTP/1.1 in one handler: HttpRequestDecoder inbound, the response encoder
// outbound, and what ties them together:
//
//   - pipelining: requests are remembered in order, so each response is encoded for the request
//     it answers (no body for HEAD, keep-alive or close, no chunking for HTTP/1.0);
//   - keep-alive (RFC 9112 §9.3): after a response that ends the connection ("Connection:
//     close" either way, HTTP/1.0 without keep-alive, a body delimited by closing), the
//     connection closes gracefully: FIN after the response, unread input drained so that no
//     reset destroys the response (§9.6), then close when the peer closes or `linger` after
//     the FIN has gone out (a peer that stops reading the last response is an idle timeout's
//     to close, IdleStateHandler: a timer from the FIN request cut off slow readers);
//   - bad requests: an HttpDecodeError is answered here with its status and "Connection:
//     close", after the responses still owed to earlier pipelined requests;
//   - backpressure: while the channel is not writable (answers not read by the peer pile up
//     past the high water mark), or HttpLimits::max_pipelined requests await their answers,
//     no further request is decoded and reading pauses;
//   - a peer that half-closes after its requests (allow_half_closure on) gets every answer,
//     then the connection closes;
//   - framing of responses is enforced: a body that goes past or falls short of its
//     Content-Length, body bytes written when no response awaits them (unless a 101 went
//     out), or a response written before the one before it was ended with HttpEnd, fail with
//     CodecErrc::body_length_mismatch and the connection closes;
//   - a final response written when no request awaits one (every request answered, or none
//     received whole) would be taken by a pipelining client for the answer to its next
//     request: nothing of it goes out, it fails with CodecErrc::unsolicited_response and the
//     connection closes (the codec's own error answers do not count: they answer the request
//     that failed);
//   - Expect: 100-continue (RFC 9110 §10.1.1): a final response to such a request written
//     before any 100 Continue went out and before any of its body arrived says "Connection:
//     close" and the connection closes after it, as the client may never send that body;
//     after a 100 Continue, or once the body has begun (the client then sends all of it),
//     keep-alive goes on as for any request;
//   - switching protocols (RFC 9110 §7.8): nothing after a request that asks to upgrade
//     (HttpRequest::upgrade()) is decoded until its answer is written. A final status lets HTTP
//     go on with what was held; a 101, whose Upgrade field must name protocols the request
//     offered, makes every byte after the request (its body is still HTTP) go on inbound as
//     Buffers, untouched, and outbound bytes pass untouched; HTTP responses are refused from
//     then on. A 101 that answers no upgrade request, in its turn, fails with
//     CodecErrc::invalid_protocol_switch and the connection closes;
//   - tunnels (RFC 9110 §9.3.6, for a forward proxy): nothing after a CONNECT
//     (HttpRequest::is_connect(), its target "host:port") is decoded until its answer is
//     written, as for an upgrade request; bytes the client sends ahead of the answer (tunnel
//     data, which clients send optimistically) are held. A 2xx opens the tunnel: its head goes
//     out without Content-Length, Transfer-Encoding or Connection, then every byte after the
//     request goes on inbound as Buffers, untouched, and outbound bytes pass untouched; HTTP
//     responses are refused from then on, and the tunnel ends when the connection does (a
//     2xx opens it even when the request asked to close, as HTTP/1.0 clients do). A 2xx that
//     has content (a non-empty body(), a content_length() other than 0, streamed()) or says
//     close_connection() fails with CodecErrc::invalid_protocol_switch and the connection
//     closes, nothing of it sent. As after a 101, an HttpEnd written after the 2xx sends
//     nothing. Any other final status (403, 407, 502...) is an ordinary response: HTTP goes on
//     with what was held, or the connection closes if the request or the response says so.
//     A 1xx before the final answer goes out as for any request; a 101 is refused.
class HttpServerCodec : public HttpRequestDecoder {
 public:
  explicit HttpServerCodec(const HttpLimits& limits = {},
                           std::chrono::milliseconds linger = std::chrono::seconds(2));
  ~HttpServerCodec() override;

  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;
  void on_writability_changed(HandlerContext& ctx) override;
  void on_user_event(HandlerContext& ctx, Message&& event) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_removed(HandlerContext& ctx) override;

 protected:
  void emit_request(HandlerContext& ctx, HttpRequest&& request) override;
  void emit_content(HandlerContext& ctx, HttpContent&& content) override;
  void emit_error(HandlerContext& ctx, HttpDecodeError&& error) override;
  bool ready_for_request(HandlerContext& ctx) override;
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override;

 private:
  struct Pending {
    bool head;
    bool http10;
    bool keep_alive;
    // Asked to switch protocols or for a tunnel, and no final answer has begun: what follows
    // the request may not be HTTP, so nothing after it is decoded until that answer.
    bool switch_awaited;
    bool connect;  // a CONNECT: a 2xx opens the tunnel (RFC 9110 §9.3.6), a 101 is refused
    // Expects 100-continue for a body none of which has arrived, and no 100 Continue went
    // out: the client may be holding the body back until it sees one.
    bool continue_awaited;
  };

  void reject_request(HandlerContext& ctx, HttpReject&& reject);
  // Keeps `error` as the answer owed after the pending responses (`head`: it answers a HEAD
  // request, so it goes without content).
  void take_error(HandlerContext& ctx, HttpDecodeError&& error, bool head);
  void write_informational(HandlerContext& ctx, HttpResponse&& response, WriteCallback&& done);
  void write_switching_protocols(HandlerContext& ctx, HttpResponse&& response,
                                 WriteCallback&& done);
  // A 2xx to the CONNECT awaiting its answer.
  void open_tunnel(HandlerContext& ctx, HttpResponse&& response, WriteCallback&& done);
  // Sends the last HTTP head, which answers the oldest request (a 101, a tunnel's 2xx): every
  // byte after the request, either way, is passed through untouched from then on.
  void leave_http(HandlerContext& ctx, HttpResponse&& last_head, WriteCallback&& done,
                  const detail::RequestContext& request);
  // What follows the newest request may be another protocol's or a tunnel's: it waits for
  // that answer.
  bool awaiting_switch_answer() const noexcept {
    return !pending_.empty() && pending_.back().switch_awaited;
  }
  // Sends the 1xx held back for the request being received once its turn has come.
  void send_held_informational(HandlerContext& ctx);
  bool may_take_request(HandlerContext& ctx) const;
  void close_if_all_answered(HandlerContext& ctx);
  // Decodes what was held back once a request may be taken again.
  void resume_if_ready(HandlerContext& ctx);
  void resume_later(HandlerContext& ctx);
  void response_complete(HandlerContext& ctx, bool close);
  void answer_error(HandlerContext& ctx);
  void close_gracefully(HandlerContext& ctx);

  std::unique_ptr<detail::ResponseEncoding> encoding_;
  RingQueue<Pending> pending_;  // requests not yet fully answered, oldest first
  // The error response owed after the pending ones; `head`: it answers a HEAD request, so it
  // goes without content.
  struct OwedError {
    HttpDecodeError error;
    bool head;
  };
  std::optional<OwedError> error_;
  // A 1xx written while earlier answers were owed, for request number held_for_ (counted by
  // requests_received_): it goes out when its turn comes, if that request's body is still due.
  std::optional<HttpResponse> held_informational_;
  std::uint64_t held_for_ = 0;
  std::uint64_t requests_received_ = 0;
  // The Upgrade values of the request awaiting its answer, for the 101 to choose from.
  std::string upgrade_offer_;
  std::chrono::milliseconds linger_;
  ScheduledTask linger_timer_;
  bool resume_queued_ = false;
  bool current_closes_ = false;  // the response being streamed ends the connection
  // A 101, or a 2xx to CONNECT, went out: what follows is not HTTP.
  bool switched_protocols_ = false;
  bool closing_ = false;
};

}  // namespace sluice::http
