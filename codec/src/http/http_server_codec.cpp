#include "sluice/codec/http/http_server_codec.hpp"

#include <string_view>
#include <utility>

#include "response_encoding.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_status.hpp"

namespace sluice::http {
namespace {

// Whether the Upgrade field of a 101's head (as HttpResponse writes it: the status line, then
// "Name: value" lines) names at least one protocol and only protocols among `offer`, the
// request's Upgrade values. RFC 9110 §7.8: the server names in its 101 the protocols it
// switches to, and MUST NOT switch to one the client did not offer. Names are compared
// ignoring case, as WebSocket's is (RFC 6455 §4.2.1).
bool names_offered_protocols(std::string_view head, std::string_view offer) {
  bool named = false;
  bool all_offered = true;
  for (std::size_t end = head.find("\r\n"); end != std::string_view::npos;) {
    const std::size_t start = end + 2;
    end = head.find("\r\n", start);
    const std::string_view line = head.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !equals_ignore_case(line.substr(0, colon), "upgrade"))
      continue;
    for_each_list_element(line.substr(colon + 1), [&](std::string_view protocol) {
      named = true;
      bool offered = false;
      for_each_list_element(offer, [&](std::string_view candidate) {
        offered = offered || equals_ignore_case(candidate, protocol);
      });
      all_offered = all_offered && offered;
    });
  }
  return named && all_offered;
}

}  // namespace

HttpServerCodec::HttpServerCodec(const HttpLimits& limits, std::chrono::milliseconds linger)
    : HttpRequestDecoder(limits),
      encoding_(std::make_unique<detail::ResponseEncoding>()),
      linger_(linger) {}

HttpServerCodec::~HttpServerCodec() = default;

void HttpServerCodec::emit_request(HandlerContext& ctx, HttpRequest&& request) {
  const bool body_due = request.chunked() || request.content_length().value_or(0) != 0;
  pending_.push_back({request.is_head(), request.version_minor() == 0, request.keep_alive(),
                      request.upgrade() || request.is_connect(), request.is_connect(),
                      request.expects_continue() && body_due});
  if (request.upgrade()) {
    // Kept for the 101 to be checked against: only upgrade requests pay for it.
    upgrade_offer_.clear();
    for (const Field field : request.headers()) {
      if (!equals_ignore_case(field.name, "upgrade")) continue;
      upgrade_offer_ += field.value;
      upgrade_offer_ += ',';
    }
  }
  ++requests_received_;
  HttpRequestDecoder::emit_request(ctx, std::move(request));
}

void HttpServerCodec::emit_content(HandlerContext& ctx, HttpContent&& content) {
  // The body has begun: a client that sends some of it has chosen to send all of it (the
  // message must end as framed), so whatever the answer, the bytes after it are the next
  // request (RFC 9110 §10.1.1 lets the 100 go unsent once content has arrived). The request
  // being received is the newest remembered, unless its answer is complete already (then
  // every earlier one's is too, and none is left).
  if ((content.last || content.data.readable_bytes() != 0) && !pending_.empty()) {
    pending_.back().continue_awaited = false;
  }
  HttpRequestDecoder::emit_content(ctx, std::move(content));
}

void HttpServerCodec::emit_error(HandlerContext& ctx, HttpDecodeError&& error) {
  // A request whose body turned out malformed gets the error as its response.
  bool head = error.head;
  if (error.in_body) {
    if (pending_.empty()) {
      // Its answer has already gone out in full (sent before the body was read): a second
      // one would answer no request, and a pipelining client would take it for the answer to
      // its next. The connection just ends.
      close_gracefully(ctx);
      return;
    }
    head = pending_.back().head;
    pending_.pop_back();
  }
  take_error(ctx, std::move(error), head);
}

void HttpServerCodec::take_error(HandlerContext& ctx, HttpDecodeError&& error, bool head) {
  if (pending_.empty() && encoding_->streaming()) {
    // That request's response is already half-way out (streamed while its body arrived): an
    // error head now would land inside that body. Cut the response short instead (no end of
    // body tells the client it failed) and close.
    close_gracefully(ctx);
    return;
  }
  error_ = OwedError{std::move(error), head};
  // Earlier pipelined requests are answered first; the error response goes after theirs.
  if (pending_.empty()) answer_error(ctx);
}

