#pragma once

#include <cstdint>

#include "sluice/codec/http/http_fields.hpp"

namespace sluice::http {

// What a request head says about its body and its connection (RFC 9112 §6 and §9.3), or why
// the request must be refused. HttpRequestDecoder applies it to every head; a decoder of one's
// own can too.
struct RequestFraming {
  std::uint64_t content_length = 0;
  bool has_content_length = false;
  bool chunked = false;
  bool keep_alive = true;
  bool expects_continue = false;
  // The request asks to switch protocols (RFC 9110 §7.8): an HTTP/1.1 request with an Upgrade
  // field naming a protocol and "upgrade" among its Connection options, which does not also
  // ask to close. What follows it on the connection may be another protocol's, once answered.
  bool upgrade = false;
  // Host (RFC 9112 §3.2): how many Host lines there are, and whether each value is a uri-host
  // with an optional port. HttpRequestDecoder refuses the request on these when
  // HttpLimits::require_host is set.
  std::uint32_t host_lines = 0;
  bool host_valid = true;
  // Set when the head is refused: the status to answer with and why.
  std::uint16_t error_status = 0;
  const char* error = nullptr;
};

// `headers` as HttpHeadParser makes them: every name a token (RFC 9110 §5.6.2). Names are
// matched on that assumption, without a full case-folding comparison.
RequestFraming decide_request_framing(const HttpFields& headers, int version_minor) noexcept;

}  // namespace sluice::http
