// Graceful shutdown of an event loop group that serves connections.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

// Takes its time over each read, as a slow consumer would, then passes it on.
class SlowReader final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    std::this_thread::sleep_for(200us);
    ctx.fire_read(std::move(message));
  }
};

struct WriteLog {
  std::mutex mutex;
  std::vector<Error> results;

  WriteCallback record() {
    return [this](const Error& error) {
      std::lock_guard lock(mutex);
      results.push_back(error);
    };
  }
  std::vector<Error> snapshot() {
    std::lock_guard lock(mutex);
    return results;
  }
};

// On active: writes `payload` in 1 MiB buffers, each reporting to `log`, and flushes.
std::function<void(HandlerContext&)> send_payload(std::shared_ptr<const std::string> payload,
                                                  std::shared_ptr<WriteLog> log) {
  return [payload, log](HandlerContext& ctx) {
    for (std::size_t offset = 0; offset < payload->size(); offset += kMiB) {
      ctx.write(to_buffer(std::string_view(*payload).substr(offset, kMiB)), log->record());
    }
    ctx.flush();
  };
}

}  // namespace

TEST_CASE(
    "graceful shutdown drains writes still pending to a slow reader before closing, and fires "
    "the close future") {
  constexpr std::size_t kPayload = 32 * kMiB;
  ProcessHealth health;
  auto payload = std::make_shared<const std::string>(make_pattern(kPayload, 32));
  auto log = std::make_shared<WriteLog>();
  Peers server_peers;
  server_peers.set_setup(
      [payload, log](Peer& peer) { peer.on_active = send_payload(payload, log); });
  EventLoopGroup client_loops(1, "drain-client");
  EventLoopGroup server_loops(1, "drain-server");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  auto client_peer = std::make_shared<Peer>();
  client_peer->expected = payload;
  client_peer->keep_bytes = false;
  ChannelOptions client_options;
  client_options.receive_sizing = ReceiveBufferSizing::fixed(16 * kKiB);
  client_options.receive_buffer = 64 * kKiB;
  Bootstrap client;
  client.group(client_loops).options(client_options).initializer([client_peer](Channel& channel) {
    channel.pipeline().add_last("slow", std::make_unique<SlowReader>());
    channel.pipeline().add_last("collector", std::make_unique<Collector>(client_peer));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();

  REQUIRE(client_peer->wait_received(kMiB, kLongWait));
  const std::size_t pending = server_channel->pending_write_bytes();
  INFO("pending at shutdown: ", pending);
  REQUIRE(pending > kMiB);  // there really is something to drain

  // Blocks until the server's loops are done: drained, closed, joined.
  server_loops.shutdown_gracefully(50ms, kLongWait);
  CHECK(server_loops.is_terminated());
  CHECK(server_channel->close_future().is_ready());
  CHECK_FALSE(server_channel->is_open());
  const std::vector<Error> results = log->snapshot();
  CHECK(results.size() == kPayload / kMiB);
  for (std::size_t i = 0; i < results.size(); ++i) {
    INFO("write ", i, ": ", results[i].message());
    CHECK_FALSE(results[i]);
  }

  // The client still gets every byte, then the end of the stream.
  REQUIRE_MESSAGE(client_peer->wait_received(kPayload, kLongWait), "received ",
                  client_peer->received_count(), " of ", kPayload);
  CHECK(client_peer->mismatch() == kNoMismatch);
  await(client_channel->close_future(), kLongWait);
  CHECK(client_peer->received_count() == kPayload);
}

TEST_CASE(
    "graceful shutdown closes idle channels, fires their close futures and stops accepting "
    "connections") {
  ProcessHealth health;
  Peers server_peers;
  EventLoopGroup client_loops(1, "idle-client");
  EventLoopGroup server_loops(2, "idle-server");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  const std::uint16_t port = server->port();

  std::vector<ChannelPtr> clients;
  for (int i = 0; i < 8; ++i) {
    Bootstrap client;
    client.group(client_loops);
    clients.push_back(await(endpoint.connect(client)));
  }
  REQUIRE(server_peers.wait_count(8));
  std::vector<ChannelPtr> accepted;
  for (std::size_t i = 0; i < 8; ++i) {
    REQUIRE(server_peers.at(i)->wait_active());
    accepted.push_back(server_peers.at(i)->active_channel());
  }

  server_loops.shutdown_gracefully(0ms, kShortWait);
  for (auto& channel : accepted)
    CHECK(channel->close_future().is_ready());
  for (auto& channel : clients)
    await(channel->close_future());  // they saw the server go

  Bootstrap late;
  late.group(client_loops);
  const Error error = await_error(late.connect("127.0.0.1", port));
  CHECK_MESSAGE(error == std::errc::connection_refused, error.message());
}

TEST_CASE(
    "graceful shutdown closes a channel whose writes cannot drain once its timeout passes, "
    "failing those writes") {
  ProcessHealth health;
  auto payload = std::make_shared<const std::string>(make_pattern(16 * kMiB, 16));
  auto log = std::make_shared<WriteLog>();
  Peers server_peers;
  server_peers.set_setup(
      [payload, log](Peer& peer) { peer.on_active = send_payload(payload, log); });
  EventLoopGroup client_loops(1, "stuck-client");
  EventLoopGroup server_loops(1, "stuck-server");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  // The client never reads.
  ChannelOptions client_options;
  client_options.auto_read = false;
  client_options.receive_buffer = 64 * kKiB;
  Bootstrap client;
  client.group(client_loops).options(client_options);
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();
  REQUIRE(eventually([&] { return server_loops.metrics().bytes_written > 0; }));

  const auto start = std::chrono::steady_clock::now();
  server_loops.shutdown_gracefully(0ms, 300ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < kShortWait);  // bounded by the timeout, not by the stuck peer
  CHECK(server_channel->close_future().is_ready());
  const std::vector<Error> results = log->snapshot();
  REQUIRE(results.size() == 16);
  CHECK(results.back());  // the last megabyte never left
  CHECK(server_peer->error_list().empty());
  client_channel->close();
  await(client_channel->close_future());
}
