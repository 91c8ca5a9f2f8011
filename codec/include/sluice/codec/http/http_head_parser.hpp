#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sluice/codec/http/http_fields.hpp"
#include "sluice/codec/http/http_limits.hpp"

namespace sluice::http {

// Parses a request head (request line and field lines, RFC 9112 §2-§5) or a trailer section,
// in place, strictly:
//
//   - lines end with CRLF; a bare LF or a bare CR anywhere is an error (§2.2);
//   - empty lines before the request line are skipped (§2.2), up to a few;
//   - request-line = token SP request-target SP "HTTP/" DIGIT "." DIGIT, one SP each (§3);
//     a major version other than 1 is 505; the target is origin-form, absolute-form or "*",
//     every octet in 0x21-0x7E (§3.2), except that CONNECT takes only the authority-form
//     (host:port with the port given, §3.2.3), which no other method may use;
//   - field-line = token ":" OWS value OWS; whitespace before the colon (§5.1, a smuggling
//     vector), obs-fold (§5.2), and NUL, CR, LF or other controls in a value (RFC 9110 §5.5)
//     are errors.
//
// Parsing is incremental: when the bytes end mid-line, the parser remembers where it got to,
// and the next call (with the same bytes and more after them) resumes there, so a head that
// trickles in one byte at a time costs linear time. Errors carry the status to answer with
// (400, 414, 431, 505) and a reason.
class HttpHeadParser {
 public:
  enum class Outcome { kIncomplete, kComplete, kError };

  explicit HttpHeadParser(const HttpLimits& limits) : limits_(limits) {}

  // A request head at the start of `bytes`.
  Outcome parse_request(std::span<const std::byte> bytes);
  // A trailer section (field lines and an empty line) at the start of `bytes`.
  Outcome parse_trailers(std::span<const std::byte> bytes);
  // Ready for the next head; keeps the field table's capacity.
  void reset() noexcept;

  // After kComplete: the head's length (leading empty lines included), where its parts are.
  std::size_t length() const noexcept { return position_; }
  std::size_t method_offset() const noexcept { return method_offset_; }
  std::size_t method_length() const noexcept { return method_length_; }
  std::size_t target_offset() const noexcept { return target_offset_; }
  std::size_t target_length() const noexcept { return target_length_; }
  std::size_t version_offset() const noexcept { return version_offset_; }
  int version_minor() const noexcept { return version_minor_; }
  // A CONNECT request, its target in authority-form.
  bool is_connect() const noexcept { return connect_; }
  const std::vector<FieldRef>& fields() const noexcept { return fields_; }

  // After kError.
  std::uint16_t error_status() const noexcept { return error_status_; }
  std::string_view error_reason() const noexcept { return error_reason_; }

 private:
  enum class State { kLeadingLines, kRequestLine, kFields, kDone, kFailed };

  Outcome parse_request_line(const char* data, std::size_t end);
  Outcome parse_fields(const char* data, std::size_t size);
  Outcome reject_partial(const char* data, std::size_t size, std::uint16_t too_long_status,
                         std::size_t limit, std::size_t limit_start);
  Outcome fail(std::uint16_t status, std::string_view reason) noexcept;

  HttpLimits limits_;
  State state_ = State::kLeadingLines;
  std::size_t position_ = 0;       // start of the next line to parse
  std::size_t scanned_ = 0;        // bytes of the current line already searched for LF
  std::size_t section_start_ = 0;  // where the field lines begin
  std::size_t method_offset_ = 0;
  std::size_t method_length_ = 0;
  std::size_t target_offset_ = 0;
  std::size_t target_length_ = 0;
  std::size_t version_offset_ = 0;
  int version_minor_ = 1;
  bool connect_ = false;
  std::vector<FieldRef> fields_;
  std::uint16_t error_status_ = 0;
  std::string_view error_reason_;
};

}  // namespace sluice::http
