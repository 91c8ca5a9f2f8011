#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/detail/asan.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/core/config.hpp"
#include "support/child_process.hpp"

using sluice::Buffer;
using sluice::PooledAllocator;
using sluice::detail::size_class_of;

#if defined(SLUICE_ASAN)
// With the pool off every buffer comes from malloc, and ASan's malloc aborts the process when
// the OS refuses memory; the out-of-memory test needs it to return null as malloc does.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1";
}
#endif

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
  for (std::size_t bytes :
       {std::size_t{0}, std::size_t{1}, std::size_t{64}, std::size_t{1000}, std::size_t{16384},
        std::size_t{32768}, std::size_t{32769}, std::size_t{65536}, std::size_t{1} << 20,
        (std::size_t{1} << 20) + 1, std::size_t{5} << 20}) {
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
    const auto* data =
        reinterpret_cast<const unsigned char*>(blocks[static_cast<std::size_t>(i)].data);
    REQUIRE(data[0] == (i & 0xff));
    REQUIRE(data[bytes - 1] == (i & 0xff));
  }
  for (auto& block : blocks)
    PooledAllocator::deallocate(block.header);
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

TEST_CASE("a block freed on another thread is reclaimed by its owner") {
  PooledAllocator::ThreadArena arena;
  auto block = PooledAllocator::allocate(100);
  std::thread([&] { PooledAllocator::deallocate(block.header); }).join();
  if constexpr (SLUICE_POOL) {
    CHECK(PooledAllocator::metrics().live_buffers == 1);  // queued, not yet reclaimed
  }
  PooledAllocator::collect();
  const auto after = PooledAllocator::metrics();
  CHECK(after.live_buffers == 0);
  if constexpr (SLUICE_POOL) CHECK(after.remote_frees >= 1);
}

TEST_CASE("trim returns empty chunks to the OS") {
  PooledAllocator::ThreadArena arena;
  std::vector<PooledAllocator::Allocation> blocks;
  for (int i = 0; i < 1000; ++i)
    blocks.push_back(PooledAllocator::allocate(16384));
  if constexpr (SLUICE_POOL) CHECK(PooledAllocator::metrics().reserved_bytes >= 1000 * 16384);
  for (auto& block : blocks)
    PooledAllocator::deallocate(block.header);
  PooledAllocator::trim();
  CHECK(PooledAllocator::metrics().chunks == 0);
}

TEST_CASE("metrics count live blocks per size class") {
  PooledAllocator::ThreadArena arena;
  const auto before = PooledAllocator::metrics();
  Block small_a(100);
  Block small_b(100);
  Block small_c(100);
  Block run_a(40000);
  Block run_b(40960);
  Block huge(3 << 20);
  const auto during = PooledAllocator::metrics();
  const unsigned small_class = size_class_of(100);
  const unsigned run_class = size_class_of(40000);
  CHECK(run_class == size_class_of(40960));
  CHECK(during.live_per_class[small_class] == before.live_per_class[small_class] + 3);
  CHECK(during.live_per_class[run_class] == before.live_per_class[run_class] + 2);
  CHECK(during.huge_buffers == before.huge_buffers + 1);
  CHECK(during.live_buffers == before.live_buffers + 6);
  std::int64_t per_class_total = 0;
  for (auto live : during.live_per_class)
    per_class_total += live;
  CHECK(per_class_total + during.huge_buffers == during.live_buffers);
  if constexpr (SLUICE_POOL) {
    // The pool counts whole blocks: 3 x 112 + 2 x 40 KiB + the huge mapping.
    CHECK(during.live_bytes - before.live_bytes == 3 * 112 + 2 * 40960 + (3 << 20));
  } else {
    CHECK(during.live_bytes - before.live_bytes == 3 * 100 + 40000 + 40960 + (3 << 20));
  }
  const std::string text = during.to_string();
  CHECK(text.find("live " + std::to_string(during.live_buffers) + " buffers") != std::string::npos);
  CHECK(text.find("(    112 B): 3 live") != std::string::npos);
}