void HttpServerCodec::write(HandlerContext& ctx, Message&& message, WriteCallback&& done) {
  if (closing_) {
    // The connection is ending: nothing more goes out after the last response.
    complete_write(done, Error(ChannelErrc::output_shutdown, "HTTP connection closing"));
    return;
  }
  if (auto* response = message.get_if<HttpResponse>()) {
    if (switched_protocols_) {
      // The connection speaks another protocol now, or is a tunnel: an HTTP head would land
      // inside its bytes.
      throw Exception(Error(ChannelErrc::unsupported_message,
                            "an HttpResponse after 101 Switching Protocols or a 2xx that "
                            "opened a CONNECT tunnel"));
    }
    if (response->status() == 101) {
      write_switching_protocols(ctx, std::move(*response), std::move(done));
      return;
    }
    if (response->status() < 200) {
      write_informational(ctx, std::move(*response), std::move(done));
      return;
    }
    if (pending_.empty()) {
      // Every request has its answer, or none has arrived whole: a pipelining client would
      // take this response for the answer to its next request (responses go in the order of
      // the requests, RFC 9112 §9.3.2), and every answer after it would be off by one. As for
      // body bytes outside a response, nothing goes out and the connection ends, so that the
      // body and HttpEnd written after it fail as well instead of going out on their own.
      close_gracefully(ctx);
      throw CodecError(CodecErrc::unsolicited_response,
                       "a final response when no request awaits an answer (every request "
                       "answered, or none received whole)");
    }
    Pending& answered = pending_.front();
    if (answered.connect && answered.switch_awaited && response->status() < 300) {
      open_tunnel(ctx, std::move(*response), std::move(done));
      return;
    }
    detail::RequestContext request{answered.head, answered.http10, answered.keep_alive};
    if (answered.continue_awaited) {
      // RFC 9110 §10.1.1: told no 100 Continue, a client that expects it may never send the
      // body, which the decoder would wait for until an idle timeout; or it may send it after
      // all. Unable to tell which, the response says "close" and the connection ends after it,
      // whatever of the body comes being read and dropped (RFC 9112 §9.6).
      request.keep_alive = false;
    }
    // A final status refuses the upgrade (RFC 9110 §7.8 lets the server ignore it), and one
    // other than 2xx the tunnel (§9.3.6: only a 2xx opens it): what was held after the request
    // is HTTP and is decoded once a request may be taken.
    const bool switch_declined = std::exchange(answered.switch_awaited, false);
    detail::ResponseEncoding::Progress progress;
    try {
      progress = encoding_->write_response(ctx, std::move(*response), std::move(done), request);
    } catch (...) {
      // The response before it was never ended: its body is cut short, as for any response
      // that cannot be completed as framed.
      close_gracefully(ctx);
      throw;
    }
    current_closes_ = response->closes_connection();
    if (progress == detail::ResponseEncoding::Progress::kComplete) {
      response_complete(ctx, current_closes_);
    } else if (switch_declined && decoding_paused() && may_take_request(ctx)) {
      resume_later(ctx);
    }
    return;
  }
  if (auto* reject = message.get_if<HttpReject>()) {
    reject_request(ctx, std::move(*reject));
    complete_write(done, Error());
    return;
  }
  try {
    if (const auto* end = message.get_if<HttpEnd>()) {
      if (encoding_->write_end(ctx, *end, std::move(done)) ==
          detail::ResponseEncoding::Progress::kComplete) {
        response_complete(ctx, current_closes_);
      }
      return;
    }
    const bool bytes =
        message.is<Buffer>() || message.is<CompositeBuffer>() || message.is<FileRegion>();
    if (bytes && message.bytes() != 0 && encoding_->idle() && !switched_protocols_) {
      // No response is waiting for a body: the client would read these bytes as the next
      // response, which one response's writer could forge. (After a 101 or a tunnel's 2xx
      // they are the new protocol's or the tunnel's, and go out untouched.)
      throw CodecError(CodecErrc::body_length_mismatch,
                       "body bytes written outside a response (after a complete one, or "
                       "before any)");
    }
    encoding_->write_body_part(ctx, std::move(message), std::move(done));
  } catch (...) {
    // The response cannot be completed as its head framed it (a body part past its length, an
    // end short of it, a part of unknown size): cut it off, which the client sees as an
    // incomplete response, rather than let it read what follows as something else.
    close_gracefully(ctx);
    throw;
  }
}

