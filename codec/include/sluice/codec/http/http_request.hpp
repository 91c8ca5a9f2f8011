#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/codec/http/http_fields.hpp"

namespace sluice::http {

class HttpRequestDecoder;

// A request head as received. Method, target, version, names and values are views into the
// received bytes, kept alive by the request (a slice of the read buffer they arrived in).
// Copy what you keep beyond the request's life. The body follows as HttpContent messages.
class HttpRequest {
 public:
  std::string_view method() const noexcept { return view(method_offset_, method_length_); }
  std::string_view target() const noexcept { return view(target_offset_, target_length_); }
  // "HTTP/1.1" or "HTTP/1.0" (or another HTTP/1.x) exactly as received.
  std::string_view version() const noexcept { return view(version_offset_, 8); }
  int version_minor() const noexcept { return version_minor_; }
  const HttpFields& headers() const noexcept { return headers_; }

  bool is_head() const noexcept { return method() == "HEAD"; }
  // Whether the connection persists after this request (RFC 9112 §9.3): HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive". For a CONNECT it is
  // whether the connection persists after an answer that refuses the tunnel: a 2xx makes the
  // rest of the connection the tunnel whatever it says.
  bool keep_alive() const noexcept { return keep_alive_; }
  std::optional<std::uint64_t> content_length() const noexcept {
    return has_content_length_ ? std::optional(content_length_) : std::nullopt;
  }
  bool chunked() const noexcept { return chunked_; }
  // "Expect: 100-continue" on an HTTP/1.1 request.
  bool expects_continue() const noexcept { return expects_continue_; }
  // The request asks to switch protocols (RFC 9110 §7.8): HTTP/1.1, an Upgrade field that
  // names a protocol, "upgrade" among the Connection options, and no "close". HttpServerCodec
  // decodes nothing after it until it is answered; a 101 then hands the bytes after it on as
  // they come (Buffers), any other answer lets HTTP go on.
  bool upgrade() const noexcept { return upgrade_; }
  // The request asks for a tunnel (RFC 9110 §9.3.6): method CONNECT, its target() the
  // authority-form "host:port" (RFC 9112 §3.2.3) the tunnel is to reach; a Host field, if any,
  // is not that destination. It has no content: one that announces a body is refused (400)
  // before it gets here. HttpServerCodec decodes nothing after it until it is answered; a 2xx
  // then makes the connection the tunnel (the bytes after the request go on as Buffers, as
  // they come), any other answer lets HTTP go on.
  bool is_connect() const noexcept { return connect_; }

 private:
  friend class HttpRequestDecoder;
  std::string_view view(std::uint32_t offset, std::uint32_t length) const noexcept {
    return {reinterpret_cast<const char*>(headers_.bytes().readable_span().data()) + offset,
            length};
  }

  HttpFields headers_;  // also holds the head's bytes
  std::uint32_t method_offset_ = 0;
  std::uint32_t method_length_ = 0;
  std::uint32_t target_offset_ = 0;
  std::uint32_t target_length_ = 0;
  std::uint32_t version_offset_ = 0;
  std::uint64_t content_length_ = 0;
  std::uint8_t version_minor_ = 1;
  bool has_content_length_ = false;
  bool chunked_ = false;
  bool keep_alive_ = true;
  bool expects_continue_ = false;
  bool upgrade_ = false;
  bool connect_ = false;
};

static_assert(sizeof(HttpRequest) <= 112, "an HttpRequest travels inline in a Message");

// A piece of a request body, de-chunked: slices of the bytes as they arrived, never copied.
// Every request is followed by HttpContent messages ending with one marked `last` (an empty
// one when there is no body), which carries the trailer fields of a chunked body.
struct HttpContent {
  Buffer data;
  bool last = false;
  HttpFields trailers;
};

// A whole request, from HttpObjectAggregator: the head, the body (the pieces, joined without
// copying unless there are more than 1024 of them) and the trailers.
struct FullHttpRequest {
  HttpRequest head;
  CompositeBuffer body;
  HttpFields trailers;
};

// Written (outbound) by a handler that refuses the request being received, such as
// HttpObjectAggregator with a body over its limit. HttpServerCodec answers it with `status` and
// "Connection: close" in order — after the responses still owed to earlier pipelined requests —
// and reads nothing more from the connection. Written when no request is being received (a
// handler that decides after the whole request arrived), it answers, like a response, the
// oldest request whose answer has not begun; the requests after that one go unanswered. With
// every request answered, no response goes out: the connection ends after the last answer.
struct HttpReject {
  std::uint16_t status;
  std::string reason;
};

// A request that could not be parsed, with the status to answer (400, 408 for a head past
// HttpLimits::head_timeout, 414, 431, 501, 505; a 413 comes as an HttpReject from
// HttpObjectAggregator). The decoder reads nothing more from the connection after it.
struct HttpDecodeError {
  std::uint16_t status;
  std::string reason;
  // The body of the request last emitted was malformed: this error is that request's answer.
  bool in_body = false;
  // The request refused for its head is a HEAD (its request line says so): the answer carries
  // no content (RFC 9110 §9.3.2).
  bool head = false;
};

}  // namespace sluice::http
