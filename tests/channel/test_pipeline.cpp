#include <doctest/doctest.h>

#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/channel/channel_error.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/channel/inbound_handler_for.hpp"
#include "support/allocation_hooks.hpp"
#include "support/child_process.hpp"

using namespace sluice;

namespace {

// Records the events it sees into a shared log, then passes them on.
class Recorder : public ChannelHandler {
 public:
  Recorder(std::string tag, std::vector<std::string>& log) : tag_(std::move(tag)), log_(log) {}
  void on_active(HandlerContext& ctx) override {
    log_.push_back(tag_ + ":active");
    ctx.fire_active();
  }
  void on_read(HandlerContext& ctx, Message&& message) override {
    log_.push_back(tag_ + ":read");
    ctx.fire_read(std::move(message));
  }
  void on_read_complete(HandlerContext& ctx) override {
    log_.push_back(tag_ + ":read_complete");
    ctx.fire_read_complete();
  }
  void on_inactive(HandlerContext& ctx) override {
    log_.push_back(tag_ + ":inactive");
    ctx.fire_inactive();
  }
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    log_.push_back(tag_ + ":write");
    ctx.write(std::move(message), std::move(done));
  }
  void flush(HandlerContext& ctx) override {
    log_.push_back(tag_ + ":flush");
    ctx.flush();
  }
  void close(HandlerContext& ctx, CloseMode mode) override {
    log_.push_back(tag_ + ":close");
    ctx.close(mode);
  }

 private:
  std::string tag_;
  std::vector<std::string>& log_;
};

// Overrides only on_user_event; every other event must skip it.
class OnlyUserEvents : public ChannelHandler {
 public:
  static inline int calls = 0;
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    ++calls;
    ctx.fire_user_event(std::move(event));
  }
};

// A handler whose on_read counts calls even though it is handed a full mask (type-erased).
class CountingReads : public ChannelHandler {
 public:
  int reads = 0;
  void on_read(HandlerContext& ctx, Message&& message) override {
    ++reads;
    ctx.fire_read(std::move(message));
  }
};

struct Throws : ChannelHandler {
  std::vector<std::string> errors;
  void on_read(HandlerContext&, Message&&) override { throw std::runtime_error("bad input"); }
  void on_error(HandlerContext& ctx, const Error& error) override {
    errors.push_back(error.message());
    ctx.fire_error(error);
  }
};

struct Upper : InboundHandlerFor<std::string> {
  void on_message(HandlerContext& ctx, std::string&& text) override {
    for (char& c : text)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ctx.fire_read(std::move(text));
  }
};

}  // namespace

TEST_CASE("inbound events run head to tail and outbound operations tail to head") {
  std::vector<std::string> log;
  auto channel = EmbeddedChannel::create([&](Pipeline& pipeline) {
    pipeline.add_last("a", std::make_unique<Recorder>("a", log));
    pipeline.add_last("b", std::make_unique<Recorder>("b", log));
  });
  log.clear();
  channel->write_inbound(std::string("x"));
  CHECK(log == std::vector<std::string>{"a:read", "b:read", "a:read_complete", "b:read_complete"});
  log.clear();
  channel->write_outbound(std::string("y"));
  CHECK(log == std::vector<std::string>{"b:write", "a:write", "b:flush", "a:flush"});
  log.clear();
  channel->finish();
  CHECK(log == std::vector<std::string>{"b:close", "a:close", "a:inactive", "b:inactive"});
}

TEST_CASE("active fires through the pipeline when the channel becomes active") {
  std::vector<std::string> log;
  auto channel = EmbeddedChannel::create(
      [&](Pipeline& pipeline) { pipeline.add_last("a", std::make_unique<Recorder>("a", log)); });
  CHECK(log == std::vector<std::string>{"a:active"});
}

TEST_CASE("a handler that does not override on_read is never called for it") {
  OnlyUserEvents::calls = 0;
  auto channel = EmbeddedChannel::create([](Pipeline& pipeline) {
    pipeline.add_last("only-events", std::make_unique<OnlyUserEvents>());
  });
  channel->write_inbound(std::string("message"));
  CHECK(OnlyUserEvents::calls == 0);
  CHECK(channel->inbound_count() == 1);
  channel->pipeline().fire_user_event(42);
  CHECK(OnlyUserEvents::calls == 1);
}

