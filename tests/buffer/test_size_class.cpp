#include <doctest/doctest.h>

#include "sluice/buffer/detail/size_class.hpp"

using namespace sluice::detail;

TEST_CASE("every size maps to the smallest class that holds it") {
  for (std::size_t size = 1; size <= kMaxRunSize; ++size) {
    const unsigned size_class = size_class_of(size);
    REQUIRE(size_class < kClassCount);
    REQUIRE(class_size(size_class) >= size);
    if (size_class > 0) REQUIRE(class_size(size_class - 1) < size);
  }
}

TEST_CASE("classes step by the 16-byte quantum up to 64 bytes, then four per doubling") {
  CHECK(class_size(0) == 16);
  CHECK(class_size(3) == 64);
  for (unsigned c = 4; c + 4 < kClassCount; ++c)
    CHECK(class_size(c + 4) == 2 * class_size(c));
  CHECK(class_size(kSlabClassCount - 1) == 32 * 1024);
  CHECK(class_size(kClassCount - 1) == 1024 * 1024);
  CHECK(size_class_of(0) == 0);
}

TEST_CASE("every slab geometry wastes little and fits at least one slot") {
  for (unsigned c = 0; c < kSlabClassCount; ++c) {
    const SlabGeometry geometry = kSlabGeometry[c];
    const std::size_t bytes = geometry.pages * kPageSize;
    const std::size_t used = geometry.slots * (class_size(c) + kSlotHeaderSize);
    CAPTURE(c);
    REQUIRE(geometry.slots >= 1);
    REQUIRE(used <= bytes);
    CHECK((bytes - used) * 16 <= bytes);  // at most 6.25% of a slab unused
  }
}

TEST_CASE("page runs are whole pages") {
  for (unsigned c = kSlabClassCount; c < kClassCount; ++c) {
    CHECK(class_size(c) % kPageSize == 0);
    CHECK(run_pages(c) * kPageSize == class_size(c));
  }
}
