#include "sluice/codec/string_codec.hpp"

namespace sluice {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

struct Sequence {
  std::size_t length;
  bool valid;
};

// The UTF-8 sequence starting at text[i] (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF). An invalid one is its maximal subpart, the longest prefix that could begin a
// valid sequence (at least one byte), which becomes one U+FFFD: Unicode §3.9 "Substitution of
// Maximal Subparts", as the WHATWG decoder, ICU and Python do.
Sequence next_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {1, true};
  std::size_t continuations = 0;
  unsigned char lower = 0x80;  // the range of the first continuation byte
  unsigned char upper = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuations = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuations = 2;
    if (lead == 0xE0) lower = 0xA0;  // overlong
    if (lead == 0xED) upper = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuations = 3;
    if (lead == 0xF0) lower = 0x90;  // overlong
    if (lead == 0xF4) upper = 0x8F;  // above U+10FFFF
  } else {
    return {1, false};
  }
  for (std::size_t k = 1; k <= continuations; ++k) {
    if (i + k >= text.size() || byte(k) < lower || byte(k) > upper) return {k, false};
    lower = 0x80;
    upper = 0xBF;
  }
  return {continuations + 1, true};
}

}  // namespace

std::string to_valid_utf8(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const Sequence sequence = next_sequence(bytes, i);
    if (sequence.valid) {
      text.append(bytes.substr(i, sequence.length));
    } else {
      text += kReplacement;
    }
    i += sequence.length;
  }
  return text;
}

}  // namespace sluice