TEST_CASE("the skip mask comes from the static type of the added handler") {
  static_assert(overridden_events<OnlyUserEvents>() == kOnUserEvent);
  static_assert(overridden_events<CountingReads>() == kOnRead);
  static_assert(overridden_events<Upper>() == kOnRead);
  static_assert((overridden_events<Recorder>() & kOnError) == 0);
  // Added through a base pointer, a handler gets every event: the mask cannot be known.
  auto channel = EmbeddedChannel::create([](Pipeline& pipeline) {
    std::unique_ptr<ChannelHandler> erased = std::make_unique<CountingReads>();
    pipeline.add_last("erased", std::move(erased));
  });
  channel->write_inbound(std::string("x"));
  auto* counting = static_cast<CountingReads*>(channel->pipeline().get("erased"));
  CHECK(counting->reads == 1);
}

// Overrides declared private, as a `class` handler without `public:` has them: the mask cannot
// name them, so they are kept (delivered), and the events it does not override still skip it.
class PrivateOverrides final : public InboundHandlerFor<std::string> {
 public:
  std::vector<std::string> seen;

 private:
  void on_message(HandlerContext&, std::string&& text) override { seen.push_back(text); }
  void on_read_complete(HandlerContext& ctx) override {
    seen.push_back("complete");
    ctx.fire_read_complete();
  }
};

TEST_CASE("handlers whose overrides are private still get their events") {
  static_assert((overridden_events<PrivateOverrides>() & kOnRead) != 0);
  static_assert((overridden_events<PrivateOverrides>() & kOnReadComplete) != 0);
  static_assert((overridden_events<PrivateOverrides>() & kOnUserEvent) == 0);
  auto channel = EmbeddedChannel::create([](Pipeline& pipeline) {
    pipeline.add_last("private", std::make_unique<PrivateOverrides>());
  });
  channel->write_inbound(std::string("x"));
  auto* handler = static_cast<PrivateOverrides*>(channel->pipeline().get("private"));
  CHECK(handler->seen == std::vector<std::string>{"x", "complete"});
}

TEST_CASE("a typed inbound handler takes its type and passes others on") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& pipeline) { pipeline.add_last("upper", std::make_unique<Upper>()); });
  channel->write_inbound(std::string("hello"), 7);
  Message first = channel->read_inbound();
  Message second = channel->read_inbound();
  REQUIRE(first.is<std::string>());
  CHECK(first.as<std::string>() == "HELLO");
  REQUIRE(second.is<int>());
  CHECK(second.as<int>() == 7);
}

TEST_CASE("an exception from a handler reaches its own on_error and then the tail") {
  auto channel = EmbeddedChannel::create(
      [](Pipeline& pipeline) { pipeline.add_last("throws", std::make_unique<Throws>()); });
  channel->write_inbound(std::string("x"));
  auto* throws = static_cast<Throws*>(channel->pipeline().get("throws"));
  REQUIRE(throws->errors.size() == 1);
  CHECK(throws->errors[0].find("bad input") != std::string::npos);
  const auto errors = channel->take_errors();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == ChannelErrc::handler_exception);
}

namespace {

// Throws from on_read with operator new refusing every allocation, as when memory runs out,
// and records the errors that reach its on_error.
template <typename MakeException>
struct ThrowsOutOfMemory : ChannelHandler {
  explicit ThrowsOutOfMemory(MakeException maker) : make(maker) {}
  void on_read(HandlerContext&, Message&&) override {
    auto exception = make();  // made while there is memory for its text
    test::refuse_allocations_from = 1;
    throw std::move(exception);
  }
  void on_error(HandlerContext&, const Error& error) override {
    test::refuse_allocations_from = 0;
    errors.push_back(error);
  }
  MakeException make;
  std::vector<Error> errors;
};

template <typename MakeException>
std::vector<Error> errors_out_of_memory(MakeException make) {
  auto channel = EmbeddedChannel::create([&](Pipeline& pipeline) {
    pipeline.add_last("throws", std::make_unique<ThrowsOutOfMemory<MakeException>>(make));
  });
  channel->write_inbound(std::string("x"));
  test::refuse_allocations_from = 0;
  return static_cast<ThrowsOutOfMemory<MakeException>*>(channel->pipeline().get("throws"))->errors;
}

}  // namespace

