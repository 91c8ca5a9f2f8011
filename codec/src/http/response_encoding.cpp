#include "response_encoding.hpp"

#include <charconv>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/http/http_date.hpp"

namespace sluice::http::detail {
namespace {

// The last chunk (RFC 9112 §7.1): the CRLF ending the chunk before it, if any, a zero size,
// the trailer section and the empty line.
Buffer last_chunk(bool chunk_sent, const HttpEnd& end) {
  const std::string_view before = chunk_sent ? "\r\n0\r\n" : "0\r\n";
  if (!end.has_trailers()) return Buffer::copy_of(chunk_sent ? "\r\n0\r\n\r\n" : "0\r\n\r\n");
  const std::string_view trailers = end.trailer_text();
  Buffer out = Buffer::allocate(before.size() + trailers.size() + 2);
  out.write_bytes(before);
  out.write_bytes(trailers);
  out.write_bytes(std::string_view("\r\n"));
  return out;
}

// Bodies up to this size travel inside the head's buffer when it has room.
constexpr std::size_t kInlineBodyLimit = 128;

// The size of a body part, which framing needs: only byte messages know theirs. Passing
// another message on unframed would corrupt the body; dropping it would end the body short,
// validly framed. The error fails the write's callback and reaches on_error instead. (A
// ChunkedStream belongs on the tail side of the HTTP codec, behind ChunkedWriteHandler.)
std::size_t byte_size_of(const Message& part, std::string_view framing) {
  if (!part.is<Buffer>() && !part.is<CompositeBuffer>() && !part.is<FileRegion>()) {
    throw Exception(Error(ChannelErrc::unsupported_message,
                          fmt::format("{} HTTP body takes Buffer, CompositeBuffer or FileRegion "
                                      "parts, not {}",
                                      framing, part.type_name())));
  }
  return part.bytes();
}

// The end of a head, assembled on the stack: the longest is a 20-digit Content-Length line, a
// Date line and "Connection: keep-alive, upgrade", then the blank line.
class HeadTail {
 public:
  static constexpr std::size_t kCapacity = (16 + 20 + 2) + (6 + 31 + 2) + 33 + 2;

  void add(std::string_view text) noexcept {
    std::memcpy(end_, text.data(), text.size());
    end_ += text.size();
  }
  void add_decimal(std::uint64_t value) noexcept {
    end_ = std::to_chars(end_, text_ + sizeof text_, value).ptr;
  }
  std::string_view view() const noexcept { return {text_, static_cast<std::size_t>(end_ - text_)}; }

