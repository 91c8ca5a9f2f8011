#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <utility>

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

namespace {

// A callable whose destructor reaches back to the unique_function holding it, as a callback
// whose captures own the object that stores the callback does.
template <std::size_t kPadding>
struct ResetsItsHolder {
  unique_function<void()>* holder;
  int* destructions;
  bool moved_from = false;
  std::array<char, kPadding> padding{};

  ResetsItsHolder(unique_function<void()>* h, int* d) : holder(h), destructions(d) {}
  ResetsItsHolder(ResetsItsHolder&& other) noexcept
      : holder(other.holder),
        destructions(other.destructions),
        moved_from(std::exchange(other.moved_from, true)) {}
  ~ResetsItsHolder() {
    if (moved_from) return;
    // Only the first destruction resets: a second one would recurse for ever.
    if (++*destructions == 1) *holder = nullptr;
  }
  void operator()() {}
};

}  // namespace

TEST_CASE_TEMPLATE("a callable that empties its own unique_function as it dies is destroyed once",
                   Callable, ResetsItsHolder<1>, ResetsItsHolder<256>) {
  SUBCASE("reset by assigning nullptr") {
    int destructions = 0;
    unique_function<void()> f;
    f = Callable(&f, &destructions);
    f = nullptr;
    CHECK(destructions == 1);
    CHECK_FALSE(f);
  }
  SUBCASE("destroyed with its holder") {
    int destructions = 0;
    {
      unique_function<void()> f;
      f = Callable(&f, &destructions);
    }
    CHECK(destructions == 1);
  }
  SUBCASE("replaced by another callable") {
    int destructions = 0;
    bool replacement_ran = false;
    unique_function<void()> f;
    f = Callable(&f, &destructions);
    f = [&replacement_ran] { replacement_ran = true; };
    CHECK(destructions == 1);
    // The dying callable emptied its holder after the replacement went in.
    CHECK_FALSE(f);
    CHECK_FALSE(replacement_ran);
  }
}

TEST_CASE("a callable whose destructor stores a new callable in its holder leaves that one") {
  bool replacement_ran = false;
  int destructions = 0;
  struct StoresReplacement {
    unique_function<void()>* holder;
    bool* ran;
    int* destructions;
    bool moved_from = false;
    StoresReplacement(unique_function<void()>* h, bool* r, int* d)
        : holder(h), ran(r), destructions(d) {}
    StoresReplacement(StoresReplacement&& other) noexcept
        : holder(other.holder),
          ran(other.ran),
          destructions(other.destructions),
          moved_from(std::exchange(other.moved_from, true)) {}
    ~StoresReplacement() {
      if (moved_from) return;
      if (++*destructions == 1) *holder = [r = ran] { *r = true; };
    }
    void operator()() {}
  };
  unique_function<void()> f = StoresReplacement(&f, &replacement_ran, &destructions);
  f = nullptr;
  CHECK(destructions == 1);
  REQUIRE(f);
  f();
  CHECK(replacement_ran);
}

TEST_CASE("resetting a callable that owns its holder's owner frees each once") {
  // The callable's captures own the object the unique_function lives in: the reset deletes
  // that object, the unique_function included, before it returns.
  struct Owner {
    unique_function<void()> callback;
  };
  auto* owner = new Owner;
  owner->callback = [kept = std::unique_ptr<Owner>(owner)] {};
  owner->callback = nullptr;  // ASan: no double free, no use after free
  CHECK(true);
}

TEST_CASE("moving a unique_function onto itself keeps its callable") {
  int calls = 0;
  unique_function<void()> f = [&calls] { ++calls; };
  unique_function<void()>& alias = f;
  f = std::move(alias);
  REQUIRE(f);
  f();
  CHECK(calls == 1);
}

// Like std::function<void()>, a unique_function<void()> takes a callable whose result is to be
// ignored (the constructor's constraint says so), as a task calling Promise::set_value() and
// returning its bool. Calling it did not compile: the stored result was returned from void.
TEST_CASE("a unique_function returning void takes a callable that returns a value") {
  int calls = 0;
  unique_function<void()> small = [&calls] { return ++calls; };
  small();
  std::array<char, 2 * unique_function<void()>::kInlineSize> padding{};
  unique_function<void()> large = [&calls, padding] { return calls += padding.size() > 0; };
  large();
  CHECK(calls == 2);
}
