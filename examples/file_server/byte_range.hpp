#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::examples {

// What a Range field asks of a file of a given size (RFC 9110 §14).
struct RangeDecision {
  enum Kind : std::uint8_t {
    kWhole,          // no usable Range: 200 with the whole file
    kPartial,        // one satisfiable range: 206 with [first, last]
    kUnsatisfiable,  // 416 with "Content-Range: bytes */size"
  };
  Kind kind = kWhole;
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const noexcept { return last - first + 1; }
};

// Decides on `value`, the Range field of a GET, for a file of `size` bytes:
//   "bytes=a-b", "bytes=a-" and "bytes=-n" are honoured (b clamped to the last byte, a suffix
//   longer than the file meaning all of it, §14.1.1); a first position at or past the end,
//   or a zero-length suffix, is unsatisfiable;
//   several ranges are answered with the whole file (a server may ignore Range, §14.2, and a
//   multipart/byteranges body is not worth its cost here);
//   a syntax error or another unit makes the field ignored (§14.2).
// An empty file has no byte to range over: the field is ignored and the (empty) whole sent.
RangeDecision decide_range(std::string_view value, std::uint64_t size);

}  // namespace sluice::examples
