#pragma once

// The field values a word-at-a-time check can judge wrongly, shared by the tests of the two
// places that check values: the request head parser and HeaderValue.

#include <doctest/doctest.h>

#include <cstddef>
#include <string>

namespace sluice::test {

// `accepts(value)` says whether the code under test takes `value`; every verdict must be RFC
// 9110 §5.5's (field-vchar, obs-text, SP and HTAB). The values: lengths 1-25 (around the
// eight-octet word) with each octet at each position (CR and LF only when `with_line_ends`:
// in a head they end the line instead), then an allowed HTAB, which flags its word, followed
// by a control in the same word or a later one.
template <typename Accepts>
void check_every_field_value_octet(Accepts accepts, bool with_line_ends) {
  for (std::size_t length = 1; length <= 25; ++length) {
    for (std::size_t position = 0; position < length; ++position) {
      for (int octet = 0; octet < 256; ++octet) {
        if (!with_line_ends && (octet == '\r' || octet == '\n')) continue;
        const auto c = static_cast<unsigned char>(octet);
        const bool allowed = c == '\t' || (c >= 0x20 && c != 0x7f);
        std::string value(length, 'v');
        value[position] = static_cast<char>(c);
        if (accepts(value) != allowed) {
          FAIL_CHECK("length " << length << ", octet " << octet << " at " << position);
        }
      }
    }
  }
  for (std::size_t tab = 0; tab < 24; ++tab) {
    for (std::size_t bad = tab + 1; bad < 24; ++bad) {
      for (const char control : {'\x01', '\x1f'}) {
        std::string value(24, 'v');
        value[tab] = '\t';
        value[bad] = control;
        CAPTURE(tab);
        CAPTURE(bad);
        CHECK_FALSE(accepts(value));
      }
    }
  }
}

}  // namespace sluice::test