TEST_CASE("huge buffers are mappings of their own, unmapped when freed") {
  const auto before = PooledAllocator::metrics();
  {
    Block huge((8 << 20) + 1);
    CHECK(huge.allocation.capacity >= (8 << 20) + 1);
    const auto during = PooledAllocator::metrics();
    CHECK(during.huge_buffers == before.huge_buffers + 1);
    if constexpr (SLUICE_POOL) {
      CHECK(during.reserved_bytes - before.reserved_bytes >= (8 << 20) + 1);
      CHECK(during.reserved_bytes - before.reserved_bytes <= (8 << 20) + 4096);
    }
  }
  const auto after = PooledAllocator::metrics();
  CHECK(after.huge_buffers == before.huge_buffers);
  CHECK(after.reserved_bytes == before.reserved_bytes);
}

TEST_CASE("remote frees are counted when the owner reclaims them") {
  if constexpr (SLUICE_POOL) {
    PooledAllocator::ThreadArena arena;
    std::vector<PooledAllocator::Allocation> blocks;
    for (std::size_t bytes : {16, 100, 1000, 30000, 40000, 500000}) {
      blocks.push_back(PooledAllocator::allocate(bytes));
    }
    const auto before = PooledAllocator::metrics();
    std::thread([&] {
      for (auto& block : blocks)
        PooledAllocator::deallocate(block.header);
    }).join();
    const auto queued = PooledAllocator::metrics();
    CHECK(queued.live_buffers == before.live_buffers);
    CHECK(queued.remote_frees == before.remote_frees);
    PooledAllocator::collect();
    const auto after = PooledAllocator::metrics();
    CHECK(after.live_buffers == before.live_buffers - 6);
    CHECK(after.remote_frees == before.remote_frees + 6);
  }
}

TEST_CASE("a freed block is handed out again by its arena") {
  if constexpr (SLUICE_POOL) {
    PooledAllocator::ThreadArena arena;
    for (std::size_t bytes : {24, 5000, 100000}) {
      CAPTURE(bytes);
      auto first = PooledAllocator::allocate(bytes);
      PooledAllocator::deallocate(first.header);
      auto second = PooledAllocator::allocate(bytes);
      CHECK(second.data == first.data);
      PooledAllocator::deallocate(second.header);
    }
  }
}

TEST_CASE("a thread can hold only one thread arena at a time") {
  CHECK_FALSE(PooledAllocator::thread_has_arena());
  {
    PooledAllocator::ThreadArena arena;
    CHECK(PooledAllocator::thread_has_arena());
    CHECK_THROWS_AS(PooledAllocator::ThreadArena(), std::logic_error);
    CHECK(PooledAllocator::thread_has_arena());
  }
  CHECK_FALSE(PooledAllocator::thread_has_arena());
  PooledAllocator::ThreadArena again;
  CHECK(PooledAllocator::thread_has_arena());
}

// Destroyed on another thread, the arena took that thread's own (or, with none there,
// dereferenced null): a child process shows the abort and its message instead.
TEST_CASE("a thread arena destroyed off its thread stops the process, saying why") {
  const sluice::test::ChildOutcome child = sluice::test::run_in_child([] {
    auto* arena = new PooledAllocator::ThreadArena();
    std::thread([arena] { delete arena; }).join();
  });
  INFO("child's stderr: " << child.stderr_text);
  CHECK(child.aborted());
  CHECK(child.stderr_text.find("ThreadArena destroyed off the thread that made it") !=
        std::string::npos);
}

