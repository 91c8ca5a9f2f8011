#include "sluice/codec/http/http_head_parser.hpp"

#include <array>
#include <cstring>

#include "char_classes.hpp"
#include "sluice/codec/http/http_header.hpp"
#include "sluice/codec/http/http_status.hpp"

namespace sluice::http {

namespace {

// RFC 9112 §2.2 lets a server skip empty lines before the request line; beyond a few it is
// not a confused client but garbage.
constexpr std::size_t kMaxLeadingEmptyLines = 8;

bool is_alpha(char c) noexcept {
  return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// absolute-form: scheme "://" ... (RFC 9112 §3.2.2, RFC 3986 §3.1). A bare "host:port" is
// the authority-form, which only CONNECT uses.
bool is_absolute_form(std::string_view target) noexcept {
  if (target.empty() || !is_alpha(target[0])) return false;
  std::size_t i = 1;
  while (i < target.size() && (is_alpha(target[i]) || is_digit(target[i]) || target[i] == '+' ||
                               target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  return target.substr(i, 3) == "://";
}

// authority-form = uri-host ":" port (RFC 9112 §3.2.3), the one form CONNECT takes. The host
// may not be empty (RFC 9110 §4.2.1: an http URI without one is invalid, and there is nothing
// to connect to), and the port, which a tunnel cannot do without, must be given: a TCP port
// in decimal.
bool is_authority_form(std::string_view target) noexcept {
  const std::size_t host_end = detail::uri_host_end(target);
  if (host_end == 0 || host_end == detail::kNoUriHost || host_end == target.size() ||
      target[host_end] != ':') {
    return false;
  }
  const std::string_view port = target.substr(host_end + 1);
  if (port.empty() || port.size() > 5) return false;
  std::uint32_t number = 0;
  for (char c : port) {
    if (!is_digit(c)) return false;
    number = number * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return number <= 65535;
}

// RFC 9110 §9.1: method names are case-sensitive.
bool is_connect_method(const char* method, std::size_t length) noexcept {
  return length == 7 && std::memcmp(method, "CONNECT", 7) == 0;
}

}  // namespace

void HttpHeadParser::reset() noexcept {
  state_ = State::kLeadingLines;
  position_ = scanned_ = section_start_ = 0;
  method_offset_ = method_length_ = target_offset_ = target_length_ = version_offset_ = 0;
  version_minor_ = 1;
  connect_ = false;
  fields_.clear();
  error_status_ = 0;
  error_reason_ = {};
}

HttpHeadParser::Outcome HttpHeadParser::fail(std::uint16_t status,
                                             std::string_view reason) noexcept {
  state_ = State::kFailed;
  error_status_ = status;
  error_reason_ = reason;
  return Outcome::kError;
}

// Bytes that can never appear in a head fail at once, even before their line is complete, so
// a request that is malformed early is refused early rather than when a limit runs out.
HttpHeadParser::Outcome HttpHeadParser::reject_partial(const char* data, std::size_t size,
                                                       std::uint16_t too_long_status,
                                                       std::size_t limit, std::size_t limit_start) {
  for (std::size_t i = scanned_; i < size; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c == '\r') {
      if (i + 1 < size && data[i + 1] != '\n') return fail(status::kBadRequest, "bare CR");
    } else if (detail::is_forbidden_in_head(c)) {
      return fail(status::kBadRequest, "control character in the request head");
    }
  }
  if (size - limit_start > limit) return fail(too_long_status, "request head too large");
  // A CR at the very end is judged when the byte after it arrives.
  scanned_ = size != 0 && data[size - 1] == '\r' ? size - 1 : size;
  return Outcome::kIncomplete;
}

HttpHeadParser::Outcome HttpHeadParser::parse_request(std::span<const std::byte> bytes) {
  const auto* data = reinterpret_cast<const char*>(bytes.data());
  const std::size_t size = bytes.size();
  if (state_ == State::kFailed) return Outcome::kError;
  if (state_ == State::kLeadingLines) {
    while (position_ < size) {
      if (data[position_] == '\n')
        return fail(status::kBadRequest, "bare LF before the request line");
      if (data[position_] != '\r') break;
      if (position_ + 1 == size) return Outcome::kIncomplete;
      if (data[position_ + 1] != '\n')
        return fail(status::kBadRequest, "bare CR before the request line");
      position_ += 2;
      if (position_ > 2 * kMaxLeadingEmptyLines) {
        return fail(status::kBadRequest, "too many empty lines before the request line");
      }
    }
    if (position_ == size) return Outcome::kIncomplete;
    state_ = State::kRequestLine;
    scanned_ = position_;
  }
  if (state_ == State::kRequestLine) {
    const void* newline = std::memchr(data + scanned_, '\n', size - scanned_);
    if (newline == nullptr) {
      const std::size_t line_limit =
          limits_.max_method + limits_.max_target + sizeof(" HTTP/1.1\r") + 1;
      const Outcome outcome =
          reject_partial(data, size, status::kUriTooLong, line_limit, position_);
      // Past its limit, what has arrived already breaks a rule a whole line is judged by:
      // judged so, it gets the status it would get whole (400 for a method too long, not 414),
      // whether or not its end came in the same read.
      if (outcome == Outcome::kError && error_status_ == status::kUriTooLong) {
        parse_request_line(data, size);
      }
      return outcome;
    }
    const auto end = static_cast<std::size_t>(static_cast<const char*>(newline) - data);
    if (end == position_ || data[end - 1] != '\r') {
      return fail(status::kBadRequest, "request line not ended by CRLF");
    }
    if (parse_request_line(data, end - 1) == Outcome::kError) return Outcome::kError;
    position_ = end + 1;
    scanned_ = position_;
    section_start_ = position_;
    state_ = State::kFields;
  }
  if (state_ == State::kFields) return parse_fields(data, size);
  return Outcome::kComplete;
}

HttpHeadParser::Outcome HttpHeadParser::parse_trailers(std::span<const std::byte> bytes) {
  if (state_ == State::kFailed) return Outcome::kError;
  if (state_ == State::kLeadingLines) state_ = State::kFields;
  if (state_ == State::kDone) return Outcome::kComplete;
  return parse_fields(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

HttpHeadParser::Outcome HttpHeadParser::parse_request_line(const char* data, std::size_t end) {
  std::size_t i = position_;
  while (i < end && detail::is_token(data[i]))
    ++i;
  method_offset_ = position_;
  method_length_ = i - position_;
  if (method_length_ == 0) return fail(status::kBadRequest, "missing or invalid method");
  if (method_length_ > limits_.max_method) return fail(status::kBadRequest, "method too long");
  // RFC 9112 §3: exactly one SP between the parts; runs of whitespace are not tolerated.
  if (i == end || data[i] != ' ')
    return fail(status::kBadRequest, "invalid character in the method");
  target_offset_ = ++i;
  i = detail::skip_target(data, i, end);
  target_length_ = i - target_offset_;
  if (target_length_ == 0) return fail(status::kBadRequest, "missing request target");
  if (target_length_ > limits_.max_target)
    return fail(status::kUriTooLong, "request target too long");
  if (i == end) return fail(status::kBadRequest, "missing HTTP version");
  if (data[i] != ' ') return fail(status::kBadRequest, "invalid character in the request target");
  const std::string_view target(data + target_offset_, target_length_);
  // RFC 9112 §3.2.3: CONNECT takes the authority-form and nothing else (an origin-form
  // target, beginning with '/', is no uri-host), and no other method takes it. Every
  // origin-form request pays only for the method's length.
  if (is_connect_method(data + method_offset_, method_length_)) {
    if (!is_authority_form(target))
      return fail(status::kBadRequest, "CONNECT request target is not host:port");
    connect_ = true;
  } else if (target[0] != '/' && target != "*" && !is_absolute_form(target)) {
    return fail(status::kBadRequest, "request target is not origin-form, absolute-form or *");
  }
  version_offset_ = ++i;
  // RFC 9112 §2.3: HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
  const std::string_view version(data + i, end - i);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7])) {
    return fail(status::kBadRequest, "invalid HTTP version");
  }
  if (version[5] != '1')
    return fail(status::kVersionNotSupported, "HTTP major version not supported");
  version_minor_ = version[7] - '0';
  return Outcome::kComplete;
}

HttpHeadParser::Outcome HttpHeadParser::parse_fields(const char* data, std::size_t size) {
  for (;;) {
    const void* newline = std::memchr(data + scanned_, '\n', size - scanned_);
    if (newline == nullptr) {
      return reject_partial(data, size, status::kHeaderFieldsTooLarge, limits_.max_header_section,
                            section_start_);
    }
    const auto end = static_cast<std::size_t>(static_cast<const char*>(newline) - data);
    if (end == position_ || data[end - 1] != '\r')
      return fail(status::kBadRequest, "field line not ended by CRLF");
    if (end + 1 - section_start_ > limits_.max_header_section) {
      return fail(status::kHeaderFieldsTooLarge, "header section too large");
    }
    const std::size_t content_end = end - 1;
    if (content_end == position_) {
      position_ = end + 1;
      state_ = State::kDone;
      return Outcome::kComplete;
    }
    // RFC 9112 §5.2: obs-fold is rejected; §2.2: so is whitespace before the first field.
    if (data[position_] == ' ' || data[position_] == '\t') {
      return fail(status::kBadRequest, "line folding or whitespace before a field name");
    }
    std::size_t i = position_;
    while (i < content_end && detail::is_token(data[i]))
      ++i;
    // RFC 9112 §5.1: no whitespace between the name and the colon (request smuggling).
    if (i == position_ || i == content_end || data[i] != ':') {
      return fail(status::kBadRequest, "invalid field name");
    }
    const std::size_t name_length = i - position_;
    ++i;
    while (i < content_end && (data[i] == ' ' || data[i] == '\t'))
      ++i;
    const std::size_t value_start = i;
    if (!detail::is_valid_value(std::string_view(data + value_start, content_end - value_start))) {
      return fail(status::kBadRequest, "invalid character in a field value");
    }
    std::size_t value_end = content_end;
    while (value_end > value_start && (data[value_end - 1] == ' ' || data[value_end - 1] == '\t')) {
      --value_end;
    }
    if (fields_.size() == limits_.max_header_count) {
      return fail(status::kHeaderFieldsTooLarge, "too many header fields");
    }
    fields_.push_back({static_cast<std::uint32_t>(position_),
                       static_cast<std::uint32_t>(name_length),
                       static_cast<std::uint32_t>(value_start),
                       static_cast<std::uint32_t>(value_end - value_start)});
    position_ = end + 1;
    scanned_ = position_;
  }
}

}  // namespace sluice::http
