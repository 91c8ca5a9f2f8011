// Allocation benchmarks: sluice's pooled allocator against glibc, jemalloc and mimalloc, in one
// binary and one run, so that --benchmark_format=json compares them by name:
//
//   BM_Alloc/<impl>/<size>     allocate a block of <size> bytes and free it, in a loop
//   BM_ServerPattern/<impl>    a window of 256 live blocks of mixed sizes; each iteration frees the
//                              oldest and allocates a new one; 5% of frees happen on another thread
//   BM_AllocRaw/sluice/<size>  PooledAllocator::allocate/deallocate without the Buffer handle
//
// <impl> is sluice, glibc, jemalloc or mimalloc. The benchmarks run on the main thread, which
// holds a PooledAllocator::ThreadArena as an event-loop thread does. Every implementation goes
// through the same template with the same per-iteration work (see allocators.hpp).
//
// Measure pinned, with repetitions, e.g.
//   taskset -c 1 sluice-bench-alloc --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <time.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "allocators.hpp"

namespace sluice::bench {
namespace {

constexpr std::int64_t kSizes[] = {64, 1024, 16 * 1024, 64 * 1024};

template <typename Impl>
void BM_Alloc(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    // Opaque every iteration, so that no allocator gets its size-class lookup hoisted.
    std::size_t size = bytes;
    benchmark::DoNotOptimize(size);
    typename Impl::Handle handle = Impl::make(size);
    benchmark::DoNotOptimize(Impl::data(handle));
  }
}

void BM_AllocRaw(benchmark::State& state) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    std::size_t size = bytes;
    benchmark::DoNotOptimize(size);
    const PooledAllocator::Allocation block = PooledAllocator::allocate(size);
    benchmark::DoNotOptimize(block.data);
    PooledAllocator::deallocate(block.header);
  }
}

// --- the server pattern --------------------------------------------------------------------

constexpr std::size_t kWindow = 256;
constexpr std::size_t kScriptLength = 4096;  // a power of two
constexpr std::size_t kCollectEvery = 64;
constexpr std::size_t kRingCapacity = 4096;  // a power of two
// The foreign thread sleeps between drains rather than spinning, so that when both threads are
// pinned to one core it does not take half of it from the thread being measured.
constexpr auto kForeignNap = std::chrono::microseconds(100);

struct Step {
  std::uint32_t size;
  bool remote;  // this step's free happens on the foreign thread
};

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// The same sequence for every implementation: sizes from 64 B to 64 KiB, mostly small, the way
// a server's reads, frames and responses are.
const std::array<Step, kScriptLength>& script() {
  static const auto steps = [] {
    std::array<Step, kScriptLength> table{};
    std::uint64_t seed = 0x5eed5111ce;
    auto uniform = [&seed](std::uint32_t low, std::uint32_t high) {
      return low + static_cast<std::uint32_t>(splitmix64(seed) % (high - low + 1));
    };
    for (Step& step : table) {
      const auto bucket = splitmix64(seed) % 100;
      if (bucket < 50) {
        step.size = uniform(64, 511);
      } else if (bucket < 80) {
        step.size = uniform(512, 4095);
      } else if (bucket < 95) {
        step.size = uniform(4096, 16383);
      } else {
        step.size = uniform(16384, 65536);
      }
      step.remote = splitmix64(seed) % 100 < 5;
    }
    return table;
  }();
  return steps;
}

// Single-producer single-consumer ring carrying handles to the foreign thread.
template <typename T>
class SpscRing {
 public:
  void push(T&& value) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    while (tail - head_.load(std::memory_order_acquire) == kRingCapacity)
      std::this_thread::yield();
    slots_[tail & (kRingCapacity - 1)] = std::move(value);
    tail_.store(tail + 1, std::memory_order_release);
  }
  bool pop(T& out) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return false;
    out = std::move(slots_[head & (kRingCapacity - 1)]);
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::array<T, kRingCapacity> slots_{};
};

std::int64_t process_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// Builds a block in `slot`, whose handle has been destroyed. The handle is initialised straight
// from make()'s result, with no move. noexcept: if an allocation throws, the window holds a
// destroyed handle, so the run ends there.
template <typename Impl>
void remake(typename Impl::Handle* slot, std::size_t size) noexcept {
  ::new (static_cast<void*>(slot)) typename Impl::Handle(Impl::make(size));
}

