#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sluice/codec/codec_error.hpp"

namespace sluice::http {

namespace detail {

constexpr bool is_token_char(char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  for (char p : std::string_view("!#$%&'*+-.^_`|~")) {
    if (c == p) return true;
  }
  return false;
}
constexpr bool is_valid_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_token_char(c)) return false;
  }
  return true;
}
// field-value octets (RFC 9110 §5.5): no CR, LF, NUL or other controls but HTAB, so a value
// can never end the header line early (response splitting).
constexpr bool is_valid_value(std::string_view value) noexcept {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return false;
  }
  return true;
}

}  // namespace detail

// Thrown when a header name or value built at run time is invalid.
class InvalidHeaderError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A header name known to be a token. String literals are checked at compile time
// (`HeaderName("X-Trace")` with a space in it does not compile); names built at run time go
// through HeaderName::of, which throws InvalidHeaderError.
class HeaderName {
 public:
  template <std::size_t N>
  consteval HeaderName(const char (&literal)[N]) : literal_(literal, N - 1) {  // NOLINT
    if (!detail::is_valid_name(literal_)) throw "invalid HTTP header name";
  }
  static HeaderName of(std::string_view name) {
    if (!detail::is_valid_name(name)) {
      throw InvalidHeaderError("invalid HTTP header name: '" + std::string(name) + "'");
    }
    HeaderName result;
    result.owned_ = std::make_shared<const std::string>(name);
    result.literal_ = *result.owned_;
    return result;
  }
  std::string_view view() const noexcept { return literal_; }

 private:
  HeaderName() = default;
  std::string_view literal_;
  // Run-time names live on the heap, so the view stays valid when the object moves.
  std::shared_ptr<const std::string> owned_;
};

// A header value with no CR, LF, NUL or other control characters (HTAB allowed), checked at
// compile time for literals and by HeaderValue::of (throwing InvalidHeaderError) otherwise.
class HeaderValue {
 public:
  template <std::size_t N>
  consteval HeaderValue(const char (&literal)[N]) : literal_(literal, N - 1) {  // NOLINT
    if (!detail::is_valid_value(literal_)) throw "invalid HTTP header value";
  }
  static HeaderValue of(std::string_view value) {
    if (!detail::is_valid_value(value)) throw InvalidHeaderError("invalid HTTP header value");
    HeaderValue result;
    result.owned_ = std::make_shared<const std::string>(value);
    result.literal_ = *result.owned_;
    return result;
  }
  static HeaderValue of(std::uint64_t number) { return of(std::to_string(number)); }
  std::string_view view() const noexcept { return literal_; }

 private:
  HeaderValue() = default;
  std::string_view literal_;
  std::shared_ptr<const std::string> owned_;
};

}  // namespace sluice::http
