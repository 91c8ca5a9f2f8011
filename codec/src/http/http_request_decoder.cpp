#include "sluice/codec/http/http_request_decoder.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "char_classes.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/codec/http/http_status.hpp"
#include "sluice/codec/http/request_framing.hpp"
#include "sluice/core/event_loop.hpp"

namespace sluice::http {
namespace {

// RFC 9112 §7.1: chunk-size = 1*HEXDIG; more than 16 significant digits cannot be a 64-bit
// size (and is how some parsers were made to wrap around).
constexpr std::size_t kMaxChunkSizeDigits = 16;

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool skip_whitespace(std::string_view line, std::size_t& i) noexcept {
  const std::size_t start = i;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
    ++i;
  return i != start;
}

// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4).
bool skip_quoted_string(std::string_view line, std::size_t& i) noexcept {
  ++i;  // the opening quote
  while (i < line.size()) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c == '"') {
      ++i;
      return true;
    }
    if (c == '\\') {
      if (i + 1 == line.size()) return false;
      const auto escaped = static_cast<unsigned char>(line[i + 1]);
      if (escaped != '\t' && escaped < 0x20) return false;
      if (escaped == 0x7f) return false;
      i += 2;
      continue;
    }
    if (c != '\t' && (c < 0x20 || c == 0x7f)) return false;
    ++i;
  }
  return false;  // unbalanced
}

// chunk-size [ chunk-ext ], without the CRLF: the size, or nullopt if the line is malformed.
// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) (RFC 9112 §7.1.1).
std::optional<std::uint64_t> parse_chunk_line(std::string_view line) noexcept {
  std::size_t i = 0;
  while (i < line.size() && line[i] == '0')
    ++i;  // leading zeros are not significant
  std::uint64_t size = 0;
  std::size_t digits = 0;
  for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
    if (++digits > kMaxChunkSizeDigits) return std::nullopt;
    size = size * 16 + static_cast<std::uint64_t>(hex_value(line[i]));
  }
  if (i == 0) return std::nullopt;  // no digit at all
  while (i < line.size()) {
    skip_whitespace(line, i);
    // Whitespace after the size is only allowed before an extension (llhttp "space after
    // chunk header" case): anything but ';' here is malformed.
    if (i == line.size() || line[i] != ';') return std::nullopt;
    ++i;
    skip_whitespace(line, i);
    const std::size_t name_start = i;
    while (i < line.size() && detail::is_token(line[i]))
      ++i;
    if (i == name_start) return std::nullopt;  // ";" without a name
    std::size_t after_name = i;
    skip_whitespace(line, i);
    if (i < line.size() && line[i] == '=') {
      ++i;
      skip_whitespace(line, i);
      if (i < line.size() && line[i] == '"') {
        if (!skip_quoted_string(line, i)) return std::nullopt;
      } else {
        const std::size_t value_start = i;
        while (i < line.size() && detail::is_token(line[i]))
          ++i;
        if (i == value_start) return std::nullopt;
      }
    } else {
      i = after_name;
    }
  }
  return size;
}

// Whether refused or unfinished request bytes are a HEAD request's (after the empty lines the
// head parser skips): the refusal then carries no content (RFC 9110 §9.3.2). Only the method
// is looked at, when the rest is in doubt; it may straddle reads.
bool begins_head_request(const CompositeBuffer& in) noexcept {
  constexpr std::string_view kMethod = "HEAD ";
  const std::size_t size = in.readable_bytes();
  std::size_t at = 0;
  while (at + 1 < size && in.get_u8(at) == '\r' && in.get_u8(at + 1) == '\n')
    at += 2;
  if (size - at < kMethod.size()) return false;
  for (std::size_t i = 0; i < kMethod.size(); ++i) {
    if (in.get_u8(at + i) != static_cast<unsigned char>(kMethod[i])) return false;
  }
  return true;
}

