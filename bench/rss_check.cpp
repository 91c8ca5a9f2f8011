// The allocator's memory bounds, checked on the process's resident set:
//   - holding 1 GiB of live 16 KiB buffers (every page written) costs at most 10% over 1 GiB;
//   - once they are freed and the arena trimmed, RSS falls back under 64 MiB.
// Prints the figures and exits with status 1 when a bound is broken. Deterministic memory
// accounting, so ctest runs it (bench_rss_check).

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/pooled_allocator.hpp"

namespace {

constexpr std::size_t kBufferSize = 16 * 1024;
constexpr std::size_t kBufferCount = 65536;
constexpr std::int64_t kMiB = std::int64_t{1} << 20;
constexpr double kMaxOverhead = 0.10;
constexpr std::int64_t kMaxRssAfterTrim = 64 * kMiB;

std::int64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size_pages = 0;
  std::int64_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

double mib(std::int64_t bytes) {
  return static_cast<double>(bytes) / static_cast<double>(kMiB);
}

void print_metrics(const char* when) {
  const sluice::AllocatorMetrics metrics = sluice::PooledAllocator::metrics();
  std::printf(
      "  allocator %s: %lld live buffers, %.1f MiB live, %.1f MiB reserved in %lld chunks\n", when,
      static_cast<long long>(metrics.live_buffers), mib(metrics.live_bytes),
      mib(metrics.reserved_bytes), static_cast<long long>(metrics.chunks));
}

}  // namespace

int main() {
  // The buffers come from a thread arena, as they do on an event loop.
  sluice::PooledAllocator::ThreadArena arena;
  bool ok = true;

  const std::int64_t start = rss_bytes();
  std::printf("RSS at start:                      %8.1f MiB\n", mib(start));

  std::vector<sluice::Buffer> buffers;
  buffers.reserve(kBufferCount);
  for (std::size_t i = 0; i < kBufferCount; ++i) {
    sluice::Buffer buffer = sluice::Buffer::allocate(kBufferSize);
    const std::span<std::byte> bytes = buffer.writable_span();
    std::memset(bytes.data(), static_cast<int>(i & 0xff), kBufferSize);
    buffer.advance_writer(kBufferSize);
    buffers.push_back(std::move(buffer));
  }
  const std::int64_t held = rss_bytes();
  const auto payload = static_cast<std::int64_t>(kBufferSize * kBufferCount);
  const double overhead = static_cast<double>(held) / static_cast<double>(payload) - 1.0;
  const double held_overhead =
      static_cast<double>(held - start) / static_cast<double>(payload) - 1.0;
  std::printf("RSS with %zu live %zu KiB buffers: %8.1f MiB (%.1f MiB more than at start)\n",
              kBufferCount, kBufferSize / 1024, mib(held), mib(held - start));
  std::printf(
      "  overhead over 1 GiB of payload: %.2f%% of RSS (%.2f%% counting from start); "
      "bound %.0f%%\n",
      overhead * 100, held_overhead * 100, kMaxOverhead * 100);
  print_metrics("while held");
  if (overhead > kMaxOverhead) {
    std::printf("FAIL: holding 1 GiB of buffers costs more than %.0f%% over 1 GiB of RSS\n",
                kMaxOverhead * 100);
    ok = false;
  }

  buffers.clear();
  buffers.shrink_to_fit();
  const std::int64_t freed = rss_bytes();
  std::printf("RSS after freeing them:            %8.1f MiB\n", mib(freed));
  sluice::PooledAllocator::trim();
  const std::int64_t trimmed = rss_bytes();
  std::printf("RSS after PooledAllocator::trim(): %8.1f MiB (bound %.0f MiB)\n", mib(trimmed),
              mib(kMaxRssAfterTrim));
  print_metrics("after trim");
  if (trimmed >= kMaxRssAfterTrim) {
    std::printf("FAIL: RSS after free and trim is not under %.0f MiB\n", mib(kMaxRssAfterTrim));
    ok = false;
  }
  if (sluice::PooledAllocator::metrics().live_buffers != 0) {
    std::printf("FAIL: buffers still live after freeing them all\n");
    ok = false;
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
