#pragma once

#include <exception>
#include <system_error>
#include <type_traits>

#include "sluice/core/error.hpp"

namespace sluice {

// Errors of the core module.
enum class CoreErrc {
  task_exception = 1,  // a task submitted to an event loop threw
};

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::CoreErrc> : std::true_type {};

namespace sluice {

const char* describe(CoreErrc value) noexcept;
const std::error_category& core_category() noexcept;
inline std::error_code make_error_code(CoreErrc value) noexcept {
  return {static_cast<int>(value), core_category()};
}

// The Error an exception becomes where it cannot be thrown on (a loop's task, a handler): a
// sluice::Exception keeps its Error, a std::system_error its code, std::bad_alloc is
// std::errc::not_enough_memory, anything else is `otherwise` with the what() text as context.
// It cannot fail: out of memory, the error goes without its context.
Error error_from_exception(std::exception_ptr exception, std::error_code otherwise) noexcept;

}  // namespace sluice