// Only CR and LF: at most the empty lines the head parser skips before a request line (it
// refuses a bare LF, a bare CR or too many of them as soon as it sees them).
bool only_empty_lines(const CompositeBuffer& in) noexcept {
  for (std::size_t i = 0; i < in.readable_bytes(); ++i) {
    const auto c = in.get_u8(i);
    if (c != '\r' && c != '\n') return false;
  }
  return true;
}

}  // namespace

HttpRequestDecoder::HttpRequestDecoder(const HttpLimits& limits)
    : limits_(limits), parser_(limits) {}

HttpRequestDecoder::~HttpRequestDecoder() {
  if (presence_) *presence_ = nullptr;
  head_timer_.cancel();
}

const std::shared_ptr<HttpRequestDecoder*>& HttpRequestDecoder::presence() {
  if (!presence_) presence_ = std::make_shared<HttpRequestDecoder*>(this);
  return presence_;
}

void HttpRequestDecoder::on_inactive(HandlerContext& ctx) {
  head_timer_.cancel();
  head_timer_set_ = false;
  ByteToMessageDecoder::on_inactive(ctx);
}

void HttpRequestDecoder::on_removed(HandlerContext& ctx) {
  head_timer_.cancel();
  head_timer_set_ = false;
  if (presence_) *presence_ = nullptr;
  ByteToMessageDecoder::on_removed(ctx);
}

void HttpRequestDecoder::head_begun(HandlerContext& ctx) {
  head_waiting_ = true;
  head_began_ms_ = ctx.loop().now_ms();
  if (!head_timer_set_) watch_head(ctx, static_cast<std::uint64_t>(limits_.head_timeout.count()));
}

void HttpRequestDecoder::watch_head(HandlerContext& ctx, std::uint64_t delay_ms) {
  head_timer_set_ = true;
  head_timer_ = ctx.loop().schedule(std::chrono::milliseconds(delay_ms), [self = presence(), &ctx] {
    HttpRequestDecoder* decoder = *self;
    if (decoder != nullptr) decoder->head_deadline(ctx);
  });
}

void HttpRequestDecoder::head_deadline(HandlerContext& ctx) {
  head_timer_set_ = false;
  if (!head_waiting_ || state_ != State::kHead || !ctx.channel().is_active()) return;
  const auto timeout = static_cast<std::uint64_t>(limits_.head_timeout.count());
  const std::uint64_t now = ctx.loop().now_ms();
  if (decoding_paused()) {
    // The server is not reading (answers owed, backpressure): not the client's time. The
    // clock starts again when the head can be read.
    head_began_ms_ = now;
    watch_head(ctx, timeout);
    return;
  }
  const std::uint64_t elapsed = now - head_began_ms_;
  if (elapsed < timeout) {
    watch_head(ctx, timeout - elapsed);  // the head that began after the timer was set
    return;
  }
  head_waiting_ = false;
  const bool head_request = begins_head_request(undecoded());
  drop_undecoded();
  refuse(ctx, status::kRequestTimeout,
         "request head not received within " + std::to_string(limits_.head_timeout.count()) + " ms",
         head_request);
}

void HttpRequestDecoder::emit_request(HandlerContext& ctx, HttpRequest&& request) {
  ctx.fire_read(std::move(request));
}
void HttpRequestDecoder::emit_content(HandlerContext& ctx, HttpContent&& content) {
  ctx.fire_read(std::move(content));
}
void HttpRequestDecoder::emit_error(HandlerContext& ctx, HttpDecodeError&& error) {
  ctx.fire_read(std::move(error));
}

void HttpRequestDecoder::fail(HandlerContext& ctx, CompositeBuffer& in, std::uint16_t status,
                              std::string reason, bool head) {
  in.clear();
  refuse(ctx, status, std::move(reason), head);
}

void HttpRequestDecoder::refuse(HandlerContext& ctx, std::uint16_t status, std::string reason,
                                bool head) {
  const bool in_body = receiving_;
  receiving_ = false;
  switch_after_request_ = false;
  state_ = State::kDiscard;
  chunk_line_scanned_ = 0;
  emit_error(ctx, HttpDecodeError{status, std::move(reason), in_body, head});
}

