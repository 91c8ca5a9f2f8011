// The allocator and Buffer across threads: blocks freed on threads that do not own them, thread
// arenas that end while their blocks live on elsewhere, and storage shared by handles that die
// concurrently on several threads. Meant for ThreadSanitizer as much as for the assertions.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/event_loop.hpp"

using sluice::Buffer;
using sluice::PooledAllocator;

namespace {

constexpr std::int64_t kReservedBoundAfterTrim = std::int64_t{64} << 20;

// Slab sizes, page runs from 32 KiB to 1 MiB, and huge mappings.
constexpr std::size_t kSizes[] = {
    1,     16,    48,    100,    1000,   4096,    16384,         32768,
    32769, 40000, 65536, 100000, 500000, 1 << 20, (1 << 20) + 1, 3 << 20};

// A closable multi-producer, multi-consumer queue.
template <typename T>
class Queue {
 public:
  void push(T value) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(value));
    }
    ready_.notify_one();
  }
  // Waits for an item; nullopt once the queue is closed and drained.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
};

std::uint8_t pattern(std::uint64_t tag, std::size_t i) {
  return static_cast<std::uint8_t>((tag * 131 + i * 7) & 0xff);
}

// Fills the first and last bytes (all of a small block) so that the reader can tell whether the
// block was handed to anyone else in between.
void stamp(std::byte* data, std::size_t size, std::uint64_t tag) {
  const std::size_t edge = std::min<std::size_t>(size, 256);
  for (std::size_t i = 0; i < edge; ++i)
    data[i] = std::byte{pattern(tag, i)};
  for (std::size_t i = size - edge; i < size; ++i)
    data[i] = std::byte{pattern(tag, i)};
}

bool stamped(const std::byte* data, std::size_t size, std::uint64_t tag) {
  const std::size_t edge = std::min<std::size_t>(size, 256);
  for (std::size_t i = 0; i < edge; ++i) {
    if (data[i] != std::byte{pattern(tag, i)}) return false;
  }
  for (std::size_t i = size - edge; i < size; ++i) {
    if (data[i] != std::byte{pattern(tag, i)}) return false;
  }
  return true;
}

struct Sent {
  PooledAllocator::Allocation block;
  std::size_t size;
  std::uint64_t tag;
};

// Allocates every size a few times on one thread (with or without an arena of its own) and
// frees each block on another.
void allocate_here_free_there(bool with_arena) {
  Queue<Sent> queue;
  std::atomic<int> corrupt{0};
  std::thread freer([&] {
    while (auto sent = queue.pop()) {
      if (!stamped(sent->block.data, sent->size, sent->tag)) ++corrupt;
      PooledAllocator::deallocate(sent->block.header);
    }
  });
  std::thread owner([&] {
    std::optional<PooledAllocator::ThreadArena> arena;
    if (with_arena) arena.emplace();
    std::uint64_t tag = 0;
    for (int round = 0; round < 20; ++round) {
      for (std::size_t size : kSizes) {
        const auto block = PooledAllocator::allocate(size);
        stamp(block.data, size, ++tag);
        queue.push({block, size, tag});
      }
      // Take back what the freer has returned so far, while it keeps freeing.
      PooledAllocator::collect();
    }
    queue.close();
    freer.join();
    PooledAllocator::collect();
  });
  owner.join();
  CHECK(corrupt == 0);
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

}  // namespace

TEST_CASE("blocks allocated under a thread arena can be freed on another thread") {
  allocate_here_free_there(true);
}

TEST_CASE("blocks allocated from the shared arena can be freed on another thread") {
  allocate_here_free_there(false);
}