// Turning the exception into an Error copied its text on a noexcept path: with no memory for
// the copy the process ended in std::terminate.
TEST_CASE("a handler that throws when memory has run out still reaches on_error") {
  SUBCASE("an exception with a long text arrives without it") {
    const auto errors = errors_out_of_memory(
        [] { return std::runtime_error("a text far too long for a short-string buffer"); });
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == ChannelErrc::handler_exception);
    CHECK(errors[0].context().empty());
  }
  SUBCASE("a sluice exception keeps its code") {
    const auto errors = errors_out_of_memory(
        [] { return PipelineError("a handler name that is long enough to need the heap"); });
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == ChannelErrc::pipeline_misuse);
  }
  SUBCASE("std::bad_alloc is not_enough_memory") {
    const auto errors = errors_out_of_memory([] { return std::bad_alloc(); });
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == std::errc::not_enough_memory);
  }
}

TEST_CASE("handlers can be added, removed and replaced while events flow") {
  std::vector<std::string> log;
  auto channel = EmbeddedChannel::create([&](Pipeline& pipeline) {
    pipeline.add_last("a", std::make_unique<Recorder>("a", log));
    pipeline.add_last("c", std::make_unique<Recorder>("c", log));
  });
  channel->pipeline().add_before("c", "b", std::make_unique<Recorder>("b", log));
  channel->pipeline().add_first("first", std::make_unique<Recorder>("first", log));
  CHECK(channel->pipeline().names() == std::vector<std::string>{"first", "a", "b", "c"});
  log.clear();
  channel->write_inbound(std::string("x"));
  CHECK(log.size() == 8);
  channel->pipeline().remove("a");
  channel->pipeline().replace("b", "b2", std::make_unique<Recorder>("b2", log));
  CHECK(channel->pipeline().names() == std::vector<std::string>{"first", "b2", "c"});
  log.clear();
  channel->write_inbound(std::string("y"));
  CHECK(log == std::vector<std::string>{"first:read", "b2:read", "c:read", "first:read_complete",
                                        "b2:read_complete", "c:read_complete"});
  CHECK_THROWS_AS(channel->pipeline().remove("missing"), PipelineError);
  CHECK_THROWS_AS(channel->pipeline().add_last("c", std::make_unique<Recorder>("dup", log)),
                  PipelineError);
}

namespace {

// Removes itself on the first message and passes it on: a handler leaving mid-event.
struct OneShot : ChannelHandler {
  int reads = 0;
  bool removed = false;
  void on_read(HandlerContext& ctx, Message&& message) override {
    ++reads;
    ctx.pipeline().remove(*this);
    ctx.fire_read(std::move(message));  // its context stays valid until the iteration ends
  }
  void on_removed(HandlerContext&) override { removed = true; }
};

}  // namespace

TEST_CASE("a handler can remove itself while handling an event and the event goes on") {
  int reads = 0;
  bool removed = false;
  struct Probe : OneShot {
    int* reads_out;
    bool* removed_out;
    Probe(int* r, bool* m) : reads_out(r), removed_out(m) {}
    ~Probe() override {
      *reads_out = reads;
      *removed_out = removed;
    }
  };
  auto channel = EmbeddedChannel::create([&](Pipeline& pipeline) {
    pipeline.add_last("once", std::make_unique<Probe>(&reads, &removed));
  });
  channel->write_inbound(std::string("first"), std::string("second"));
  CHECK(channel->inbound_count() == 2);
  CHECK(reads == 1);
  CHECK(removed);
  CHECK(channel->pipeline().names().empty());
}

TEST_CASE("writes are completed with success once flushed, and failed when the channel closes") {
  auto channel = EmbeddedChannel::create();
  int succeeded = 0;
  std::vector<Error> failures;
  channel->pipeline().write(Buffer::copy_of("a"),
                            [&](const Error& e) { e ? failures.push_back(e) : void(++succeeded); });
  channel->pipeline().flush();
  CHECK(succeeded == 1);
  channel->pipeline().write(Buffer::copy_of("b"),
                            [&](const Error& e) { e ? failures.push_back(e) : void(++succeeded); });
  channel->finish();
  REQUIRE(failures.size() == 1);
  CHECK(failures[0] == ChannelErrc::closed);
  Message out = channel->read_outbound();
  CHECK(out.as<Buffer>().readable_view() == "a");
}

