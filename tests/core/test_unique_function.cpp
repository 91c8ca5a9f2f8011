#include <doctest/doctest.h>

#include <array>
#include <memory>

#include "sluice/core/unique_function.hpp"

using sluice::unique_function;

TEST_CASE("a unique_function calls a move-only callable") {
  auto owned = std::make_unique<int>(7);
  unique_function<int(int)> add = [owned = std::move(owned)](int x) { return *owned + x; };
  CHECK(add(3) == 10);
}

TEST_CASE("moving a unique_function moves the callable and empties the source") {
  int calls = 0;
  unique_function<void()> first = [&calls] { ++calls; };
  unique_function<void()> second = std::move(first);
  CHECK_FALSE(first);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  REQUIRE(second);
  second();
  CHECK(calls == 1);
  first = std::move(second);
  first();
  CHECK(calls == 2);
}

TEST_CASE("large callables live on the heap and are destroyed exactly once") {
  auto counter = std::make_shared<int>(0);
  {
    std::array<char, 256> big{};
    unique_function<int()> f = [counter, big] { return static_cast<int>(big.size()) + *counter; };
    CHECK(counter.use_count() == 2);
    unique_function<int()> g = std::move(f);
    CHECK(g() == 256);
    CHECK(counter.use_count() == 2);
  }
  CHECK(counter.use_count() == 1);
}

TEST_CASE("inline callables are destroyed exactly once across moves") {
  auto counter = std::make_shared<int>(0);
  {
    unique_function<void()> f = [counter] {};
    unique_function<void()> g = std::move(f);
    unique_function<void()> h;
    h = std::move(g);
    CHECK(counter.use_count() == 2);
  }
  CHECK(counter.use_count() == 1);
}

TEST_CASE("calling an empty unique_function throws bad_function_call") {
  unique_function<void()> empty;
  CHECK_THROWS_AS(empty(), std::bad_function_call);
  empty = nullptr;
  CHECK_FALSE(empty);
}
