#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace sluice {

// Loads and stores of integers at unaligned addresses in a chosen byte order. Network protocols
// are big-endian ("network byte order"), so that is the default everywhere in sluice.
template <std::integral T>
constexpr T byte_swap(T value) noexcept {
  using U = std::make_unsigned_t<T>;
  auto bits = static_cast<U>(value);
  if constexpr (sizeof(T) == 2) {
    bits = __builtin_bswap16(bits);
  } else if constexpr (sizeof(T) == 4) {
    bits = __builtin_bswap32(bits);
  } else if constexpr (sizeof(T) == 8) {
    bits = __builtin_bswap64(bits);
  }
  return static_cast<T>(bits);
}

template <std::integral T>
T load_integer(const std::byte* source, std::endian order) noexcept {
  T value;
  std::memcpy(&value, source, sizeof value);
  return order == std::endian::native ? value : byte_swap(value);
}

template <std::integral T>
void store_integer(std::byte* target, T value, std::endian order) noexcept {
  if (order != std::endian::native) value = byte_swap(value);
  std::memcpy(target, &value, sizeof value);
}

}  // namespace sluice