// Memory is reserved a 4 MiB chunk at a time, so the bound is checked on enough buffers (75
// MiB) that rounding up to a whole chunk is small next to them; bench/rss_check.cpp checks the
// same bound on 1 GiB in RSS.
TEST_CASE("reserved memory for 4800 live 16 KiB buffers is within 10% of their size") {
  if constexpr (SLUICE_POOL) {
    constexpr int kCount = 4800;
    PooledAllocator::ThreadArena arena;
    PooledAllocator::trim();
    const auto before = PooledAllocator::metrics();
    std::vector<Buffer> buffers;
    for (int i = 0; i < kCount; ++i)
      buffers.push_back(Buffer::allocate(16384));
    const auto during = PooledAllocator::metrics();
    const std::int64_t payload = std::int64_t{kCount} * 16384;
    const std::int64_t reserved = during.reserved_bytes - before.reserved_bytes;
    CAPTURE(during.to_string());
    CHECK(reserved >= payload);
    CHECK(reserved * 10 <= payload * 11);
  }
}

TEST_CASE("absurd sizes throw SizeOverflowError") {
  CHECK_THROWS_AS(PooledAllocator::allocate(std::size_t{1} << 50), sluice::SizeOverflowError);
  CHECK_THROWS_AS(PooledAllocator::allocate(static_cast<std::size_t>(-1)),
                  sluice::SizeOverflowError);
  {
    PooledAllocator::ThreadArena arena;
    CHECK_THROWS_AS(PooledAllocator::allocate(std::size_t{1} << 50), sluice::SizeOverflowError);
  }
  try {
    PooledAllocator::allocate(std::size_t{1} << 50);
  } catch (const sluice::SizeOverflowError& error) {
    CHECK(error.code() == sluice::BufferErrc::size_overflow);
    CHECK(std::string(error.what()).find(std::to_string(std::size_t{1} << 50)) !=
          std::string::npos);
  }
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

namespace {

// Runs `body` in a forked child whose address space may grow by only `headroom` bytes more, and
// returns its exit status (or -signal). The limit stays in the child, so this process is unharmed
// whatever the allocator does when the OS refuses.
template <typename Body>
int in_limited_child(std::size_t headroom, Body&& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    long pages = 0;
    if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
      std::fclose(statm);
    }
    if (pages <= 0) ::_exit(90);
    const rlim_t limit =
        static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + headroom;
    rlimit current{};
    ::getrlimit(RLIMIT_AS, &current);
    rlimit lowered{limit, current.rlim_max};
    if (::setrlimit(RLIMIT_AS, &lowered) != 0) ::_exit(91);
    int status = 92;
    try {
      status = body();
    } catch (...) {
      status = 93;
    }
    ::_exit(status);  // no exit handlers: they belong to the parent's test run
  }
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// 0 when `allocate` fails with OutOfMemoryError before `limit` blocks and the allocator works
// again once they are freed.
int exhaust(std::size_t bytes, std::size_t limit) {
  std::vector<PooledAllocator::Allocation> blocks;
  blocks.reserve(limit);
  bool refused = false;
  try {
    while (blocks.size() < limit)
      blocks.push_back(PooledAllocator::allocate(bytes));
  } catch (const sluice::OutOfMemoryError& error) {
    refused = error.code() == sluice::BufferErrc::out_of_memory;
  }
  if (!refused) return 10;
  for (auto& block : blocks)
    PooledAllocator::deallocate(block.header);
  PooledAllocator::trim();
  if (PooledAllocator::metrics().live_buffers != 0) return 11;
  // Consistent after the failure: the same sizes can be allocated (and used) again.
  for (int i = 0; i < 3; ++i) {
    auto block = PooledAllocator::allocate(bytes);
    std::memset(block.data, 0x5a, bytes);
    blocks[static_cast<std::size_t>(i)] = block;
  }
  for (int i = 0; i < 3; ++i)
    PooledAllocator::deallocate(blocks[static_cast<std::size_t>(i)].header);
  return PooledAllocator::metrics().live_buffers == 0 ? 0 : 12;
}

}  // namespace

