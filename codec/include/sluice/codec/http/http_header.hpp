#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/http/detail/octet_words.hpp"

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
  std::size_t i = 0;
  if (!std::is_constant_evaluated()) {
    // Every value made at run time is checked: skip the words with no control octet at all.
    const auto has_control = [](std::uint64_t word) {
      return (swar::any_below(word, 0x20) | swar::any_equal(word, 0x7f)) != 0;
    };
    for (; i + 8 <= value.size(); i += 8) {
      if (has_control(swar::load(value.data() + i))) break;
    }
    // The tail of a value of eight octets or more: one last word, overlapping the one before.
    if (i != value.size() && value.size() >= 8 && i + 8 > value.size() &&
        !has_control(swar::load(value.data() + value.size() - 8))) {
      return true;
    }
  }
  for (; i < value.size(); ++i) {
    const auto u = static_cast<unsigned char>(value[i]);
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
// A run-time value of up to kInlineCapacity bytes is kept inside the object, so the values a
// server makes per response (dates, entity tags, lengths, media types) allocate nothing.
class HeaderValue {
 public:
  static constexpr std::size_t kInlineCapacity = 56;

  template <std::size_t N>
  consteval HeaderValue(const char (&literal)[N]) : literal_(literal, N - 1) {  // NOLINT
    if (!detail::is_valid_value(literal_)) throw "invalid HTTP header value";
  }
  static HeaderValue of(std::string_view value) {
    if (!detail::is_valid_value(value)) throw InvalidHeaderError("invalid HTTP header value");
    HeaderValue result;
    if (value.size() <= kInlineCapacity) {
      if (!value.empty()) std::memcpy(result.inline_, value.data(), value.size());
      result.inline_size_ = static_cast<std::uint8_t>(value.size());
    } else {
      // Long values live on the heap, so the view stays valid when the object moves.
      result.owned_ = std::make_shared<const std::string>(value);
      result.literal_ = *result.owned_;
    }
    return result;
  }
  static HeaderValue of(std::uint64_t number) {
    char digits[20];
    const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
    return of(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
  std::string_view view() const noexcept {
    return inline_size_ == kNotInline ? literal_ : std::string_view(inline_, inline_size_);
  }

 private:
  static constexpr std::uint8_t kNotInline = 0xff;
  static_assert(kInlineCapacity < kNotInline);

  HeaderValue() = default;
  std::string_view literal_;  // a literal, or the heap-owned string
  std::shared_ptr<const std::string> owned_;
  std::uint8_t inline_size_ = kNotInline;
  char inline_[kInlineCapacity] = {};  // the bytes, when inline_size_ says so
};

}  // namespace sluice::http