void HttpRequestDecoder::decode(HandlerContext& ctx, CompositeBuffer& in) {
  switch (state_) {
    case State::kHead:
      if (ready_for_request(ctx)) decode_head(ctx, in);
      return;
    case State::kBody:
      decode_body(ctx, in, false);
      return;
    case State::kChunkSize:
      decode_chunk_size(ctx, in);
      return;
    case State::kChunkData:
      decode_body(ctx, in, true);
      return;
    case State::kChunkDataEnd:
      decode_chunk_end(ctx, in);
      return;
    case State::kTrailers:
      decode_trailers(ctx, in);
      return;
    case State::kDiscard:
      in.clear();
      return;
    case State::kRaw:
      pass_on_raw(ctx, in);
      return;
  }
}

void HttpRequestDecoder::switch_protocols() noexcept {
  // The switch takes effect where the request ends (RFC 9110 §7.8): its body is still HTTP.
  if (receiving_) {
    switch_after_request_ = true;
  } else if (state_ == State::kHead) {
    state_ = State::kRaw;
  }
}

void HttpRequestDecoder::pass_on_raw(HandlerContext& ctx, CompositeBuffer& in) {
  // A read at a time, as it arrived: no copy. A handler that takes the codec out of the
  // pipeline meanwhile gets the rest passed on by on_removed.
  while (!in.empty() && !ctx.is_removed()) {
    ctx.fire_read(in.read_buffer(in.component(0).readable_bytes()));
  }
}

void HttpRequestDecoder::decode_last(HandlerContext& ctx, CompositeBuffer& in) {
  // receiving_ in kHead: a request without a body is being handled right now (its handler
  // closed the channel, which ends the input at once); it is complete, its last content
  // follows when the handler returns. Empty lines before a request line are not a request
  // (RFC 9112 §2.2: ignored): input ending after them ends between requests.
  // After a 101 the end of input is the new protocol's to judge: not an HTTP error.
  if (state_ == State::kRaw) return pass_on_raw(ctx, in);
  const bool bodiless_in_hand = receiving_ && state_ == State::kHead;
  if (state_ == State::kDiscard || bodiless_in_hand || (!receiving_ && only_empty_lines(in))) {
    in.clear();
    return;
  }
  // Inside a body, the codec knows the request's method from its head.
  fail(ctx, in, status::kBadRequest,
       receiving_ ? "the input ended inside a request body"
                  : "the input ended inside a request head",
       !receiving_ && begins_head_request(in));
}

