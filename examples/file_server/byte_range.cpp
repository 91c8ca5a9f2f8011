#include "byte_range.hpp"

#include <limits>
#include <optional>

namespace sluice::examples {
namespace {

constexpr std::uint64_t kHuge = std::numeric_limits<std::uint64_t>::max();

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// 1*DIGIT; a value past 2^64-1 saturates (it is past the end of any file all the same).
std::optional<std::uint64_t> number(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (kHuge - digit) / 10 ? kHuge : value * 10 + digit;
  }
  return value;
}

}  // namespace

RangeDecision decide_range(std::string_view value, std::uint64_t size) {
  RangeDecision whole;
  // ranges-specifier = range-unit "=" range-set; range units are case-insensitive (§14.1).
  const std::size_t equals = value.find('=');
  if (equals == std::string_view::npos) return whole;
  const std::string_view unit = trim(value.substr(0, equals));
  if (unit.size() != 5) return whole;
  for (std::size_t i = 0; i < 5; ++i) {
    char c = unit[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != "bytes"[i]) return whole;
  }
  std::string_view set = value.substr(equals + 1);
  // range-set = 1#range-spec: empty list elements are allowed and skipped (§5.6.1).
  std::string_view spec;
  std::size_t specs = 0;
  while (!set.empty()) {
    const std::size_t comma = set.find(',');
    const std::string_view element = trim(set.substr(0, comma));
    if (!element.empty()) {
      spec = element;
      ++specs;
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (specs != 1 || size == 0) return whole;

  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view first_text = spec.substr(0, dash);
  const std::string_view last_text = spec.substr(dash + 1);
  RangeDecision decision;
  decision.kind = RangeDecision::kPartial;
  if (first_text.empty()) {
    // suffix-range = "-" suffix-length: the last n bytes.
    const auto suffix = number(last_text);
    if (!suffix) return whole;
    if (*suffix == 0) {
      decision.kind = RangeDecision::kUnsatisfiable;
      return decision;
    }
    decision.first = *suffix >= size ? 0 : size - *suffix;
    decision.last = size - 1;
    return decision;
  }
  const auto first = number(first_text);
  if (!first) return whole;
  std::uint64_t last = size - 1;
  if (!last_text.empty()) {
    const auto parsed = number(last_text);
    // An int-range with last < first is invalid (§14.1.1): the field is ignored.
    if (!parsed || *parsed < *first) return whole;
    last = *parsed < size ? *parsed : size - 1;
  }
  if (*first >= size) {
    decision.kind = RangeDecision::kUnsatisfiable;
    return decision;
  }
  decision.first = *first;
  decision.last = last;
  return decision;
}

}  // namespace sluice::examples