 private:
  char text_[kCapacity];
  char* end_ = text_;
};

}  // namespace

const char* ResponseEncoding::tunnel_refusal(const HttpResponse& response) noexcept {
  if (response.streamed_ || (response.has_length_ && response.length_ != 0) ||
      (response.has_body_ && response.body_.readable_bytes() != 0)) {
    return "a 2xx to CONNECT with content: the bytes after its head are the tunnel's";
  }
  if (response.close_) return "a 2xx to CONNECT that closes the connection it makes a tunnel";
  return nullptr;
}

ResponseEncoding::Progress ResponseEncoding::write_response(HandlerContext& ctx,
                                                            HttpResponse&& response,
                                                            WriteCallback&& done,
                                                            const RequestContext& request) {
  if (streaming()) {
    // The response before has not been ended (HttpEnd): this head would go out inside its
    // body, where the client reads it as body bytes, and every later answer is off by one.
    throw CodecError(CodecErrc::body_length_mismatch,
                     "a response written before the one before it was ended with HttpEnd");
  }
  Buffer& head = response.head_;
  const std::uint16_t status = response.status_;
  if (status < 200) {
    // Not streaming, so between responses, or after a 204 or 304 whose announced parts were
    // never ended: none can follow this head, and after a 101 the bytes written are the new
    // protocol's, which kNoContent would drop.
    mode_ = Mode::kIdle;
    // Upgrade is hop-by-hop: a 101 names it among its Connection options (RFC 9110 §7.8), and
    // WebSocket clients refuse a 101 without it (RFC 6455 §4.1). Connection is the encoder's
    // to write; header() refuses it.
    head.write_bytes(status == 101 ? std::string_view("Connection: upgrade\r\n\r\n")
                                   : std::string_view("\r\n"));
    ctx.write(std::move(head), std::move(done));
    return Progress::kInformational;
  }
  const bool allows_body = response.status_allows_body();
  // A response is complete with its head unless a body is announced to follow: a length
  // without the bytes, or streamed().
  const bool whole = response.has_body_ || !allows_body ||
                     (response.has_length_ ? response.length_ == 0 : !response.streamed_);
  Mode streamed = Mode::kIdle;
  // The rest of the head (framing, Date, Connection, the blank line) is put together here and
  // appended with one write: it runs for every response.
  HeadTail tail;
  if (request.tunnel) {
    // RFC 9110 §9.3.6: a server MUST NOT send Content-Length or Transfer-Encoding in a 2xx to
    // CONNECT; what follows the head is the tunnel's (tunnel_refusal() kept content out, so
    // the response is whole).
  } else if (response.has_length_ && (allows_body || status == 304)) {
    tail.add("Content-Length: ");
    tail.add_decimal(response.length_);
    tail.add("\r\n");
    streamed = Mode::kLength;
  } else if (allows_body && whole) {
    tail.add("Content-Length: 0\r\n");  // no content announced: say so, or the client waits
  } else if (allows_body) {
    if (request.http10) {
      // RFC 9112 §6.3: no length, no chunked for 1.0, so the close delimits the body; a
      // response to HEAD has none to delimit and the connection may persist.
      if (!request.head) {
        streamed = Mode::kCloseDelimited;
        response.close_ = true;
      }
    } else {
      tail.add("Transfer-Encoding: chunked\r\n");
      streamed = Mode::kChunked;
    }
  }
  if (!response.has_date_) {
    tail.add("Date: ");
    tail.add(http_date_now());
    tail.add("\r\n");
  }
  const bool close = response.close_ || !request.keep_alive;
  // HTTP/1.0 persistence is opt-in on both sides.
  const std::string_view persistence = close ? "close" : request.http10 ? "keep-alive" : "";
  // RFC 9110 §7.8: a sender of Upgrade (a 426 must send it, any response may advertise it)
  // also names it among the Connection options, so that no intermediary passes it on; the
  // application cannot, Connection being the encoder's.
  // A tunnel lasts as long as the connection: no Connection options.
  if (!request.tunnel && (!persistence.empty() || response.has_upgrade_)) {
    tail.add("Connection: ");
    tail.add(persistence);
    if (response.has_upgrade_) tail.add(persistence.empty() ? "upgrade" : ", upgrade");
    tail.add("\r\n");
  }
  tail.add("\r\n");
  head.write_bytes(tail.view());
  response.close_ = close;

  if (whole) {
    // A 204 or 304 that announced a length or a stream: the parts written for it go nowhere.
    const bool announced = response.streamed_ || (response.has_length_ && response.length_ != 0);
    mode_ = !allows_body && announced && !response.has_body_ ? Mode::kNoContent : Mode::kIdle;
    if (response.has_body_ && !request.head && allows_body) {
      const std::size_t body_size = response.body_.readable_bytes();
      if (body_size <= kInlineBodyLimit && body_size <= head.writable_bytes() &&
          !response.body_.is_external()) {
        // Departure from zero-copy, on purpose: copying a few bytes costs less than the
        // second message, outbound entry and iovec that a separate body takes.
        head.write_bytes(response.body_.readable_span());
        response.body_ = Buffer();
        ctx.write(std::move(head), std::move(done));
      } else {
        ctx.write(std::move(head));
        ctx.write(std::move(response.body_), std::move(done));
      }
    } else {
      ctx.write(std::move(head), std::move(done));
    }
    return Progress::kComplete;
  }
  mode_ = request.head ? Mode::kDiscard : streamed;
  chunk_sent_ = false;
  remaining_ = response.length_;
  ctx.write(std::move(head), std::move(done));
  return Progress::kStreaming;
}

void ResponseEncoding::write_body_part(HandlerContext& ctx, Message&& part, WriteCallback&& done) {
  switch (mode_) {
    case Mode::kIdle:  // not inside a response (after a 101, say): not ours to frame
    case Mode::kCloseDelimited:
      ctx.write(std::move(part), std::move(done));
      return;
    case Mode::kDiscard:
    case Mode::kNoContent:
      // Not sent, but completed in order, after what was written before.
      ctx.write(Buffer(), std::move(done));
      return;
    case Mode::kLength: {
      // Bytes past the announced length would be read by the client as the start of the next
      // response: one response could forge another.
      const std::size_t size = byte_size_of(part, "a Content-Length");
      if (size > remaining_) {
        throw CodecError(CodecErrc::body_length_mismatch,
                         fmt::format("a body part of {} bytes where the response's "
                                     "Content-Length leaves {}",
                                     size, remaining_));
      }
      remaining_ -= size;
      ctx.write(std::move(part), std::move(done));
      return;
    }
    case Mode::kChunked: {
      const std::size_t size = byte_size_of(part, "a chunked");
      if (size == 0) {
        // A zero-size chunk would end the body; an empty buffer completes `done` in order.
        ctx.write(Buffer(), std::move(done));
        return;
      }
      // The CRLF closing the previous chunk rides in front of this chunk's size line.
      char line[32];
      char* end = line;
      if (chunk_sent_) {
        std::memcpy(end, "\r\n", 2);
        end += 2;
      }
      end = std::to_chars(end, line + sizeof line - 2, size, 16).ptr;
      std::memcpy(end, "\r\n", 2);
      end += 2;
      ctx.write(Buffer::copy_of(std::string_view(line, static_cast<std::size_t>(end - line))));
      ctx.write(std::move(part), std::move(done));
      chunk_sent_ = true;
      return;
    }
  }
}

ResponseEncoding::Progress ResponseEncoding::write_end(HandlerContext& ctx, const HttpEnd& end,
                                                       WriteCallback&& done) {
  if (mode_ == Mode::kLength && remaining_ != 0) {
    // The client waits for the missing bytes: a next head sent after this end would be read
    // as them. The end is refused like a part past the length, and the response stays open.
    throw CodecError(
        CodecErrc::body_length_mismatch,
        fmt::format("the response ended {} bytes short of its Content-Length", remaining_));
  }
  const Mode mode = mode_;
  mode_ = Mode::kIdle;
  switch (mode) {
    case Mode::kIdle:
    case Mode::kNoContent:
      ctx.write(Buffer(), std::move(done));  // nothing to end; completed in order
      return Progress::kInformational;
    case Mode::kChunked:
      ctx.write(last_chunk(chunk_sent_, end), std::move(done));
      return Progress::kComplete;
    case Mode::kLength:
    case Mode::kCloseDelimited:
    case Mode::kDiscard:
      // An empty buffer completes `done` in order, after the body written before it.
      ctx.write(Buffer(), std::move(done));
      return Progress::kComplete;
  }
  return Progress::kComplete;
}

}  // namespace sluice::http::detail
