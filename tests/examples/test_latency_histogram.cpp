// sluice-echo-client's latency histogram: every recorded value lies in the bucket it is reported
// by, and that bucket is narrow.
#include <doctest/doctest.h>

#include <cstdint>

#include "latency_histogram.hpp"

using sluice::examples::LatencyHistogram;

namespace {

std::uint64_t reported(std::uint64_t micros) {
  LatencyHistogram histogram;
  histogram.record(micros);
  return histogram.percentile(0.5);
}

}  // namespace

TEST_CASE("values below 32 us are exact") {
  for (std::uint64_t micros = 0; micros < 32; ++micros)
    CHECK(reported(micros) == micros);
}

TEST_CASE("a value is reported by the upper edge of a bucket at most 1/32 wide") {
  // Every value up to 2^13, and the edges and middle of every doubling after it.
  auto check = [](std::uint64_t micros) {
    const std::uint64_t edge = reported(micros);
    CHECK(edge >= micros);
    CHECK(edge - micros <= micros / 32);
  };
  for (std::uint64_t micros = 32; micros < (1u << 13); ++micros)
    check(micros);
  for (unsigned shift = 13; shift < 34; ++shift) {
    check(std::uint64_t{1} << shift);
    check((std::uint64_t{1} << shift) - 1);
    check((std::uint64_t{3} << shift) / 2);
  }
}

TEST_CASE("percentiles walk the merged distribution") {
  LatencyHistogram fast;
  LatencyHistogram slow;
  for (int i = 0; i < 99; ++i)
    fast.record(10);
  slow.record(5000);
  fast.merge(slow);
  CHECK(fast.total() == 100);
  CHECK(fast.percentile(0.5) == 10);
  CHECK(fast.percentile(0.99) == 10);
  const std::uint64_t worst = fast.percentile(1.0);
  CHECK(worst >= 5000);
  CHECK(worst <= 5000 + 5000 / 32);
}

TEST_CASE("values past the last doubling share the last bucket") {
  const std::uint64_t huge = std::uint64_t{1} << 40;
  CHECK(reported(huge) == reported(std::uint64_t{1} << 34));
  CHECK(reported(std::uint64_t{1} << 34) >= (std::uint64_t{1} << 34) - 1);
}

TEST_CASE("a percentile is the least value that q of the latencies do not exceed") {
  // 150 latencies, one of them slow: only 149/150 = 99.3% are fast, so p99.9 is the slow one.
  LatencyHistogram histogram;
  for (int i = 0; i < 149; ++i)
    histogram.record(10);
  histogram.record(20);
  CHECK(histogram.percentile(0.99) == 10);   // 148.5 of 150: the 149th
  CHECK(histogram.percentile(0.999) == 20);  // 149.85 of 150: the 150th
  CHECK(histogram.percentile(1.0) == 20);
  CHECK(histogram.percentile(0.0) == 10);

  // Values 1..20 (exact buckets): the q = k/20 percentile is k, whatever the rounding of q.
  LatencyHistogram steps;
  for (std::uint64_t micros = 1; micros <= 20; ++micros)
    steps.record(micros);
  for (std::uint64_t k = 1; k <= 20; ++k) {
    CAPTURE(k);
    CHECK(steps.percentile(static_cast<double>(k) / 20.0) == k);
    CHECK(steps.percentile(0.05 * static_cast<double>(k)) == k);
  }
  CHECK(steps.percentile(0.5) == 10);
  CHECK(steps.percentile(0.51) == 11);
}
