#include <doctest/doctest.h>

#include <vector>

#include "sluice/transport/detail/receive_sizer.hpp"

using sluice::ReceiveBufferSizing;
using sluice::detail::ReceiveSizer;

namespace {

// Feeds reads that fill their buffer until the size stops growing; returns the sizes seen.
std::vector<std::size_t> grow_until_stable(ReceiveSizer& sizer) {
  std::vector<std::size_t> sizes{sizer.next()};
  for (int i = 0; i < 64; ++i) {
    sizer.record(sizer.next(), sizer.next());
    if (sizer.next() == sizes.back()) break;
    sizes.push_back(sizer.next());
  }
  return sizes;
}

}  // namespace

TEST_CASE("reads that fill their buffer grow it sixteen-fold per read, up to the maximum") {
  ReceiveSizer sizer(ReceiveBufferSizing::adaptive());
  CHECK(grow_until_stable(sizer) == std::vector<std::size_t>{2048, 32768, 131072});
}

TEST_CASE("two short reads in a row shrink the buffer one step; a read between resets the vote") {
  ReceiveSizer sizer(ReceiveBufferSizing::adaptive(64, 4096, 131072));
  // 1024 fits half of the size below 4096 (2048): one such read is not enough.
  sizer.record(1024, 4096);
  CHECK(sizer.next() == 4096);
  // A read that needs more than that half keeps the size and clears the vote.
  sizer.record(1500, 4096);
  sizer.record(1024, 4096);
  CHECK(sizer.next() == 4096);
  sizer.record(1024, 4096);
  CHECK(sizer.next() == 2048);
}

TEST_CASE("below 512 bytes the sizes step by 16, and never below the minimum") {
  ReceiveSizer sizer(ReceiveBufferSizing::adaptive(64, 96, 131072));
  CHECK(sizer.next() == 96);
  for (int i = 0; i < 2; ++i)
    sizer.record(1, 96);
  CHECK(sizer.next() == 80);
  for (int i = 0; i < 20; ++i)
    sizer.record(1, sizer.next());
  CHECK(sizer.next() == 64);
}

TEST_CASE("fixed sizing never changes the size") {
  ReceiveSizer sizer(ReceiveBufferSizing::fixed(8192));
  sizer.record(8192, 8192);
  CHECK(sizer.next() == 8192);
  for (int i = 0; i < 4; ++i)
    sizer.record(1, 8192);
  CHECK(sizer.next() == 8192);
}

TEST_CASE("sizes between steps round up, and limits out of order stay within the minimum") {
  // 100 rounds up to 112; 3000 to 4096.
  ReceiveSizer rounded(ReceiveBufferSizing{100, 3000, 100000});
  CHECK(rounded.next() == 4096);
  CHECK(grow_until_stable(rounded).back() == 131072);
  // A maximum below the minimum leaves one size: the minimum's.
  ReceiveSizer inverted(ReceiveBufferSizing{4096, 1024, 512});
  CHECK(inverted.next() == 4096);
  inverted.record(4096, 4096);
  CHECK(inverted.next() == 4096);
}
