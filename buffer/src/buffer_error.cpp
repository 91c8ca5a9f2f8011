#include "sluice/buffer/buffer_error.hpp"

namespace sluice {

const char* describe(BufferErrc value) noexcept {
  switch (value) {
    case BufferErrc::index_out_of_bounds:
      return "index out of bounds";
    case BufferErrc::capacity_exceeded:
      return "capacity exceeded";
    case BufferErrc::size_overflow:
      return "size overflow";
    case BufferErrc::out_of_memory:
      return "out of memory";
    case BufferErrc::moved_from:
      return "use of a moved-from buffer";
    case BufferErrc::read_only:
      return "write into read-only bytes";
  }
  return "unknown buffer error";
}

const std::error_category& buffer_category() noexcept {
  static const detail::EnumCategory<BufferErrc> category("sluice.buffer");
  return category;
}

}  // namespace sluice