void HttpRequestDecoder::decode_head(HandlerContext& ctx, CompositeBuffer& in) {
  HttpHeadParser::Outcome outcome = parser_.parse_request(in.component(0).readable_span());
  if (outcome == HttpHeadParser::Outcome::kIncomplete && in.component_count() > 1) {
    // The head goes on past the first read: join it up so that it can be parsed in place.
    in.make_contiguous(2 * in.readable_bytes());
    outcome = parser_.parse_request(in.component(0).readable_span());
  }
  if (outcome == HttpHeadParser::Outcome::kIncomplete) {
    // Empty lines before a request line (RFC 9112 §2.2, some clients send one after a body)
    // begin no head: an idle keep-alive connection is the idle timeout's to close.
    if (!head_waiting_ && limits_.head_timeout.count() > 0 && !only_empty_lines(in)) {
      head_begun(ctx);
    }
    return;
  }
  head_waiting_ = false;
  if (outcome == HttpHeadParser::Outcome::kError) {
    fail(ctx, in, parser_.error_status(), std::string(parser_.error_reason()),
         begins_head_request(in));
    return;
  }

  HttpRequest request;
  request.method_offset_ = static_cast<std::uint32_t>(parser_.method_offset());
  request.method_length_ = static_cast<std::uint32_t>(parser_.method_length());
  request.target_offset_ = static_cast<std::uint32_t>(parser_.target_offset());
  request.target_length_ = static_cast<std::uint32_t>(parser_.target_length());
  request.version_offset_ = static_cast<std::uint32_t>(parser_.version_offset());
  request.version_minor_ = static_cast<std::uint8_t>(parser_.version_minor());
  request.connect_ = parser_.is_connect();
  request.headers_ = take_fields(in);
  const HttpFields& headers = request.headers_;

  const RequestFraming framing = decide_request_framing(headers, request.version_minor_);
  if (framing.error != nullptr) {
    return fail(ctx, in, framing.error_status, framing.error, request.is_head());
  }
  if (request.connect_ && (framing.chunked || framing.content_length != 0)) {
    // RFC 9110 §9.3.6: a CONNECT has no content. Were a body announced, the bytes after the
    // head could be read as that body or as the tunnel's first bytes, and a front end and this
    // server could take them differently: a smuggling door.
    return fail(ctx, in, status::kBadRequest, "CONNECT with content");
  }
  // A CONNECT's Host (if any) is not checked against its target: the authority-form names the
  // tunnel's destination, and the target URI is made from it alone (RFC 9112 §3.3). A Host is
  // still required of HTTP/1.1 and judged like any other (§3.2).
  if (limits_.require_host) {
    const char* host_error = framing.host_lines > 1 ? "more than one Host"
                             : !framing.host_valid  ? "invalid Host"
                             : framing.host_lines == 0 && request.version_minor_ >= 1
                                 ? "HTTP/1.1 request without Host"
                                 : nullptr;
    if (host_error != nullptr) {
      return fail(ctx, in, status::kBadRequest, host_error, request.is_head());
    }
  }
  request.chunked_ = framing.chunked;
  request.has_content_length_ = framing.has_content_length;
  request.content_length_ = framing.content_length;
  request.keep_alive_ = framing.keep_alive;
  request.expects_continue_ = framing.expects_continue;
  request.upgrade_ = framing.upgrade;
  // After a CONNECT the answer decides whether the connection goes on: a 2xx makes it the
  // tunnel even when the request asked to close (an HTTP/1.0 client's does, unless it says
  // keep-alive). What follows it is kept rather than dropped; HttpServerCodec closes the
  // connection after an answer that refuses the tunnel and closes.
  keep_alive_ = request.keep_alive_ || request.connect_;
  remaining_ = request.content_length_;
  const bool has_body = request.chunked_ || remaining_ != 0;
  // The state moves on before the request goes out: a handler that refuses it while it is
  // handled (stop_decoding(), through HttpReject) leaves kDiscard, which must stay.
  state_ = request.chunked_ ? State::kChunkSize : has_body ? State::kBody : State::kHead;
  receiving_ = true;
  emit_request(ctx, std::move(request));
  if (ctx.is_removed()) return;
  if (!has_body) finish_request(ctx, HttpContent{Buffer(), true, {}});
}

HttpFields HttpRequestDecoder::take_fields(CompositeBuffer& in) {
  const auto& refs = parser_.fields();
  Buffer table;
  if (!refs.empty()) {
    table = Buffer::allocate(refs.size() * sizeof(FieldRef));
    table.write_bytes(std::as_bytes(std::span(refs)));
  }
  Buffer bytes = in.read_buffer(parser_.length());
  HttpFields fields(std::move(bytes), std::move(table), refs.size());
  parser_.reset();
  return fields;
}

void HttpRequestDecoder::finish_request(HandlerContext& ctx, HttpContent&& last) {
  if (!keep_alive_) state_ = State::kDiscard;
  if (state_ != State::kDiscard) state_ = State::kHead;
  // Still receiving while the last piece is handled: a refusal there answers this request.
  emit_content(ctx, std::move(last));
  receiving_ = false;
  if (std::exchange(switch_after_request_, false) && state_ == State::kHead) state_ = State::kRaw;
}

