#include "sluice/core/core_error.hpp"

#include <new>

namespace sluice {

const char* describe(CoreErrc value) noexcept {
  switch (value) {
    case CoreErrc::task_exception:
      return "task threw";
  }
  return "unknown core error";
}

const std::error_category& core_category() noexcept {
  static const detail::EnumCategory<CoreErrc> category("sluice.core");
  return category;
}

namespace {

// The error with `what` as its context, or without a context when there is no memory for one:
// the exception is being turned into an error on a noexcept path.
Error with_context(std::error_code code, const char* what) noexcept {
  try {
    return Error(code, what);
  } catch (...) {
    return Error(code);
  }
}

}  // namespace

Error error_from_exception(std::exception_ptr exception, std::error_code otherwise) noexcept {
  try {
    std::rethrow_exception(exception);
  } catch (const Exception& error) {
    return with_context(error.error().code(), error.error().context().c_str());
  } catch (const std::system_error& error) {
    return with_context(error.code(), error.what());
  } catch (const std::bad_alloc&) {
    return Error(std::make_error_code(std::errc::not_enough_memory));
  } catch (const std::exception& error) {
    return with_context(otherwise, error.what());
  } catch (...) {
    return with_context(otherwise, "a non-standard exception");
  }
}

}  // namespace sluice
