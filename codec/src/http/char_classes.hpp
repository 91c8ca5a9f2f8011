#pragma once

#include <array>
#include <cstdint>

namespace sluice::http::detail {

// Octet classes of RFC 9110 §5.6.2 (tchar), §5.5 (field-vchar, obs-text) and RFC 9112 §3.2
// (request-target octets), one table lookup each.
enum : std::uint8_t {
  kToken = 1,       // tchar
  kFieldValue = 2,  // HTAB, SP, VCHAR, obs-text
  kTarget = 4,      // 0x21-0x7E
  kForbidden = 8,   // never valid in a head: NUL, controls other than HTAB/CR/LF, DEL
};

inline constexpr std::array<std::uint8_t, 256> kClasses = [] {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t bits = 0;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    constexpr char kTokenPunctuation[] = "!#$%&'*+-.^_`|~";
    bool punct = false;
    for (char p : kTokenPunctuation)
      punct = punct || (p != '\0' && c == p);
    if (alnum || punct) bits |= kToken;
    if (c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80) bits |= kFieldValue;
    if (c >= 0x21 && c <= 0x7e) bits |= kTarget;
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) bits |= kForbidden;
    table[static_cast<std::size_t>(c)] = bits;
  }
  return table;
}();

inline bool is_token(char c) noexcept {
  return kClasses[static_cast<unsigned char>(c)] & kToken;
}
inline bool is_field_value(char c) noexcept {
  return kClasses[static_cast<unsigned char>(c)] & kFieldValue;
}
inline bool is_target(char c) noexcept {
  return kClasses[static_cast<unsigned char>(c)] & kTarget;
}
inline bool is_forbidden_in_head(unsigned char c) noexcept {
  return kClasses[c] & kForbidden;
}

}  // namespace sluice::http::detail