TEST_CASE("the owner reclaims remote frees that race with its own allocations") {
  if constexpr (SLUICE_POOL) {
    PooledAllocator::ThreadArena arena;
    const auto before = PooledAllocator::metrics();
    Queue<PooledAllocator::Allocation> queue;
    std::thread freer([&] {
      while (auto block = queue.pop())
        PooledAllocator::deallocate(block->header);
    });
    for (int i = 0; i < 20000; ++i) {
      queue.push(PooledAllocator::allocate(kSizes[static_cast<std::size_t>(i) % 8]));
      if (i % 64 == 0) PooledAllocator::collect();
    }
    queue.close();
    freer.join();
    PooledAllocator::collect();
    const auto after = PooledAllocator::metrics();
    CHECK(after.live_buffers == 0);
    // Every block came back through the remote list, whether collected early or late.
    CHECK(after.remote_frees - before.remote_frees == 20000);
  }
}

TEST_CASE("producers with arenas send buffers to consumers that free them") {
  constexpr int kProducers = 3;
  constexpr int kConsumers = 2;
  constexpr int kPerProducer = 3000;
  Queue<Buffer> queue;
  std::atomic<int> received{0};
  std::atomic<int> corrupt{0};
  std::atomic<bool> done{false};

  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&, c] {
      // Hold some buffers for a while, so that frees interleave with later allocations.
      std::deque<Buffer> held;
      while (auto buffer = queue.pop()) {
        const std::uint64_t tag = buffer->read_u64();
        const std::size_t size = buffer->read_u32();
        if (buffer->readable_bytes() != size ||
            !stamped(buffer->readable_span().data(), size, tag)) {
          ++corrupt;
        }
        ++received;
        held.push_back(std::move(*buffer));
        if (held.size() > static_cast<std::size_t>(4 + 8 * c)) held.pop_front();
      }
    });
  }
  // Reading metrics while everything runs must be safe (and is checked by TSan).
  std::thread monitor([&] {
    while (!done.load()) {
      const auto metrics = PooledAllocator::metrics();
      if (metrics.live_buffers < 0) ++corrupt;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      PooledAllocator::ThreadArena arena;
      for (int i = 0; i < kPerProducer; ++i) {
        // Mostly small, now and then a run or a huge buffer.
        const std::size_t size = i % 50 == 0 ? kSizes[8 + static_cast<std::size_t>(i / 50) % 8]
                                             : kSizes[static_cast<std::size_t>(i) % 7];
        const std::uint64_t tag =
            static_cast<std::uint64_t>(p) << 32 | static_cast<std::uint64_t>(i);
        Buffer buffer = Buffer::allocate(size + 12);
        buffer.write_u64(tag);
        buffer.write_u32(static_cast<std::uint32_t>(size));
        stamp(buffer.writable_span().data(), size, tag);
        buffer.advance_writer(size);
        queue.push(std::move(buffer));
        if (i % 32 == 0) PooledAllocator::collect();
      }
      // The arena ends here, probably with buffers still queued or held: they stay valid.
    });
  }
  for (auto& producer : producers)
    producer.join();
  queue.close();
  for (auto& consumer : consumers)
    consumer.join();
  done = true;
  monitor.join();
  CHECK(received == kProducers * kPerProducer);
  CHECK(corrupt == 0);
  const auto metrics = PooledAllocator::metrics();
  CHECK(metrics.live_buffers == 0);
  if constexpr (SLUICE_POOL) CHECK(metrics.arenas == 0);
  PooledAllocator::trim();
  CHECK(PooledAllocator::metrics().reserved_bytes < kReservedBoundAfterTrim);
}