TEST_CASE("the close future completes when the channel closes") {
  auto channel = EmbeddedChannel::create();
  auto closed = channel->close_future();
  CHECK_FALSE(closed.is_ready());
  channel->close();
  channel->run_pending();
  CHECK(closed.is_ready());
  CHECK_FALSE(channel->is_open());
}

TEST_CASE("attributes keep typed per-channel values") {
  static const AttributeKey<std::string> kUser;
  static const AttributeKey<int> kCount;
  auto channel = EmbeddedChannel::create();
  CHECK(channel->attributes().get(kUser) == nullptr);
  channel->attributes().set(kUser, std::string("ada"));
  channel->attributes().set(kCount, 3);
  CHECK(*channel->attributes().get(kUser) == "ada");
  CHECK(*channel->attributes().get(kCount) == 3);
  CHECK(channel->attributes().remove(kCount));
  CHECK(channel->attributes().get(kCount) == nullptr);
}

TEST_CASE("an outbound operation from another thread stops the process, naming itself") {
  const sluice::test::ChildOutcome child = sluice::test::run_in_child([] {
    auto channel = EmbeddedChannel::create(nullptr);
    std::thread([&] { channel->pipeline().flush(); }).join();
  });
  INFO("child's stderr: " << child.stderr_text);
  CHECK(child.aborted());
  CHECK(child.stderr_text.find("HandlerContext::flush (use Channel::flush off the loop) called off "
                               "the thread of loop") != std::string::npos);
}

namespace {

struct Named : ChannelHandler {
  explicit Named(std::string tag, std::vector<std::string>& log)
      : tag_(std::move(tag)), log_(log) {}
  void on_read(HandlerContext& ctx, Message&& message) override {
    log_.push_back(tag_);
    ctx.fire_read(std::move(message));
  }
  std::string tag_;
  std::vector<std::string>& log_;
};

}  // namespace

// The usual codec swap keeps the name: replace("codec", "codec", newer). The replacement is
// added next to the old handler before the old one leaves, so the name is still taken and the
// call throws PipelineError, leaving the old handler in place.
TEST_CASE("replace() can keep the handler's name") {
  std::vector<std::string> log;
  auto channel = EmbeddedChannel::create([&](Pipeline& pipeline) {
    pipeline.add_last("codec", std::make_unique<Named>("old", log));
    pipeline.add_last("app", std::make_unique<Named>("app", log));
  });
  CHECK_NOTHROW(channel->pipeline().replace("codec", "codec", std::make_unique<Named>("new", log)));
  CHECK(channel->pipeline().names() == std::vector<std::string>{"codec", "app"});
  channel->write_inbound(std::string("x"));
  CHECK(log == std::vector<std::string>{"new", "app"});
  channel->finish();
}

namespace {

// Releases what it holds when removed; an event after that would use it.
struct Stateful : ChannelHandler {
  bool removed = false;
  int reads_after_removal = 0;
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (removed) ++reads_after_removal;
    ctx.fire_read(std::move(message));
  }
  void on_removed(HandlerContext&) override { removed = true; }
};

// An upgrade handler: on the first read it takes itself and the handler after it out of the
// pipeline and passes the bytes on to what follows.
struct Upgrader : ChannelHandler {
  void on_read(HandlerContext& ctx, Message&& message) override {
    ctx.pipeline().remove(*this);
    ctx.pipeline().remove("stateful");
    ctx.fire_read(std::move(message));
  }
};

}  // namespace

TEST_CASE("a removed handler gets no event after its on_removed") {
  Stateful* stateful = nullptr;
  auto channel = EmbeddedChannel::create([&](Pipeline& pipeline) {
    pipeline.add_last("upgrade", std::make_unique<Upgrader>());
    auto owned = std::make_unique<Stateful>();
    stateful = owned.get();
    pipeline.add_last("stateful", std::move(owned));
  });
  int after = -1;
  bool was_removed = false;
  struct Spy : ChannelHandler {
    Stateful* watched;
    int* after;
    bool* was_removed;
    Spy(Stateful* w, int* a, bool* r) : watched(w), after(a), was_removed(r) {}
    void on_read(HandlerContext& ctx, Message&& message) override {
      *after = watched->reads_after_removal;
      *was_removed = watched->removed;
      ctx.fire_read(std::move(message));
    }
  };
  channel->pipeline().add_last("spy", std::make_unique<Spy>(stateful, &after, &was_removed));
  channel->pipeline().fire_read(std::string("hello"));  // no run_pending: contexts still alive
  CHECK(was_removed);
  CHECK(after == 0);
  channel->run_pending();
  CHECK(channel->inbound_count() == 1);  // the message still reaches the tail
  CHECK(channel->pipeline().names() == std::vector<std::string>{"spy"});
  channel->finish();
}

