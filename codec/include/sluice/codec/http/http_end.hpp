#pragma once

#include <string_view>

#include "sluice/buffer/buffer.hpp"
#include "sluice/codec/http/http_header.hpp"

namespace sluice::http {

// Ends a response whose body was streamed after its head, optionally with trailer fields
// (RFC 9110 §6.5), which go out after the last chunk of a chunked body:
//
//   ctx.write(HttpEnd().trailer("Checksum-Sha256", digest));
//
// Only a chunked body has a place for them. After a body framed by Content-Length, one
// delimited by closing the connection (an HTTP/1.0 client) or none at all (HEAD, 204, 304),
// they are dropped, as any recipient may drop them (RFC 9110 §6.5.1): send nothing there that
// the client cannot do without. A client says it will keep them with "TE: trailers".
class HttpEnd {
 public:
  HttpEnd() = default;

  // Throws InvalidHeaderError for a field that frames or routes the message, or says how to
  // read its content, which the recipient acts on before the content (RFC 9110 §6.5.1):
  // Content-Length, Transfer-Encoding, Connection, Keep-Alive, TE, Trailer, Upgrade, Host,
  // Content-Type, Content-Encoding and Content-Range. The other fields that section keeps out
  // of trailers (authentication, response controls such as Cache-Control or Set-Cookie) are
  // not checked: leaving them out is the application's part.
  HttpEnd& trailer(const HeaderName& name, const HeaderValue& value) &;
  HttpEnd&& trailer(const HeaderName& name, const HeaderValue& value) && {
    return std::move(trailer(name, value));
  }

  bool has_trailers() const { return trailers_.readable_bytes() != 0; }
  // The trailer lines as they go out ("Name: value\r\n" each), without the final CRLF.
  std::string_view trailer_text() const { return trailers_.readable_view(); }

 private:
  Buffer trailers_;
};

}  // namespace sluice::http
