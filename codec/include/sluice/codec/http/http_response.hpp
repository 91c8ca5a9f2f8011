#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "sluice/buffer/buffer.hpp"
#include "sluice/codec/http/http_end.hpp"
#include "sluice/codec/http/http_header.hpp"

namespace sluice::http {

namespace detail {
class ResponseEncoding;
}

// A response, built in place: the status line and each header line are written into one
// pooled buffer as they are added, so encoding adds only the framing (Content-Length or
// Transfer-Encoding), Date, Connection and the final CRLF, and the head goes out as one buffer.
//
//   ctx.write(HttpResponse(200)
//                 .header("Content-Type", "text/plain")
//                 .body(Buffer::copy_of("hello")));        // a whole response
//
//   ctx.write(HttpResponse(200).content_length(size));     // a streamed body: the head, then
//   ctx.write(FileRegion(file, 0, size));                  // Buffers / FileRegions as they
//   ctx.write(HttpEnd{});                                  // come, then the end
//
// A body of unknown length is announced with streamed() and sent chunked (or, to an HTTP/1.0
// client, delimited by closing the connection). Header names and values are validated types:
// no CR or LF can get into the head; the framing headers (Content-Length, Transfer-Encoding,
// Connection) belong to the encoder and are refused by header(); a response with an Upgrade
// field gets the upgrade option in Connection (RFC 9110 §7.8). The server codec adds Date,
// Connection and, for HEAD requests, drops the body.
class HttpResponse {
 public:
  explicit HttpResponse(std::uint16_t status = 200);

  // Throws InvalidHeaderError for Content-Length, Transfer-Encoding and Connection: use
  // body()/content_length(), streamed() and close_connection().
  HttpResponse& header(const HeaderName& name, const HeaderValue& value) &;
  HttpResponse&& header(const HeaderName& name, const HeaderValue& value) && {
    return std::move(header(name, value));
  }
  // A whole body; Content-Length is its size.
  HttpResponse& body(Buffer bytes) &;
  HttpResponse&& body(Buffer bytes) && { return std::move(body(std::move(bytes))); }
  // The length of a body that follows as separate messages; exactly that many bytes must
  // follow (the write that goes past it, or the HttpEnd that falls short, fails with
  // CodecErrc::body_length_mismatch and the server codec closes the connection). Throws
  // std::invalid_argument if it differs from the size of a body() already set.
  HttpResponse& content_length(std::uint64_t length) &;
  HttpResponse&& content_length(std::uint64_t length) && {
    return std::move(content_length(length));
  }
  // A body of unknown length follows as separate messages, ended by HttpEnd: it is sent
  // chunked (to an HTTP/1.0 client, delimited by closing the connection). Without body(),
  // content_length() or streamed(), a response has no content (Content-Length: 0).
  HttpResponse& streamed() &;
  HttpResponse&& streamed() && { return std::move(streamed()); }
  // Ends the connection after this response ("Connection: close").
  HttpResponse& close_connection() &;
  HttpResponse&& close_connection() && { return std::move(close_connection()); }

  std::uint16_t status() const noexcept { return status_; }
  bool has_body() const noexcept { return has_body_; }
  std::optional<std::uint64_t> length() const noexcept {
    return has_length_ ? std::optional(length_) : std::nullopt;
  }
  bool closes_connection() const noexcept { return close_; }
  // Whether the status allows content at all (not 1xx, 204 or 304, RFC 9110 §6.4.1).
  bool status_allows_body() const noexcept {
    return status_ >= 200 && status_ != 204 && status_ != 304;
  }
  // The head written so far (status line and the headers added).
  std::string_view head_text() const noexcept { return head_.readable_view(); }

 private:
  friend class detail::ResponseEncoding;

  Buffer head_;
  Buffer body_;
  std::uint64_t length_ = 0;
  std::uint16_t status_;
  bool has_body_ = false;
  bool has_length_ = false;
  bool close_ = false;
  bool has_date_ = false;
  bool has_upgrade_ = false;  // an Upgrade field, which Connection must name (RFC 9110 §7.8)
  bool streamed_ = false;
};

}  // namespace sluice::http