TEST_CASE("an arena whose thread ended is reclaimed once its last buffer is freed") {
  const auto before = PooledAllocator::metrics();
  std::vector<Buffer> orphans;
  std::thread([&] {
    PooledAllocator::ThreadArena arena;
    std::uint64_t tag = 0;
    for (int round = 0; round < 10; ++round) {
      for (std::size_t size : kSizes) {
        Buffer buffer = Buffer::allocate(size);
        stamp(buffer.writable_span().data(), size, ++tag);
        buffer.advance_writer(size);
        orphans.push_back(std::move(buffer));
      }
    }
  }).join();
  const std::size_t count = orphans.size();
  auto during = PooledAllocator::metrics();
  CHECK(during.live_buffers == before.live_buffers + static_cast<std::int64_t>(count));
  if constexpr (SLUICE_POOL) CHECK(during.arenas == before.arenas + 1);  // abandoned, not gone

  // The buffers stay intact after their arena's thread has gone.
  std::uint64_t tag = 0;
  for (const Buffer& buffer : orphans) {
    REQUIRE(stamped(buffer.readable_span().data(), buffer.readable_bytes(), ++tag));
  }
  // Free half here and half on another thread, while a third thread allocates.
  std::vector<Buffer> other_half(
      std::make_move_iterator(orphans.begin() + static_cast<std::ptrdiff_t>(count / 2)),
      std::make_move_iterator(orphans.end()));
  orphans.resize(count / 2);
  std::thread freer([&] { other_half.clear(); });
  std::thread allocator([] {
    for (int i = 0; i < 2000; ++i)
      Buffer::allocate(kSizes[static_cast<std::size_t>(i) % 8]);
  });
  orphans.clear();
  freer.join();
  allocator.join();

  const auto after = PooledAllocator::metrics();
  CHECK(after.live_buffers == before.live_buffers);
  CHECK(after.arenas == before.arenas);
  PooledAllocator::trim();
  CHECK(PooledAllocator::metrics().reserved_bytes < kReservedBoundAfterTrim);
}

TEST_CASE("many short-lived thread arenas leave nothing behind") {
  const auto before = PooledAllocator::metrics();
  Queue<Buffer> kept;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      PooledAllocator::ThreadArena arena;
      for (int i = 0; i < 200; ++i) {
        Buffer buffer = Buffer::allocate(kSizes[static_cast<std::size_t>(i + t) % 12]);
        buffer.write_u32(static_cast<std::uint32_t>(i));
        if (i % 10 == 0) kept.push(std::move(buffer));  // outlives the arena
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  kept.close();
  int count = 0;
  while (auto buffer = kept.pop()) {
    CHECK(buffer->read_u32() % 10 == 0);
    ++count;
  }
  CHECK(count == 16 * 20);
  const auto after = PooledAllocator::metrics();
  CHECK(after.live_buffers == before.live_buffers);
  CHECK(after.arenas == before.arenas);
}

namespace {

// Hands handles on one storage to several threads, which check the bytes and drop them while the
// owner drops its own: the last of them to go frees the storage, on whichever thread that is.
struct Handle {
  Buffer buffer;
  std::uint32_t round;
  std::size_t offset;  // where the handle's readable bytes start in the original buffer
};

void share_across_threads(bool owner_has_arena) {
  constexpr int kWorkers = 4;
  constexpr std::uint32_t kRounds = 300;
  std::optional<PooledAllocator::ThreadArena> arena;
  if (owner_has_arena) arena.emplace();
  std::vector<Queue<Handle>> queues(kWorkers);
  std::atomic<int> corrupt{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      while (auto handle = queues[static_cast<std::size_t>(w)].pop()) {
        // pattern() repeats every 256 bytes: compare whole stretches against two periods of it.
        std::byte periods[512];
        for (std::size_t k = 0; k < 512; ++k)
          periods[k] = std::byte{pattern(handle->round, k)};
        const auto bytes = handle->buffer.readable_span();
        for (std::size_t i = 0; i < bytes.size(); i += 256) {
          const std::size_t length = std::min<std::size_t>(256, bytes.size() - i);
          if (std::memcmp(bytes.data() + i, periods + (handle->offset + i) % 256, length) != 0) {
            ++corrupt;
            break;
          }
        }
        if (w % 2 == 0) {
          // Share further on this thread before letting go.
          Buffer again = handle->buffer.share();
          Buffer part = again.read_slice(again.readable_bytes() / 2);
          if (part.use_count() < 3) ++corrupt;
        }
      }
    });
  }
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    const std::size_t size = kSizes[2 + round % 10] + 64;  // slab and run sizes
    Buffer buffer = Buffer::allocate(size);
    const auto room = buffer.writable_span();
    for (std::size_t i = 0; i < size; ++i)
      room[i] = std::byte{pattern(round, i)};
    buffer.advance_writer(size);
    Buffer shared = buffer.share();
    shared.skip(48);
    Handle handles[kWorkers] = {{buffer.slice(), round, 0},
                                {buffer.slice(16, size - 16), round, 16},
                                {buffer.slice(32, 32), round, 32},
                                {std::move(shared), round, 48}};
    // Rotate who gets which handle, so that each kind is dropped on every thread.
    for (std::uint32_t w = 0; w < kWorkers; ++w) {
      queues[w].push(std::move(handles[(w + round) % kWorkers]));
    }
    // `buffer` dies here, racing with the workers.
  }
  for (auto& queue : queues)
    queue.close();
  for (auto& worker : workers)
    worker.join();
  PooledAllocator::collect();
  CHECK(corrupt == 0);
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

}  // namespace

