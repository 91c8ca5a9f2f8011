#include <doctest/doctest.h>

#include <array>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/channel/message.hpp"

using namespace sluice;

TEST_CASE("a message holds a value of any movable type and tests its type without RTTI") {
  Message message = std::string("hello");
  CHECK(message.is<std::string>());
  CHECK_FALSE(message.is<int>());
  CHECK(message.get_if<int>() == nullptr);
  CHECK(message.as<std::string>() == "hello");
  CHECK(message.type_name().find("string") != std::string_view::npos);
  CHECK_THROWS_AS(message.as<int>(), MessageTypeError);
}

TEST_CASE("buffers, composites, file regions and unique_ptrs travel inline") {
  static_assert(sizeof(Buffer) <= Message::kInlineSize);
  static_assert(sizeof(CompositeBuffer) <= Message::kInlineSize);
  static_assert(sizeof(FileRegion) <= Message::kInlineSize);
  Message message = Buffer::copy_of("abc");
  CHECK(message.bytes() == 3);
  Message moved = std::move(message);
  CHECK(message.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(moved.take<Buffer>().readable_view() == "abc");
  CHECK(moved.empty());
}

TEST_CASE("large values go to the heap and are destroyed exactly once") {
  auto counter = std::make_shared<int>(0);
  struct Big {
    std::shared_ptr<int> counter;
    char padding[256];
  };
  {
    Message message = Big{counter, {}};
    CHECK(counter.use_count() == 2);
    Message other = std::move(message);
    CHECK(counter.use_count() == 2);
    CHECK(other.is<Big>());
  }
  CHECK(counter.use_count() == 1);
}

TEST_CASE("a message reports the outbound bytes of what it holds") {
  CompositeBuffer composite;
  composite.append(Buffer::copy_of("ab"));
  composite.append(Buffer::copy_of("cde"));
  Message message = std::move(composite);
  CHECK(message.bytes() == 5);
  Message other = 12;
  CHECK(other.bytes() == 0);
}

namespace {
// A value holding a Message is larger than the inline storage (a Message is that storage and
// more), so it always lives on the heap: unwrapping in place is an out-of-line case only.
struct Envelope {
  int tag = 1;
  Message payload;
};
static_assert(sizeof(Envelope) > Message::kInlineSize);
}  // namespace

TEST_CASE("a message can be unwrapped in place: assigned from a message it holds") {
  // The old content used to be destroyed before the payload inside it was moved out.
  Message envelope = Envelope{1, Message(Buffer::copy_of("heap"))};
  envelope = std::move(envelope.as<Envelope>().payload);
  REQUIRE(envelope.is<Buffer>());
  CHECK(envelope.as<Buffer>().readable_view() == "heap");
}

namespace {

// A value whose destructor reaches back to the Message holding it (a user event whose
// captures own the object the message is stored in).
template <std::size_t kPadding>
struct ResetsItsMessage {
  Message* holder;
  int* destructions;
  bool moved_from = false;
  std::array<char, kPadding> padding{};

  ResetsItsMessage(Message* h, int* d) : holder(h), destructions(d) {}
  ResetsItsMessage(ResetsItsMessage&& other) noexcept
      : holder(other.holder),
        destructions(other.destructions),
        moved_from(std::exchange(other.moved_from, true)) {}
  ~ResetsItsMessage() {
    if (moved_from) return;
    // Only the first destruction resets: a second one would recurse for ever.
    if (++*destructions == 1) holder->reset();
  }
};

}  // namespace

TEST_CASE_TEMPLATE("a value that empties its own message as it dies is destroyed once", Value,
                   ResetsItsMessage<1>, ResetsItsMessage<256>) {
  SUBCASE("reset") {
    int destructions = 0;
    Message message;
    message = Value(&message, &destructions);
    message.reset();
    CHECK(destructions == 1);
    CHECK(message.empty());
  }
  SUBCASE("destroyed with its message") {
    int destructions = 0;
    {
      Message message;
      message = Value(&message, &destructions);
    }
    CHECK(destructions == 1);
  }
  SUBCASE("replaced by another value") {
    int destructions = 0;
    Message message;
    message = Value(&message, &destructions);
    message = 7;
    CHECK(destructions == 1);
    CHECK(message.empty());  // the dying value emptied it after the 7 went in
  }
  SUBCASE("taken out") {
    int destructions = 0;
    Message message;
    message = Value(&message, &destructions);
    {
      Value taken = message.take<Value>();
      CHECK(destructions == 0);
    }
    CHECK(destructions == 1);
  }
}

TEST_CASE("resetting a message whose value owns the message's owner frees each once") {
  struct Owner {
    Message message;
  };
  auto* owner = new Owner;
  owner->message = std::unique_ptr<Owner>(owner);
  owner->message.reset();  // ASan: no double free, no use after free
  CHECK(true);
}

TEST_CASE("moving a message onto itself keeps its value") {
  Message message = std::string("kept");
  Message& alias = message;
  message = std::move(alias);
  REQUIRE(message.is<std::string>());
  CHECK(message.as<std::string>() == "kept");
}

namespace {

// A value whose move may throw (as std::deque's does in libstdc++): a Message, whose own move
// cannot fail, must not move it again once stored.
struct ThrowingMove {
  static inline int moves = 0;
  std::string text;
  explicit ThrowingMove(std::string t) : text(std::move(t)) {}
  ThrowingMove(ThrowingMove&& other) noexcept(false) : text(std::move(other.text)) { ++moves; }
  ThrowingMove& operator=(ThrowingMove&&) = delete;
};

}  // namespace

TEST_CASE("a value whose move may throw travels, stored once and never moved again") {
  static_assert(!std::is_nothrow_move_constructible_v<ThrowingMove>);
  ThrowingMove::moves = 0;
  Message message = ThrowingMove("kept");
  CHECK(ThrowingMove::moves == 1);  // into the message
  Message moved = std::move(message);
  Message assigned;
  assigned = std::move(moved);
  CHECK(ThrowingMove::moves == 1);
  REQUIRE(assigned.is<ThrowingMove>());
  CHECK(assigned.as<ThrowingMove>().text == "kept");

  Message queue = std::deque<int>{1, 2, 3};
  Message other = std::move(queue);
  CHECK(other.take<std::deque<int>>() == std::deque<int>{1, 2, 3});
}