TEST_CASE("allocations the OS refuses throw OutOfMemoryError and leave the allocator usable") {
  constexpr std::size_t kHeadroom = std::size_t{192} << 20;
  SUBCASE("a huge mapping") {
    CHECK(in_limited_child(kHeadroom, [] {
            try {
              PooledAllocator::allocate(std::size_t{1} << 30);
            } catch (const sluice::OutOfMemoryError& error) {
              return std::string(error.what()).find("1073741824") != std::string::npos ? 0 : 20;
            }
            return 21;
          }) == 0);
  }
  // Without the pool, small buffers come from malloc, and ASan's malloc carves them from address
  // space it reserved at start-up, which the limit does not cover: only the pool's own mappings
  // (and huge ones) can be refused this way.
  SUBCASE("buffers in a thread arena, slots and runs") {
    if constexpr (!SLUICE_POOL) return;
    CHECK(in_limited_child(kHeadroom, [] {
            PooledAllocator::ThreadArena arena;
            if (int status = exhaust(16384, 100000)) return status;
            if (int status = exhaust(1 << 20, 100000)) return status + 30;
            return 0;
          }) == 0);
  }
  SUBCASE("buffers from the shared arena") {
    if constexpr (!SLUICE_POOL) return;
    CHECK(in_limited_child(kHeadroom, [] { return exhaust(4000, 1000000); }) == 0);
  }
  SUBCASE("a Buffer that cannot grow keeps its bytes") {
    CHECK(in_limited_child(kHeadroom, [] {
            Buffer buffer = Buffer::copy_of(std::string_view("intact"));
            try {
              buffer.ensure_writable(std::size_t{1} << 30);
            } catch (const sluice::OutOfMemoryError&) {
              return buffer.readable_view() == "intact" && buffer.writer_index() == 6 ? 0 : 40;
            }
            return 41;
          }) == 0);
  }
}

TEST_CASE("leak_report names where live buffers were allocated") {
  Buffer first = Buffer::allocate(64);
  const int first_line = __LINE__ - 1;
  Buffer second = Buffer::copy_of(std::string_view("text"));
  const int second_line = __LINE__ - 1;
  Buffer grown = Buffer::allocate(16);
  const int grown_line = __LINE__ - 1;
  grown.ensure_writable(100000);  // new storage, same site
  const std::string report = PooledAllocator::leak_report();
  CAPTURE(report);
  if constexpr (SLUICE_LEAK_TRACKING) {
    CHECK(report.find("3 live buffers from 3 sites") != std::string::npos);
    for (int line : {first_line, second_line, grown_line}) {
      CHECK(report.find("test_pooled_allocator.cpp:" + std::to_string(line)) != std::string::npos);
    }
    CHECK(report.find("buffer.cpp") == std::string::npos);
    // Shares and slices are the same storage, not more leaks.
    Buffer slice = first.slice(0, 8);
    Buffer shared = second.share();
    CHECK(PooledAllocator::leak_report().find("3 live buffers") != std::string::npos);
  } else {
    CHECK(report.find("3 live buffers") != std::string::npos);
  }
}

TEST_CASE("leak_report groups buffers by site, most first, up to max_sites") {
  std::vector<Buffer> many;
  for (int i = 0; i < 5; ++i)
    many.push_back(Buffer::allocate(32));
  const int many_line = __LINE__ - 1;
  Buffer one = Buffer::allocate(32);
  const int one_line = __LINE__ - 1;
  if constexpr (SLUICE_LEAK_TRACKING) {
    const std::string report = PooledAllocator::leak_report();
    CAPTURE(report);
    const auto many_at = report.find("test_pooled_allocator.cpp:" + std::to_string(many_line));
    const auto one_at = report.find("test_pooled_allocator.cpp:" + std::to_string(one_line));
    REQUIRE(many_at != std::string::npos);
    REQUIRE(one_at != std::string::npos);
    CHECK(many_at < one_at);
    CHECK(report.find("     5  ") != std::string::npos);
    const std::string top = PooledAllocator::leak_report(1);
    CHECK(top.find("6 live buffers from 2 sites") != std::string::npos);
    CHECK(top.find(":" + std::to_string(one_line)) == std::string::npos);
  }
  many.clear();
  one = Buffer();
  CHECK(PooledAllocator::leak_report().find("0 live buffers") != std::string::npos);
}
