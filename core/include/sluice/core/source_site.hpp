#pragma once

#include <cstdint>

namespace sluice {

// Where a call was made, captured by a default argument (`SourceSite site =
// SourceSite::current()`). std::source_location would do, but clang 14 with libstdc++ 12 lacks
// it; the builtins below exist in both compilers.
struct SourceSite {
  const char* file = "";
  const char* function = "";
  std::uint_least32_t line = 0;

  static constexpr SourceSite current(const char* file = __builtin_FILE(),
                                      const char* function = __builtin_FUNCTION(),
                                      std::uint_least32_t line = __builtin_LINE()) noexcept {
    return {file, function, line};
  }
};

}  // namespace sluice
