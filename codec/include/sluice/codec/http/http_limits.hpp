#pragma once

#include <chrono>
#include <cstddef>

namespace sluice::http {

// Caps on what a request may make the server hold, and the one check that is a policy. Each
// cap crossed is answered with its status and `Connection: close`, as soon as it is crossed: an
// endless header line is refused when it passes the limit, not buffered.
struct HttpLimits {
  std::size_t max_target = 8 * 1024;           // request-target octets (414)
  std::size_t max_method = 32;                 // method octets (400)
  std::size_t max_header_section = 16 * 1024;  // field lines and the empty line after them (431)
  std::size_t max_header_count = 1000;         // field lines (431)
  std::size_t max_chunk_line = 4096;           // chunk-size line with its extensions (400)
  // Requests received and not yet answered on one connection (HttpServerCodec): past it, the
  // next pipelined request waits, unread, until an answer completes.
  std::size_t max_pipelined = 64;
  // From the first byte of a request head to its end (408): a client that trickles a head a
  // byte at a time, each well inside any idle timeout, would otherwise hold its connection
  // for as long as it likes (the "slowloris" attack). Time the server spends not reading
  // (answers owed, backpressure) is not counted. Zero: no limit.
  std::chrono::milliseconds head_timeout = std::chrono::seconds(30);
  // RFC 9112 §3.2: an HTTP/1.1 request without Host, and any request with several Host lines
  // or an invalid one, is answered 400. Off for a server that must take requests as they come
  // (sluice-http-echo, whose conformance contract sends requests without Host).
  bool require_host = true;
};

}  // namespace sluice::http