void HttpServerCodec::reject_request(HandlerContext& ctx, HttpReject&& reject) {
  stop_decoding();
  // While a request is being received, the refusal answers it (the newest one remembered),
  // after the answers owed to the requests before it.
  if (receiving_request()) {
    emit_error(ctx, HttpDecodeError{reject.status, std::move(reject.reason), true});
    return;
  }
  // A handler refused a request after the whole of it arrived: like a response, the refusal
  // answers the oldest request whose answer has not begun. The requests after that one go
  // unanswered, as the connection ends with the refusal.
  const std::size_t answered = encoding_->streaming() ? 1 : 0;
  if (pending_.size() <= answered) {
    // Every request has its answer: sent, the refusal would answer none, and a pipelining
    // client would take it for the answer to its next request. The connection ends after the
    // answer still streaming, if any.
    if (answered != 0) {
      current_closes_ = true;
    } else {
      close_gracefully(ctx);
    }
    return;
  }
  const bool head = answered < pending_.size() && pending_[answered].head;
  pending_.truncate(answered);
  take_error(ctx, HttpDecodeError{reject.status, std::move(reject.reason), false}, head);
}

void HttpServerCodec::write_informational(HandlerContext& ctx, HttpResponse&& response,
                                          WriteCallback&& done) {
  // A 1xx answers the request being received, the newest one, never an HTTP/1.0 client's
  // (RFC 9110 §15.2). With no request owed an answer, it would precede the next request's
  // response, unasked.
  if (pending_.empty() || pending_.back().http10) {
    complete_write(done, Error());
    return;
  }
  if (pending_.size() == 1 && !encoding_->streaming()) {
    // Only a 100 tells the client to send the body it holds back (RFC 9110 §10.1.1).
    if (response.status() == status::kContinue) pending_.back().continue_awaited = false;
    encoding_->write_response(ctx, std::move(response), std::move(done), {});
    return;
  }
  // It may go out only in its place in the order of responses (RFC 9112 §9.3.2): it waits for
  // the earlier answers. Dropped, a client that expects 100-continue and does not give up
  // waiting would wait for ever; the server MUST send it or a final status (RFC 9110 §10.1.1).
  if (receiving_request()) {
    held_informational_.emplace(std::move(response));
    held_for_ = requests_received_;
  }
  complete_write(done, Error());
}

void HttpServerCodec::write_switching_protocols(HandlerContext& ctx, HttpResponse&& response,
                                                WriteCallback&& done) {
  // RFC 9110 §15.2.2: a 101 answers a request that asked to upgrade, in that request's turn,
  // and switches only to what it offered. Sent otherwise, the client would read the new
  // protocol as HTTP, or the server read HTTP as the new protocol: like a body that breaks its
  // framing, the write fails and the connection ends.
  const char* refusal = nullptr;
  if (pending_.empty()) {
    refusal = "a 101 Switching Protocols when no request awaits an answer";
  } else if (!pending_.front().switch_awaited || pending_.front().connect) {
    // A CONNECT awaits a switch too, but to a tunnel, which a 2xx opens (RFC 9110 §9.3.6).
    refusal = pending_.back().switch_awaited && !pending_.back().connect
                  ? "a 101 Switching Protocols before the answers owed to earlier requests"
                  : "a 101 Switching Protocols to a request that did not ask to upgrade "
                    "(HTTP/1.1, Upgrade and Connection: upgrade, without close)";
  } else if (!names_offered_protocols(response.head_text(), upgrade_offer_)) {
    refusal =
        "a 101 Switching Protocols whose Upgrade field does not name protocols the "
        "request offered";
  }
  if (refusal != nullptr) {
    close_gracefully(ctx);
    throw CodecError(CodecErrc::invalid_protocol_switch, refusal);
  }
  leave_http(ctx, std::move(response), std::move(done), {});
}