namespace {

// Holds the writes it gets; once removed, passes them on from its place and flushes.
struct HoldsWrites : ChannelHandler {
  std::vector<Message> held;
  void write(HandlerContext&, Message&& message, WriteCallback&&) override {
    held.push_back(std::move(message));
  }
  void on_removed(HandlerContext& ctx) override {
    for (Message& message : held)
      ctx.write(std::move(message));
    held.clear();
    ctx.flush();
  }
};

// Tags each string written through it.
struct TagsWrites : ChannelHandler {
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    ctx.write("tagged " + message.take<std::string>(), std::move(done));
  }
};

}  // namespace

TEST_CASE("what a replaced handler passes on as it leaves goes through its replacement") {
  // Inbound, the replaced handler's next handler is already its replacement; outbound, its
  // writes used to skip the replacement and go straight toward the head.
  auto channel = EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("codec", std::make_unique<HoldsWrites>()); });
  channel->write(std::string("held"));
  channel->run_pending();
  CHECK(channel->outbound_count() == 0);
  channel->pipeline().replace("codec", "codec", std::make_unique<TagsWrites>());
  REQUIRE(channel->outbound_count() == 1);
  CHECK(channel->read_outbound().as<std::string>() == "tagged held");
  channel->write_and_flush(std::string("later"));
  channel->run_pending();
  CHECK(channel->read_outbound().as<std::string>() == "tagged later");
  channel->finish();
}

namespace {

// Fails to set itself up; counts, where the test can read them once it is gone, what the
// pipeline does with it afterwards.
struct FailsToAdd : ChannelHandler {
  struct Counts {
    int removed = 0;
    int errors = 0;
    int reads = 0;
  };
  Counts& counts;
  explicit FailsToAdd(Counts& into) : counts(into) {}
  void on_added(HandlerContext&) override { throw std::runtime_error("cannot set up"); }
  void on_removed(HandlerContext&) override { ++counts.removed; }
  void on_read(HandlerContext& ctx, Message&& message) override {
    ++counts.reads;
    ctx.fire_read(std::move(message));
  }
  void on_error(HandlerContext& ctx, const Error& error) override {
    ++counts.errors;
    ctx.fire_error(error);
  }
};

}  // namespace

TEST_CASE("a handler whose on_added throws is removed again and the add rethrows") {
  // It used to stay in the pipeline, half set up, with the failure sent to its own on_error.
  auto channel = EmbeddedChannel::create();
  FailsToAdd::Counts counts;
  CHECK_THROWS_WITH_AS(
      channel->pipeline().add_last("failing", std::make_unique<FailsToAdd>(counts)),
      "cannot set up", std::runtime_error);
  CHECK(channel->pipeline().names().empty());
  CHECK(channel->pipeline().get("failing") == nullptr);
  CHECK(counts.removed == 1);  // on_removed undoes what on_added did before it threw
  CHECK(counts.errors == 0);
  CHECK(channel->take_errors().empty());
  channel->write_inbound(std::string("x"));
  CHECK(counts.reads == 0);
  CHECK(channel->read_inbound().as<std::string>() == "x");
  channel->finish();
}

TEST_CASE("a replace() whose replacement's on_added throws leaves the old handler in place") {
  std::vector<std::string> log;
  auto channel = EmbeddedChannel::create(
      [&](Pipeline& p) { p.add_last("codec", std::make_unique<Named>("old", log)); });
  FailsToAdd::Counts counts;
  CHECK_THROWS_AS(
      channel->pipeline().replace("codec", "codec", std::make_unique<FailsToAdd>(counts)),
      std::runtime_error);
  CHECK(counts.removed == 1);
  CHECK(channel->pipeline().names() == std::vector<std::string>{"codec"});
  channel->write_inbound(std::string("x"));
  CHECK(log == std::vector<std::string>{"old"});
  channel->finish();
}

