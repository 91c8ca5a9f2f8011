#pragma once

#include <string>
#include <system_error>

#include "sluice/core/error.hpp"

namespace sluice {

enum class BufferErrc {
  index_out_of_bounds = 1,  // an index or length outside the readable, writable or whole region
  capacity_exceeded,        // growth past a buffer's max capacity
  size_overflow,            // a size computation that overflows
  out_of_memory,            // the OS refused memory
  moved_from,               // use of a moved-from handle (checked in debug builds)
  read_only,                // a write into bytes sluice does not own (a file mapping)
};

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::BufferErrc> : std::true_type {};

namespace sluice {

const char* describe(BufferErrc value) noexcept;
const std::error_category& buffer_category() noexcept;
inline std::error_code make_error_code(BufferErrc value) noexcept {
  return {static_cast<int>(value), buffer_category()};
}

// Every buffer failure is a BufferError; the subclasses let callers catch one kind. The message
// names the operation and the indices involved, e.g.
// "read_u32: 4 bytes at reader index 6 exceed writer index 8".
class BufferError : public Exception {
 public:
  BufferError(BufferErrc code, std::string what) : Exception(Error(code, std::move(what))) {}
};

class IndexOutOfBoundsError : public BufferError {
 public:
  explicit IndexOutOfBoundsError(std::string what)
      : BufferError(BufferErrc::index_out_of_bounds, std::move(what)) {}
};

class CapacityExceededError : public BufferError {
 public:
  explicit CapacityExceededError(std::string what)
      : BufferError(BufferErrc::capacity_exceeded, std::move(what)) {}
};

class SizeOverflowError : public BufferError {
 public:
  explicit SizeOverflowError(std::string what)
      : BufferError(BufferErrc::size_overflow, std::move(what)) {}
};

class OutOfMemoryError : public BufferError {
 public:
  explicit OutOfMemoryError(std::string what)
      : BufferError(BufferErrc::out_of_memory, std::move(what)) {}
};

class ReadOnlyBufferError : public BufferError {
 public:
  explicit ReadOnlyBufferError(std::string what)
      : BufferError(BufferErrc::read_only, std::move(what)) {}
};

class MovedFromError : public BufferError {
 public:
  explicit MovedFromError(std::string what)
      : BufferError(BufferErrc::moved_from, std::move(what)) {}
};

}  // namespace sluice