void HttpServerCodec::open_tunnel(HandlerContext& ctx, HttpResponse&& response,
                                  WriteCallback&& done) {
  // RFC 9110 §9.3.6: the connection is the tunnel from the end of the 2xx's head, so the head
  // can frame nothing: a body, or bytes announced to follow, would be read as the tunnel's
  // first bytes, the way one response forges another. Like a 101 that breaks its rules, the
  // write fails and the connection ends.
  if (const char* refusal = detail::ResponseEncoding::tunnel_refusal(response)) {
    close_gracefully(ctx);
    throw CodecError(CodecErrc::invalid_protocol_switch, refusal);
  }
  leave_http(ctx, std::move(response), std::move(done), {.tunnel = true});
}

void HttpServerCodec::leave_http(HandlerContext& ctx, HttpResponse&& last_head,
                                 WriteCallback&& done, const detail::RequestContext& request) {
  pending_.pop_front();
  // Set before the head goes out: a write callback that runs at once may already send the
  // new protocol's bytes.
  switched_protocols_ = true;
  held_informational_.reset();
  encoding_->write_response(ctx, std::move(last_head), std::move(done), request);
  switch_protocols();
  // What arrived after the request goes on from the loop, not from inside this write (which
  // usually runs inside on_read).
  if (decoding_paused()) resume_later(ctx);
}

void HttpServerCodec::send_held_informational(HandlerContext& ctx) {
  if (!held_informational_ || pending_.size() > 1 || encoding_->streaming()) return;
  HttpResponse response = std::move(*held_informational_);
  held_informational_.reset();
  // Once the body is in, the 1xx is no use (RFC 9110 §10.1.1 lets it be omitted).
  if (pending_.size() == 1 && receiving_request() && requests_received_ == held_for_) {
    if (response.status() == status::kContinue) pending_.front().continue_awaited = false;
    encoding_->write_response(ctx, std::move(response), {}, {});
  }
}

// A peer that pipelines requests without reading the answers would have them pile up here
// without bound, and a slow application would collect requests without bound: past the high
// water mark or max_pipelined, the next request waits until answers drain or complete.
bool HttpServerCodec::may_take_request(HandlerContext& ctx) const {
  // After a 101 or a tunnel's 2xx nothing is a request: no HTTP backpressure holds the new
  // protocol's bytes.
  if (switched_protocols_) return true;
  // RFC 9112 §9.6: once a response that closes the connection has begun, no later request may
  // be processed; it is held until the close drops it (a whole one closes at once).
  return ctx.channel().is_writable() && pending_.size() < limits().max_pipelined &&
         !awaiting_switch_answer() && !(current_closes_ && encoding_->streaming());
}

bool HttpServerCodec::ready_for_request(HandlerContext& ctx) {
  if (may_take_request(ctx)) return true;
  pause_decoding(ctx);
  return false;
}

void HttpServerCodec::decode_last(HandlerContext& ctx, CompositeBuffer& in) {
  // The connection closed before the upgrade or CONNECT request was answered (a half-close
  // waits for the answer, decoding being paused): what came after it may be the new protocol's
  // or the tunnel's, and there is no one left to tell that it was not a whole request.
  if (awaiting_switch_answer() && !receiving_request()) {
    in.clear();
    return;
  }
  HttpRequestDecoder::decode_last(ctx, in);
}

void HttpServerCodec::resume_if_ready(HandlerContext& ctx) {
  if (!decoding_paused() || !may_take_request(ctx)) return;
  resume_decoding(ctx);
  close_if_all_answered(ctx);
}

void HttpServerCodec::on_writability_changed(HandlerContext& ctx) {
  resume_if_ready(ctx);
  ctx.fire_writability_changed();
}