namespace {

// Adds a handler like itself back as it is removed: clearing the pipeline must end anyway.
struct ComesBack : ChannelHandler {
  struct Log {
    int removals = 0;
    std::vector<std::string> refusals;
  };
  // Bounded so that the test ends even where the pipeline would let it come back for ever.
  static constexpr int kMaxReturns = 100;
  Log& log;
  explicit ComesBack(Log& into) : log(into) {}
  void on_removed(HandlerContext& ctx) override {
    if (++log.removals > kMaxReturns) return;
    try {
      ctx.pipeline().add_last("again", std::make_unique<ComesBack>(log));
    } catch (const PipelineError& error) {
      log.refusals.emplace_back(error.what());
    }
  }
};

}  // namespace

TEST_CASE("clearing the pipeline refuses the handlers an on_removed adds back") {
  ComesBack::Log log;
  auto channel = EmbeddedChannel::create(
      [&](Pipeline& p) { p.add_last("first", std::make_unique<ComesBack>(log)); });
  channel.reset();  // the channel is torn down: Pipeline::clear()
  CHECK(log.removals == 1);
  REQUIRE(log.refusals.size() == 1);
  CHECK(log.refusals[0].find("removing every handler") != std::string::npos);
}

namespace {

// Handle one direction only: events of the other skip them.
struct WritesOnly : ChannelHandler {
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    ctx.write(std::move(message), std::move(done));
  }
};
struct ReadsOnly : ChannelHandler {
  void on_read(HandlerContext& ctx, Message&& message) override {
    ctx.fire_read(std::move(message));
  }
};

// Prefixes the strings it reads and writes.
struct Prefixes : ChannelHandler {
  std::string prefix;
  explicit Prefixes(std::string text) : prefix(std::move(text)) {}
  void on_read(HandlerContext& ctx, Message&& message) override {
    ctx.fire_read(prefix + message.take<std::string>());
  }
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    ctx.write(prefix + message.take<std::string>(), std::move(done));
  }
};

// On its first read, leaves and puts a decoder at the end, then passes the read on.
struct SwitchesInbound : ChannelHandler {
  void on_read(HandlerContext& ctx, Message&& message) override {
    ctx.pipeline().remove(*this);
    ctx.pipeline().add_last("decoder", std::make_unique<Prefixes>("decoded "));
    ctx.fire_read(std::move(message));
  }
};

// On its first write, leaves and puts an encoder at the front, then passes the write on.
struct SwitchesOutbound : ChannelHandler {
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    ctx.pipeline().remove(*this);
    ctx.pipeline().add_first("encoder", std::make_unique<Prefixes>("encoded "));
    ctx.write(std::move(message), std::move(done));
  }
};

}  // namespace

TEST_CASE("what a removed handler passes on reaches a handler added after its removal") {
  // Without skipping, the event goes on from the removed handler's neighbour, which forwards
  // it to the handler added beyond; a skip link taken at the removal went past that handler,
  // so whether it saw the event depended on whether the neighbour's type was known.
  SUBCASE("inbound") {
    auto channel = EmbeddedChannel::create([](Pipeline& p) {
      p.add_last("switch", std::make_unique<SwitchesInbound>());
      p.add_last("writes", std::make_unique<WritesOnly>());
    });
    channel->write_inbound(std::string("x"));
    REQUIRE(channel->inbound_count() == 1);
    CHECK(channel->read_inbound().as<std::string>() == "decoded x");
    CHECK(channel->pipeline().names() == std::vector<std::string>{"writes", "decoder"});
    channel->finish();
  }
  SUBCASE("outbound") {
    auto channel = EmbeddedChannel::create([](Pipeline& p) {
      p.add_last("reads", std::make_unique<ReadsOnly>());
      p.add_last("switch", std::make_unique<SwitchesOutbound>());
    });
    channel->write_and_flush(std::string("y"));
    channel->run_pending();
    REQUIRE(channel->outbound_count() == 1);
    CHECK(channel->read_outbound().as<std::string>() == "encoded y");
    CHECK(channel->pipeline().names() == std::vector<std::string>{"encoder", "reads"});
    channel->finish();
  }
}
