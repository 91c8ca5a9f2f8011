#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace sluice {

// An error as a value: a std::error_code (errno values, or one of sluice's own categories) plus
// an optional human-readable context that names what failed ("connect 127.0.0.1:9", "slice(4, 9)
// of 8 readable bytes"). Errors travel through Result<T>, futures and on_error; exceptions carry
// one too.
class Error {
 public:
  Error() = default;
  Error(std::error_code code, std::string context = {})
      : code_(code), context_(std::move(context)) {}
  template <typename Enum>
  requires std::is_error_code_enum_v<Enum> Error(
      Enum value, std::string context = {})  // NOLINT: implicit by design, like error_code
      : code_(make_error_code(value)), context_(std::move(context)) {}

  // An Error from an errno value, e.g. Error::from_errno(errno, "accept4").
  static Error from_errno(int errno_value, std::string context = {}) {
    return Error(std::error_code(errno_value, std::generic_category()), std::move(context));
  }

  const std::error_code& code() const noexcept { return code_; }
  const std::string& context() const noexcept { return context_; }
  explicit operator bool() const noexcept { return static_cast<bool>(code_); }

  // "context: message", or just the message when there is no context.
  std::string message() const {
    if (context_.empty()) return code_.message();
    return context_ + ": " + code_.message();
  }

  friend bool operator==(const Error& error, std::error_code code) noexcept {
    return error.code_ == code;
  }
  template <typename Enum>
  requires std::is_error_code_enum_v<Enum>
  friend bool operator==(const Error& error, Enum value) noexcept {
    return error.code_ == make_error_code(value);
  }
  // Portable conditions such as std::errc::connection_refused.
  template <typename Enum>
  requires std::is_error_condition_enum_v<Enum>
  friend bool operator==(const Error& error, Enum value) noexcept {
    return error.code_ == make_error_condition(value);
  }

 private:
  std::error_code code_;
  std::string context_;
};

// The base of every exception sluice throws. It is a std::system_error, so code() works as usual,
// and it keeps the Error it was made from.
class Exception : public std::system_error {
 public:
  explicit Exception(Error error)
      : std::system_error(error.code(), error.context()), error_(std::move(error)) {}
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

namespace detail {

// One std::error_category per sluice error enum. The enum's module provides
// `const char* describe(Enum)` and names the category.
template <typename Enum>
class EnumCategory final : public std::error_category {
 public:
  explicit EnumCategory(const char* name) : name_(name) {}
  const char* name() const noexcept override { return name_; }
  std::string message(int value) const override { return describe(static_cast<Enum>(value)); }

 private:
  const char* name_;
};

}  // namespace detail
}  // namespace sluice