TEST_CASE("handles on one storage may die concurrently on different threads") {
  SUBCASE("owner with a thread arena") {
    share_across_threads(true);
  }
  SUBCASE("owner on the shared arena") {
    share_across_threads(false);
  }
}

TEST_CASE("the last of many concurrently released slices frees the storage exactly once") {
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  PooledAllocator::ThreadArena arena;
  for (int round = 0; round < kRounds; ++round) {
    Buffer buffer = Buffer::allocate(kSizes[static_cast<std::size_t>(round) % 10]);
    buffer.write_u32(static_cast<std::uint32_t>(round));
    std::vector<Buffer> slices;
    for (int t = 0; t < kThreads; ++t)
      slices.push_back(buffer.slice(0, 4));
    std::atomic<int> go{0};
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        Buffer mine = std::move(slices[static_cast<std::size_t>(t)]);
        ++go;
        while (go.load() < kThreads)
          std::this_thread::yield();
        if (mine.get_u32(0) != static_cast<std::uint32_t>(round)) ++wrong;
        // Dropped here, at about the same moment on every thread.
      });
    }
    buffer = Buffer();
    for (auto& thread : threads)
      thread.join();
    REQUIRE(wrong == 0);
    PooledAllocator::collect();
    REQUIRE(PooledAllocator::metrics().live_buffers == 0);
  }
}

TEST_CASE("a handle that finds itself unshared may rewrite bytes another thread read") {
  // A slice goes to another thread, which reads it and drops it; the owner sees its storage
  // unshared and moves its readable bytes over the ones the slice covered. Nothing but the
  // reference count orders the other thread's reads before the owner's writes.
  PooledAllocator::ThreadArena arena;
  for (int round = 0; round < 50; ++round) {
    Buffer buffer = Buffer::allocate(128);
    for (int i = 0; i < 64; ++i)
      buffer.write_u8(static_cast<std::uint8_t>(round + i));
    Buffer slice = buffer.read_slice(32);
    std::atomic<int> sum{0};
    std::thread reader([&sum, slice = std::move(slice)]() mutable {
      int total = 0;
      for (std::byte byte : slice.readable_span())
        total += std::to_integer<int>(byte);
      sum.store(total, std::memory_order_relaxed);
      slice = Buffer();
    });
    while (buffer.is_shared())
      std::this_thread::yield();
    buffer.discard_read_bytes();
    CHECK(buffer.get_u8(0) == static_cast<std::uint8_t>(round + 32));
    reader.join();
    int expected = 0;
    for (int i = 0; i < 32; ++i)
      expected += static_cast<std::uint8_t>(round + i);
    CHECK(sum.load() == expected);
  }
}

