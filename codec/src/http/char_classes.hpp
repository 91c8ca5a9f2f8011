#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/codec/http/detail/octet_words.hpp"

namespace sluice::http::detail {

// Octet classes of RFC 9110 §5.6.2 (tchar) and RFC 9112 §3.2 (request-target octets), one table
// lookup each. Field values are checked by detail::is_valid_value (http_header.hpp), which
// outbound header values share.
enum : std::uint8_t {
  kToken = 1,      // tchar
  kTarget = 2,     // 0x21-0x7E
  kForbidden = 4,  // never valid in a head: NUL, controls other than HTAB/CR/LF, DEL
  kRegName = 8,    // unreserved / sub-delims of RFC 3986 §3.2.2 (a reg-name without pct-encoded)
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
    constexpr char kRegNamePunctuation[] = "-._~!$&'()*+,;=";
    bool reg_name_punct = false;
    for (char p : kRegNamePunctuation)
      reg_name_punct = reg_name_punct || (p != '\0' && c == p);
    if (alnum || reg_name_punct) bits |= kRegName;
    if (c >= 0x21 && c <= 0x7e) bits |= kTarget;
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) bits |= kForbidden;
    table[static_cast<std::size_t>(c)] = bits;
  }
  return table;
}();

inline bool is_token(char c) noexcept {
  return kClasses[static_cast<unsigned char>(c)] & kToken;
}
inline bool is_target(char c) noexcept {
  return kClasses[static_cast<unsigned char>(c)] & kTarget;
}
inline bool is_reg_name(char c) noexcept {
  return kClasses[static_cast<unsigned char>(c)] & kRegName;
}
inline bool is_forbidden_in_head(unsigned char c) noexcept {
  return kClasses[c] & kForbidden;
}
inline bool is_hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

inline constexpr std::size_t kNoUriHost = static_cast<std::size_t>(-1);

// uri-host (RFC 3986 §3.2.2) at the start of `value`: an IP-literal in brackets (hex digits,
// ':' and '.'), or a reg-name / IPv4address (unreserved, pct-encoded and sub-delims). Returns
// where it ends (the index of the ':' before a port, or the end of `value`; the caller judges
// what follows), or kNoUriHost when the octets before that are not a uri-host. An empty
// reg-name is a uri-host: whether it will do is the caller's to say. The Host field and the
// authority-form of CONNECT share it, so that both read a host the same way.
inline std::size_t uri_host_end(std::string_view value) noexcept {
  if (!value.empty() && value[0] == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos || close == 1) return kNoUriHost;
    for (char c : value.substr(1, close - 1)) {
      if (!is_hex_digit(c) && c != ':' && c != '.') return kNoUriHost;
    }
    return close + 1;
  }
  std::size_t i = 0;
  for (; i < value.size() && value[i] != ':'; ++i) {
    if (is_reg_name(value[i])) continue;
    if (value[i] != '%' || i + 2 >= value.size() || !is_hex_digit(value[i + 1]) ||
        !is_hex_digit(value[i + 2])) {
      return kNoUriHost;
    }
    i += 2;
  }
  return i;
}

// The index of the first octet in [begin, end) that cannot be in a request target, or `end`.
inline std::size_t skip_target(const char* data, std::size_t begin, std::size_t end) noexcept {
  std::size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const std::uint64_t word = swar::load(data + i);
    if ((swar::any_below(word, 0x21) | swar::any_above(word, 0x7e)) != 0) break;
  }
  while (i < end && is_target(data[i]))
    ++i;
  return i;
}

}  // namespace sluice::http::detail
