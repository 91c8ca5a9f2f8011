#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/codec/flush_consolidation_handler.hpp"

using namespace sluice;
using sluice::test::bytes;
using sluice::test::text_of;

namespace {

// Nearest the head: counts the flushes that get past the consolidation handler, and how many
// messages had been written when each did.
struct FlushLog {
  std::size_t writes = 0;
  std::vector<std::size_t> writes_at_flush;
};

class FlushCounter final : public ChannelHandler {
 public:
  explicit FlushCounter(std::shared_ptr<FlushLog> log) : log_(std::move(log)) {}
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override {
    ++log_->writes;
    ctx.write(std::move(message), std::move(done));
  }
  void flush(HandlerContext& ctx) override {
    log_->writes_at_flush.push_back(log_->writes);
    ctx.flush();
  }

 private:
  std::shared_ptr<FlushLog> log_;
};

// Answers every message at once: writes it back and flushes. "close" closes after its answer.
class FlushEveryAnswer final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    const bool close = text_of(message.as<Buffer>()) == "close";
    ctx.write_and_flush(std::move(message));
    if (close) ctx.close();
  }
};

struct Fixture {
  std::shared_ptr<FlushLog> log = std::make_shared<FlushLog>();
  Ref<EmbeddedChannel> channel;

  explicit Fixture(std::size_t flush_after = FlushConsolidationHandler::kDefaultFlushAfter,
                   bool consolidate_outside_reads = false) {
    channel = EmbeddedChannel::create([&](Pipeline& p) {
      p.add_last("count", std::make_unique<FlushCounter>(log));
      p.add_last("consolidate", std::make_unique<FlushConsolidationHandler>(
                                    flush_after, consolidate_outside_reads));
      p.add_last("answer", std::make_unique<FlushEveryAnswer>());
    });
  }
};

}  // namespace

TEST_CASE("the answers of one read batch go out with one flush, when the batch completes") {
  Fixture f;
  f.channel->write_inbound(bytes("a"), bytes("b"), bytes("c"));
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{3});
  CHECK(f.channel->outbound_count() == 3);
  f.channel->write_inbound(bytes("d"));
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{3, 4});
}

TEST_CASE("every flush_after-th held flush goes through during a long batch") {
  Fixture f(2);
  f.channel->write_inbound(bytes("1"), bytes("2"), bytes("3"), bytes("4"), bytes("5"));
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{2, 4, 5});
  CHECK(f.channel->outbound_count() == 5);
}

TEST_CASE("a flush outside a read batch goes through at once") {
  Fixture f;
  f.channel->pipeline().write(bytes("x"));
  f.channel->pipeline().flush();
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{1});
}

TEST_CASE("consolidating outside reads holds flushes until the end of the loop's iteration") {
  Fixture f(3, true);
  f.channel->pipeline().write(bytes("x"));
  f.channel->pipeline().flush();
  f.channel->pipeline().write(bytes("y"));
  f.channel->pipeline().flush();
  CHECK(f.log->writes_at_flush.empty());
  f.channel->run_pending();
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{2});
  // flush_after still bounds what is held.
  for (const char* text : {"1", "2", "3"}) {
    f.channel->pipeline().write(bytes(text));
    f.channel->pipeline().flush();
  }
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{2, 5});
  f.channel->run_pending();
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{2, 5});  // nothing left held
}

TEST_CASE("held flushes go out before a close") {
  Fixture f;
  f.channel->write_inbound(bytes("a"), bytes("close"), bytes("never read"));
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{2});
  CHECK(f.channel->outbound_count() == 2);
  CHECK_FALSE(f.channel->is_open());
}

TEST_CASE("held flushes go out when the handler is removed") {
  Fixture f(8, true);
  f.channel->pipeline().write(bytes("x"));
  f.channel->pipeline().flush();
  CHECK(f.log->writes_at_flush.empty());
  f.channel->pipeline().remove("consolidate");
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{1});
  f.channel->run_pending();  // the end-of-iteration flush finds the handler gone
  CHECK(f.log->writes_at_flush == std::vector<std::size_t>{1});
}

TEST_CASE("flush_after must be at least one") {
  CHECK_THROWS_AS(FlushConsolidationHandler(0), std::invalid_argument);
}