template <typename Impl>
void BM_ServerPattern(benchmark::State& state) {
  using Handle = typename Impl::Handle;
  const auto& steps = script();
  auto ring = std::make_unique<SpscRing<Handle>>();
  std::atomic<bool> stop{false};
  // No arena of its own: for sluice this is a foreign thread, its frees go to the owner's
  // remote-free list.
  std::thread foreign([&ring, &stop] {
    for (;;) {
      const bool last = stop.load(std::memory_order_acquire);
      for (Handle handle; ring->pop(handle);)
        handle = Handle();
      if (last) return;
      std::this_thread::sleep_for(kForeignNap);
    }
  });

  std::vector<Handle> window(kWindow);
  for (std::size_t i = 0; i < kWindow; ++i)
    window[i] = Impl::make(steps[i].size);

  std::size_t i = kWindow;
  const std::int64_t cpu_start = process_cpu_ns();
  for (auto _ : state) {
    const Step step = steps[i & (kScriptLength - 1)];
    Handle* slot = &window[i & (kWindow - 1)];
    if (step.remote) ring->push(std::move(*slot));
    // Destroyed and rebuilt in place rather than assigned, so that what is timed is the
    // allocator's free and allocation, not moves of the handle.
    std::destroy_at(slot);
    std::size_t size = step.size;
    benchmark::DoNotOptimize(size);
    remake<Impl>(slot, size);
    // A server writes into what it allocates.
    std::memcpy(Impl::data(*slot), &i, sizeof i);
    if (++i % kCollectEvery == 0) Impl::collect();
  }
  const std::int64_t cpu_ns = process_cpu_ns() - cpu_start;

  window.clear();
  stop.store(true, std::memory_order_release);
  foreign.join();
  Impl::collect();

  // Both threads' CPU time: the foreign thread's frees are part of the pattern's cost.
  state.counters["process_cpu_ns"] =
      benchmark::Counter(static_cast<double>(cpu_ns), benchmark::Counter::kAvgIterations);
  if (const std::int64_t live = Impl::live_blocks(); live > 0) {
    state.SkipWithError(("ended with " + std::to_string(live) + " blocks live").c_str());
  }
}

template <typename Impl>
void register_alloc(std::int64_t size) {
  benchmark::RegisterBenchmark(("BM_Alloc/" + std::string(Impl::kName)).c_str(), BM_Alloc<Impl>)
      ->Arg(size);
}

template <typename Impl>
void register_server_pattern() {
  benchmark::RegisterBenchmark(("BM_ServerPattern/" + std::string(Impl::kName)).c_str(),
                               BM_ServerPattern<Impl>);
}

// Keeps the core busy for a moment before the first benchmark, so that the first one measured
// (sluice's, as registered) does not pay for a core still waking up from idle: without this, the
// first benchmark of a run here measured up to 50% slower than the same benchmark run later.
void warm_up_core() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  std::uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until)
    benchmark::DoNotOptimize(++spin);
}

void register_benchmarks() {
  // Implementations side by side for each size, so that drift on a shared machine hits them
  // alike.
  for (const std::int64_t size : kSizes) {
    register_alloc<SluiceAlloc>(size);
    register_alloc<GlibcAlloc>(size);
    register_alloc<JemallocAlloc>(size);
    register_alloc<MimallocAlloc>(size);
  }
  register_server_pattern<SluiceAlloc>();
  register_server_pattern<GlibcAlloc>();
  register_server_pattern<JemallocAlloc>();
  register_server_pattern<MimallocAlloc>();
  for (const std::int64_t size : kSizes) {
    benchmark::RegisterBenchmark("BM_AllocRaw/sluice", BM_AllocRaw)->Arg(size);
  }
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  try {
    std::fprintf(stderr, "allocators: %s\n", sluice::bench::resolve_allocators().c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
  // Every benchmark runs on this thread, which owns an arena as an event loop's thread does.
  sluice::PooledAllocator::ThreadArena arena;
  sluice::bench::warm_up_core();
  sluice::bench::register_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