void HttpServerCodec::on_user_event(HandlerContext& ctx, Message&& event) {
  if (event.is<ChannelOutputShutdown>() && closing_ && ctx.channel().is_active()) {
    // The FIN is out, after every byte of the last response: the linger starts now. Started
    // when the FIN was asked for, it cut off a response the peer was still reading.
    Ref<Channel> channel(&ctx.channel());
    linger_timer_ = ctx.loop().schedule(linger_, [channel] { channel->close(); });
  }
  const bool input_ended = event.is<ChannelInputShutdown>();
  // Decodes what the peer sent last, then passes the event on.
  HttpRequestDecoder::on_user_event(ctx, std::move(event));
  if (input_ended && !ctx.is_removed()) close_if_all_answered(ctx);
}

// A client may half-close once it has sent its requests (RFC 9112 §9.6): the answers still
// go out in full, and the connection ends after the last one.
void HttpServerCodec::close_if_all_answered(HandlerContext& ctx) {
  // After a 101 or a tunnel's 2xx the connection's end is the new protocol's or the tunnel's
  // to decide.
  if (switched_protocols_) return;
  if (input_finished() && pending_.empty() && !encoding_->streaming()) {
    close_gracefully(ctx);
  }
}

// An answer completes inside the application's write, often inside its on_read: decoding the
// next request there would call on_read again from within itself. It is resumed from the loop.
void HttpServerCodec::resume_later(HandlerContext& ctx) {
  if (resume_queued_) return;
  resume_queued_ = true;
  ctx.loop().execute([self = presence(), &ctx] {
    auto* codec = static_cast<HttpServerCodec*>(*self);
    if (codec == nullptr) return;  // removed from the pipeline meanwhile
    codec->resume_queued_ = false;
    codec->resume_if_ready(ctx);
  });
}

void HttpServerCodec::response_complete(HandlerContext& ctx, bool close) {
  if (!pending_.empty()) pending_.pop_front();
  if (close) {
    close_gracefully(ctx);
    return;
  }
  if (error_ && pending_.empty()) {
    answer_error(ctx);
    return;
  }
  send_held_informational(ctx);
  if (decoding_paused() && may_take_request(ctx)) resume_later(ctx);
  close_if_all_answered(ctx);
}

void HttpServerCodec::answer_error(HandlerContext& ctx) {
  const OwedError owed = std::move(*error_);
  error_.reset();
  // The request was cut short by the connection's end (decode_last from on_inactive): there is
  // no one left to answer.
  if (!ctx.channel().is_active()) {
    close_gracefully(ctx);
    return;
  }
  std::string text = owed.error.reason + "\n";
  // An HttpReject's status is the application's: one HttpResponse would throw for (not three
  // digits), or a 1xx, which ends no exchange, would leave the connection open and unread.
  const std::uint16_t code = owed.error.status;
  HttpResponse response(code >= 200 && code <= 999 ? code : status::kInternalServerError);
  response.header("Content-Type", "text/plain; charset=utf-8")
      .body(Buffer::copy_of(text))
      .close_connection();
  encoding_->write_response(ctx, std::move(response), {}, {owed.head, false, false});
  close_gracefully(ctx);
}

void HttpServerCodec::close_gracefully(HandlerContext& ctx) {
  if (closing_) return;
  closing_ = true;
  held_informational_.reset();
  // RFC 9112 §9.6: no later request on this connection is processed; what the client still
  // sends is read and dropped (resumed, if backpressure had paused reading).
  stop_decoding();
  if (!ctx.channel().is_active()) return;
  resume_decoding(ctx);
  ctx.flush();
  // FIN goes after the response; the decoder keeps reading and dropping what the client
  // still sends, so the kernel has no unread data to answer with a reset (RFC 9112 §9.6).
  // The linger starts when the FIN has gone out (ChannelOutputShutdown, in on_user_event).
  ctx.shutdown_output();
}

void HttpServerCodec::on_inactive(HandlerContext& ctx) {
  linger_timer_.cancel();
  HttpRequestDecoder::on_inactive(ctx);
}

void HttpServerCodec::on_removed(HandlerContext& ctx) {
  linger_timer_.cancel();
  HttpRequestDecoder::on_removed(ctx);
}

}  // namespace sluice::http
