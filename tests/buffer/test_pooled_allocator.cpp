#include <doctest/doctest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "sluice/buffer/pooled_allocator.hpp"

using sluice::PooledAllocator;

namespace {

struct Block {
  PooledAllocator::Allocation allocation;
  explicit Block(std::size_t bytes) : allocation(PooledAllocator::allocate(bytes)) {}
  ~Block() { PooledAllocator::deallocate(allocation.header); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
};

}  // namespace

TEST_CASE("blocks of every kind are usable to their capacity and counted while live") {
  PooledAllocator::ThreadArena arena;
  const auto before = PooledAllocator::metrics();
  for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{64}, std::size_t{1000},
                            std::size_t{16384}, std::size_t{32768}, std::size_t{32769},
                            std::size_t{65536}, std::size_t{1} << 20, (std::size_t{1} << 20) + 1,
                            std::size_t{5} << 20}) {
    CAPTURE(bytes);
    Block block(bytes);
    REQUIRE(block.allocation.capacity >= bytes);
    std::memset(block.allocation.data, 0xab, block.allocation.capacity);
    const auto during = PooledAllocator::metrics();
    CHECK(during.live_buffers == before.live_buffers + 1);
    CHECK(during.live_bytes >= before.live_bytes + static_cast<std::int64_t>(bytes));
  }
  CHECK(PooledAllocator::metrics().live_buffers == before.live_buffers);
}

TEST_CASE("many live blocks do not overlap") {
  PooledAllocator::ThreadArena arena;
  std::vector<PooledAllocator::Allocation> blocks;
  for (int i = 0; i < 5000; ++i) {
    const std::size_t bytes = static_cast<std::size_t>((i * 7919) % 70000 + 1);
    auto block = PooledAllocator::allocate(bytes);
    std::memset(block.data, i & 0xff, bytes);
    blocks.push_back(block);
  }
  for (int i = 0; i < 5000; ++i) {
    const std::size_t bytes = static_cast<std::size_t>((i * 7919) % 70000 + 1);
    const auto* data = reinterpret_cast<const unsigned char*>(blocks[static_cast<std::size_t>(i)].data);
    REQUIRE(data[0] == (i & 0xff));
    REQUIRE(data[bytes - 1] == (i & 0xff));
  }
  for (auto& block : blocks) PooledAllocator::deallocate(block.header);
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

TEST_CASE("a block freed on another thread is reclaimed by its owner") {
  PooledAllocator::ThreadArena arena;
  auto block = PooledAllocator::allocate(100);
  std::thread([&] { PooledAllocator::deallocate(block.header); }).join();
  CHECK(PooledAllocator::metrics().live_buffers == 1);  // queued, not yet reclaimed
  PooledAllocator::collect();
  const auto after = PooledAllocator::metrics();
  CHECK(after.live_buffers == 0);
  CHECK(after.remote_frees >= 1);
}

TEST_CASE("trim returns empty chunks to the OS") {
  PooledAllocator::ThreadArena arena;
  std::vector<PooledAllocator::Allocation> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(PooledAllocator::allocate(16384));
  CHECK(PooledAllocator::metrics().reserved_bytes >= 1000 * 16384);
  for (auto& block : blocks) PooledAllocator::deallocate(block.header);
  PooledAllocator::trim();
  CHECK(PooledAllocator::metrics().chunks == 0);
}
