// sluice-echo-client --bench's connection handler, through an EmbeddedChannel standing in for
// the echo server: what it sends, how it checks and counts what comes back.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "bench_connection.hpp"
#include "sluice/channel/embedded_channel.hpp"

using namespace sluice;
using sluice::examples::BenchConnection;
using sluice::examples::BenchState;

namespace {

struct Bench {
  std::shared_ptr<BenchState> state;
  Ref<EmbeddedChannel> channel;

  Bench(std::size_t size, std::size_t depth) : state(std::make_shared<BenchState>(size, depth)) {
    channel = EmbeddedChannel::create(
        [this](Pipeline& p) { p.add_last("bench", std::make_unique<BenchConnection>(state)); });
  }

  // The bytes of every message the connection has sent so far, in order.
  std::string sent() {
    std::string bytes;
    for (Message message = channel->read_outbound(); message; message = channel->read_outbound())
      bytes += std::string(message.as<Buffer>().readable_view());
    return bytes;
  }
  // Hands `bytes` to the connection as the server's reply, in pieces of `piece` bytes.
  void reply(const std::string& bytes, std::size_t piece) {
    for (std::size_t at = 0; at < bytes.size(); at += piece)
      channel->write_inbound(Buffer::copy_of(std::string_view(bytes).substr(at, piece)));
  }
};

}  // namespace

TEST_CASE("depth messages go out at once, and each echoed one is replaced by the next") {
  Bench bench(5, 3);
  bench.state->measuring = true;
  const std::string first = bench.sent();
  REQUIRE(first.size() == 15);
  bench.reply(first, 4);  // pieces that straddle the messages
  const std::string second = bench.sent();
  REQUIRE(second.size() == 15);
  CHECK(second != first);  // message m carries (m + i) mod 256: no two are alike
  bench.state->sending = false;
  bench.reply(second, 7);
  CHECK_FALSE(bench.channel->is_open());  // the last reply in, the connection ends
  CHECK(bench.state->messages == 6);
  CHECK(bench.state->errors == 0);
  CHECK(bench.state->latencies.total() == 6);
}

TEST_CASE("a changed byte is an error") {
  Bench bench(4, 1);
  bench.state->measuring = true;
  std::string reply = bench.sent();
  reply[2] = static_cast<char>(reply[2] ^ 1);
  bench.state->sending = false;
  bench.reply(reply, 4);
  CHECK_FALSE(bench.channel->is_open());
  CHECK(bench.state->errors == 1);
}

TEST_CASE("only messages echoed while measuring are counted") {
  // The run's clock starts once every connection is up and stops when sending does: messages
  // echoed before (while the others connect) or after (draining) are outside its time.
  Bench bench(4, 2);
  bench.reply(bench.sent(), 4);  // before the start
  bench.state->measuring = true;
  bench.reply(bench.sent(), 4);
  bench.reply(bench.sent(), 4);
  bench.state->measuring = false;
  bench.state->sending = false;
  bench.reply(bench.sent(), 4);  // draining
  CHECK_FALSE(bench.channel->is_open());
  CHECK(bench.state->messages == 4);
  CHECK(bench.state->latencies.total() == 4);
  CHECK(bench.state->errors == 0);
}

TEST_CASE("bytes beyond what was sent are an error, and end the connection") {
  Bench bench(4, 1);
  bench.state->measuring = true;
  const std::string message = bench.sent();
  bench.state->sending = false;
  bench.reply(message + message, 8);  // a server that echoes twice
  CHECK_FALSE(bench.channel->is_open());
  CHECK(bench.state->errors >= 1);
  CHECK(bench.state->messages == 1);
  CHECK(bench.state->latencies.total() == 1);
}

TEST_CASE("a connection that ends with messages in flight counts an error") {
  Bench bench(4, 2);
  bench.state->measuring = true;
  bench.sent();
  bench.channel->finish();
  CHECK(bench.state->errors == 1);
  CHECK(bench.state->messages == 0);
}