void HttpRequestDecoder::decode_body(HandlerContext& ctx, CompositeBuffer& in, bool chunk) {
  // Hand out what is here, a slice of one read buffer at a time: nothing is copied.
  const std::size_t here = in.component(0).readable_bytes();
  const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, here));
  remaining_ -= take;
  Buffer piece = in.read_buffer(take);
  if (remaining_ != 0) {
    emit_content(ctx, HttpContent{std::move(piece), false, {}});
  } else if (chunk) {
    state_ = State::kChunkDataEnd;
    emit_content(ctx, HttpContent{std::move(piece), false, {}});
  } else {
    finish_request(ctx, HttpContent{std::move(piece), true, {}});
  }
}

void HttpRequestDecoder::decode_chunk_size(HandlerContext& ctx, CompositeBuffer& in) {
  // Only the bytes new since the last read are searched: a line (extensions make it up to
  // max_chunk_line long) trickling in a byte per read was searched from its start each time,
  // work that grew with the square of its length.
  const std::size_t newline = in.index_of(std::byte{'\n'}, chunk_line_scanned_);
  if (newline == CompositeBuffer::npos) {
    if (in.readable_bytes() > limits_.max_chunk_line) {
      fail(ctx, in, status::kBadRequest, "chunk size line too long");
      return;
    }
    chunk_line_scanned_ = in.readable_bytes();
    join_partial_frame(in, limits_.max_chunk_line);
    return;
  }
  chunk_line_scanned_ = 0;  // the line is taken or refused below
  if (newline + 1 > limits_.max_chunk_line)
    return fail(ctx, in, status::kBadRequest, "chunk size line too long");
  if (newline == 0 || in.get_u8(newline - 1) != '\r') {
    return fail(ctx, in, status::kBadRequest, "chunk size line not ended by CRLF");
  }
  // The line is read in place when one read holds it all, as it nearly always does; only a
  // line split between reads is copied out.
  std::string joined;
  std::string_view line = in.component(0).readable_view();
  if (line.size() >= newline - 1) {
    line = line.substr(0, newline - 1);
  } else {
    joined.resize(newline - 1);
    in.get_bytes(0, std::as_writable_bytes(std::span(joined)));
    line = joined;
  }
  if (line.find('\r') != std::string_view::npos)
    return fail(ctx, in, status::kBadRequest, "bare CR in a chunk size line");
  const std::optional<std::uint64_t> size = parse_chunk_line(line);
  if (!size) return fail(ctx, in, status::kBadRequest, "invalid chunk size or extension");
  in.skip(newline + 1);
  if (*size == 0) {
    state_ = State::kTrailers;
    return;
  }
  remaining_ = *size;
  state_ = State::kChunkData;
}

void HttpRequestDecoder::decode_chunk_end(HandlerContext& ctx, CompositeBuffer& in) {
  if (in.get_u8(0) != '\r')
    return fail(ctx, in, status::kBadRequest, "chunk data not followed by CRLF");
  if (in.readable_bytes() < 2) return;
  if (in.get_u8(1) != '\n')
    return fail(ctx, in, status::kBadRequest, "chunk data not followed by CRLF");
  in.skip(2);
  state_ = State::kChunkSize;
}

void HttpRequestDecoder::decode_trailers(HandlerContext& ctx, CompositeBuffer& in) {
  HttpHeadParser::Outcome outcome = parser_.parse_trailers(in.component(0).readable_span());
  if (outcome == HttpHeadParser::Outcome::kIncomplete && in.component_count() > 1) {
    in.make_contiguous(2 * in.readable_bytes());
    outcome = parser_.parse_trailers(in.component(0).readable_span());
  }
  if (outcome == HttpHeadParser::Outcome::kIncomplete) return;
  if (outcome == HttpHeadParser::Outcome::kError) {
    return fail(ctx, in, parser_.error_status(), std::string(parser_.error_reason()));
  }
  finish_request(ctx, HttpContent{Buffer(), true, take_fields(in)});
}

}  // namespace sluice::http