// The count of remote frees lived in each arena and left the metrics with it: once a thread
// arena ended (deleted at once when empty, or later once its last buffer came back), the frees
// it had reclaimed were no longer counted and the total went down.
TEST_CASE("remote frees stay counted after the arenas that reclaimed them are gone") {
  if constexpr (SLUICE_POOL) {
    const auto before = PooledAllocator::metrics();
    std::optional<Buffer> outliving;
    std::thread([&] {
      PooledAllocator::ThreadArena arena;
      Buffer freed_elsewhere = Buffer::allocate(100);
      std::thread([moved = std::move(freed_elsewhere)] {}).join();
      PooledAllocator::collect();
      CHECK(PooledAllocator::metrics().remote_frees == before.remote_frees + 1);
      outliving = Buffer::allocate(200);
    }).join();
    // The arena is abandoned; its last buffer is freed here, on a thread that does not own it.
    outliving.reset();
    const auto after = PooledAllocator::metrics();
    CHECK(after.arenas == before.arenas);
    CHECK(after.remote_frees == before.remote_frees + 2);
  }
}

// An arena whose thread had ended kept what a live arena keeps for reuse (cached runs, spare
// slabs, an empty chunk in reserve) for as long as one of its buffers lived, trim() or not,
// though no thread would ever allocate from it again.
TEST_CASE("trim returns what an ended thread's arena holds unused while a buffer lives on") {
  if constexpr (SLUICE_POOL) {
    PooledAllocator::trim();
    const auto before = PooledAllocator::metrics();
    std::optional<Buffer> survivor;
    std::vector<Buffer> runs;
    std::thread([&] {
      PooledAllocator::ThreadArena arena;
      survivor = Buffer::allocate(100);
      // More 112 KiB runs than one chunk holds, so that a second chunk empties when they go.
      for (int i = 0; i < 40; ++i)
        runs.push_back(Buffer::allocate(100000));
    }).join();
    CHECK(PooledAllocator::metrics().chunks == before.chunks + 2);
    runs.clear();
    PooledAllocator::trim();
    const auto after = PooledAllocator::metrics();
    CHECK(after.live_buffers == before.live_buffers + 1);
    CHECK(after.chunks == before.chunks + 1);
    CHECK(after.reserved_bytes == before.reserved_bytes + (4 << 20));
    survivor.reset();
    CHECK(PooledAllocator::metrics().arenas == before.arenas);
  }
}

// An idle loop runs no iterations, so only a timer can give back what a finished burst left
// in its arena: without one, the memory stayed mapped for good.
TEST_CASE("an event loop gives back the memory of a finished burst by itself, idle or not") {
  if constexpr (SLUICE_POOL) {
    PooledAllocator::trim();
    const auto before = PooledAllocator::metrics();
    PooledAllocator::set_loop_trim_period(std::chrono::milliseconds(20));
    sluice::EventLoop loop("trim-burst");
    loop.start();
    PooledAllocator::set_loop_trim_period(std::chrono::seconds(10));
    std::promise<std::int64_t> burst_chunks;
    loop.execute([&burst_chunks] {
      std::vector<Buffer> burst;
      for (int round = 0; round < 40; ++round) {
        for (const std::size_t size : {std::size_t{64}, std::size_t{4000}, std::size_t{100000}})
          burst.push_back(Buffer::allocate(size));
      }
      burst.clear();  // cached and spared by the arena, still mapped
      burst_chunks.set_value(PooledAllocator::metrics().chunks);
    });
    CHECK(burst_chunks.get_future().get() > before.chunks);
    bool given_back = false;
    for (int poll = 0; poll < 1000 && !given_back; ++poll) {
      given_back = PooledAllocator::metrics().reserved_bytes == before.reserved_bytes;
      if (!given_back) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(given_back);
    CHECK(PooledAllocator::metrics().live_buffers == before.live_buffers);
  }
}
