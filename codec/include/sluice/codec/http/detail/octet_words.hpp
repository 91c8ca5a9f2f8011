#pragma once

#include <cstdint>
#include <cstring>

namespace sluice::http::detail {

// Tests on eight octets at a time (SWAR), for the scans that run over every header value and
// request target: a word whose octets are all ordinary costs a few instructions instead of
// eight lookups. Only the existence answers are exact (borrows can mark extra octets), so a
// caller looks at a flagged word octet by octet.
namespace swar {

inline constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
inline constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

inline std::uint64_t load(const char* octets) noexcept {
  std::uint64_t word;
  std::memcpy(&word, octets, sizeof word);
  return word;
}
// Non-zero if an octet of `word` is below `bound` (bound <= 128).
inline std::uint64_t any_below(std::uint64_t word, std::uint8_t bound) noexcept {
  return (word - kOnes * bound) & ~word & kHighBits;
}
// Non-zero if an octet of `word` is above `bound` (bound <= 127).
inline std::uint64_t any_above(std::uint64_t word, std::uint8_t bound) noexcept {
  return ((word + kOnes * (127 - bound)) | word) & kHighBits;
}
// Non-zero if an octet of `word` equals `value`.
inline std::uint64_t any_equal(std::uint64_t word, std::uint8_t value) noexcept {
  return any_below(word ^ (kOnes * value), 1);
}

}  // namespace swar

}  // namespace sluice::http::detail
