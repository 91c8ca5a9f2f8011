#include <doctest/doctest.h>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/buffer_error.hpp"

using sluice::Buffer;

TEST_CASE("smoke: write and read integers in both byte orders") {
  Buffer buffer = Buffer::allocate(8);
  buffer.write_u32(0x01020304);
  buffer.write_u32_le(0x01020304);
  CHECK(buffer.get_u8(0) == 1);
  CHECK(buffer.get_u8(4) == 4);
  CHECK(buffer.read_u32() == 0x01020304);
  CHECK(buffer.read_u32_le() == 0x01020304);
  CHECK_THROWS_AS(buffer.read_u8(), sluice::IndexOutOfBoundsError);
}
