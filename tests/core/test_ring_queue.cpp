// RingQueue: order through wrap-around and growth, and no allocation once grown.

#include "sluice/core/ring_queue.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <deque>
#include <utility>

#include "support/allocation_hooks.hpp"

using sluice::test::allocations_made;  // counted by support/allocation_hooks.cpp

using sluice::RingQueue;

namespace {

// Checks that `queue` holds what `model` does, in order, through every accessor.
void require_same(const RingQueue<int>& queue, const std::deque<int>& model) {
  REQUIRE(queue.size() == model.size());
  REQUIRE(queue.empty() == model.empty());
  for (std::size_t i = 0; i < model.size(); ++i)
    REQUIRE(queue[i] == model[i]);
  if (!model.empty()) {
    REQUIRE(queue.front() == model.front());
    REQUIRE(queue.back() == model.back());
  }
}

}  // namespace

TEST_CASE("a ring queue keeps first-in first-out order as it wraps around and grows") {
  RingQueue<int> queue;
  std::deque<int> model;
  CHECK(queue.capacity() == 0);  // nothing allocated until the first push
  int next = 0;
  // Each round pushes one more than it pops, so the queue grows while its start is anywhere in
  // the array: every growth copies a wrapped-around run.
  for (int round = 1; round <= 40; ++round) {
    for (int i = 0; i < round + 1; ++i) {
      queue.push_back(next);
      model.push_back(next);
      ++next;
      require_same(queue, model);
    }
    for (int i = 0; i < round; ++i) {
      queue.pop_front();
      model.pop_front();
      require_same(queue, model);
    }
  }
  CHECK(queue.size() == 40);
  CHECK(queue.capacity() == 128);  // it held 80 at most (round 40, before its pops)
}

TEST_CASE("a ring queue drops its newest elements with pop_back and truncate") {
  RingQueue<int> queue;
  std::deque<int> model;
  for (int i = 0; i < 6; ++i) {
    queue.push_back(i);
    model.push_back(i);
  }
  queue.pop_front();  // start the elements one slot in, so the newest wrap around
  model.pop_front();
  for (int i = 6; i < 8; ++i) {
    queue.push_back(i);
    model.push_back(i);
  }
  queue.pop_back();
  model.pop_back();
  require_same(queue, model);
  queue.truncate(10);  // more than it holds: nothing changes
  require_same(queue, model);
  queue.truncate(2);
  model.resize(2);
  require_same(queue, model);
  queue.truncate(0);
  require_same(queue, {});
  queue.push_back(42);  // usable again, from wherever its start was left
  require_same(queue, {42});
}

TEST_CASE("a ring queue that has grown to its longest allocates nothing more") {
  RingQueue<int> queue;
  for (int i = 0; i < 16; ++i)
    queue.push_back(i);
  while (!queue.empty())
    queue.pop_front();
  const std::size_t before = allocations_made;
  for (int i = 0; i < 10000; ++i) {
    queue.push_back(i);
    if (queue.size() > 12) queue.pop_front();
  }
  CHECK(allocations_made == before);
  CHECK(queue.capacity() == 16);
}

TEST_CASE("a ring queue can push one of its own elements while it grows") {
  RingQueue<int> queue;
  for (int i = 0; i < 4; ++i)
    queue.push_back(i);
  REQUIRE(queue.size() == queue.capacity());  // full: the next push moves the elements
  queue.push_back(queue.front());
  CHECK(queue.back() == 0);
  CHECK(queue.size() == 5);
}

// The implicit move took the array but left the count and capacity behind: the queue moved
// from still said it held its elements, and its next push wrote through a null array.
TEST_CASE("a ring queue moved from is empty and usable, and one moved into holds what was moved") {
  RingQueue<int> queue;
  std::deque<int> model;
  for (int i = 0; i < 6; ++i) {
    queue.push_back(i);
    model.push_back(i);
  }
  queue.pop_front();  // its start one slot in: the move keeps the order, not just the array
  model.pop_front();

  RingQueue<int> moved(std::move(queue));
  require_same(moved, model);
  require_same(queue, {});  // NOLINT(bugprone-use-after-move): what this test is about
  CHECK(queue.capacity() == 0);
  queue.push_back(7);
  require_same(queue, {7});

  RingQueue<int> assigned;
  assigned.push_back(99);
  assigned = std::move(moved);
  require_same(assigned, model);
  require_same(moved, {});  // NOLINT(bugprone-use-after-move)
  moved.push_back(8);
  moved.push_back(9);
  require_same(moved, {8, 9});
}
