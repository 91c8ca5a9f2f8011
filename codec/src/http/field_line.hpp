#pragma once

#include <cstring>
#include <string_view>

#include "sluice/buffer/buffer.hpp"

namespace sluice::http::detail {

// Appends "name: value\r\n" to `out`; both were validated as they were made.
inline void append_field_line(Buffer& out, std::string_view name, std::string_view value) {
  const std::size_t line_size = name.size() + 2 + value.size() + 2;
  out.ensure_writable(line_size);
  auto* at = reinterpret_cast<char*>(out.writable_span().data());
  std::memcpy(at, name.data(), name.size());
  at += name.size();
  std::memcpy(at, ": ", 2);
  std::memcpy(at + 2, value.data(), value.size());
  std::memcpy(at + 2 + value.size(), "\r\n", 2);
  out.advance_writer(line_size);
}

}  // namespace sluice::http::detail
