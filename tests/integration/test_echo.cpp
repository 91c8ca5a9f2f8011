// Echo round trips through a server running the example EchoHandler, over IPv4, IPv6 and
// Unix-domain loopback, from one byte to 64 MiB, and with a thousand connections at once.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "echo/echo_handler.hpp"
#include "sluice/buffer/composite_buffer.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

ChannelInitializer echo_initializer() {
  return [](Channel& channel) {
    channel.pipeline().add_last("echo", std::make_unique<examples::EchoHandler>());
  };
}

// Sends `size` bytes from a client to an echo server and requires exactly those bytes back.
void check_echo(Family family, std::size_t size) {
  INFO(family_name(family), ", ", size, " bytes");
  ProcessHealth health;
  EventLoopGroup server_loops(1, "echo-server");
  EventLoopGroup client_loops(1, "echo-client");
  Endpoint endpoint(family);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(echo_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  auto payload = std::make_shared<const std::string>(make_pattern(size, size));
  auto peer = std::make_shared<Peer>();
  peer->expected = payload;
  peer->keep_bytes = false;
  Bootstrap client;
  client.group(client_loops).initializer([peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(peer));
  });
  ChannelPtr channel = await(endpoint.connect(client));
  CHECK(channel->is_active());

  // Written from this (non-loop) thread in 256 KiB buffers, flushed once.
  for (std::size_t offset = 0; offset < size; offset += 256 * kKiB) {
    channel->write(to_buffer(std::string_view(*payload).substr(offset, 256 * kKiB)));
  }
  channel->flush();

  REQUIRE_MESSAGE(peer->wait_received(size, kLongWait), "received ", peer->received_count(), " of ",
                  size, " bytes");
  CHECK(peer->mismatch() == kNoMismatch);
  channel->close();
  await(channel->close_future());
  CHECK(peer->received_count() == size);  // nothing after the payload either
  CHECK(peer->error_list().empty());
  server->close();
}

}  // namespace

TEST_CASE("1 byte, 64 KiB and 64 MiB echo back byte-exact over IPv4 loopback") {
  SUBCASE("1 byte") {
    check_echo(Family::kIPv4, 1);
  }
  SUBCASE("64 KiB") {
    check_echo(Family::kIPv4, 64 * kKiB);
  }
  SUBCASE("64 MiB") {
    check_echo(Family::kIPv4, 64 * kMiB);
  }
}

TEST_CASE("1 byte, 64 KiB and 64 MiB echo back byte-exact over IPv6 loopback") {
  if (!ipv6_loopback_available()) {
    MESSAGE("skipped: this host has no IPv6 loopback (::1)");
    return;
  }
  SUBCASE("1 byte") {
    check_echo(Family::kIPv6, 1);
  }
  SUBCASE("64 KiB") {
    check_echo(Family::kIPv6, 64 * kKiB);
  }
  SUBCASE("64 MiB") {
    check_echo(Family::kIPv6, 64 * kMiB);
  }
}

TEST_CASE("1 byte, 64 KiB and 64 MiB echo back byte-exact over a Unix-domain socket") {
  SUBCASE("1 byte") {
    check_echo(Family::kUnix, 1);
  }
  SUBCASE("64 KiB") {
    check_echo(Family::kUnix, 64 * kKiB);
  }
  SUBCASE("64 MiB") {
    check_echo(Family::kUnix, 64 * kMiB);
  }
}

TEST_CASE("a thousand concurrent connections each get their own message echoed back") {
  constexpr std::size_t kConnections = 1000;
  ProcessHealth health;
  EventLoopGroup server_loops(2, "echo-server");
  EventLoopGroup client_loops(2, "echo-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(echo_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  // Every connection writes its own message as soon as it is active: all of them are in
  // flight at once.
  std::vector<std::shared_ptr<Peer>> peers;
  std::vector<Future<ChannelPtr>> connects;
  for (std::size_t i = 0; i < kConnections; ++i) {
    auto message = std::make_shared<const std::string>("connection " + std::to_string(i) + ": " +
                                                       make_pattern(1000 + i, i));
    auto peer = std::make_shared<Peer>();
    peer->expected = message;
    peer->on_active = [message](HandlerContext& ctx) { ctx.write_and_flush(to_buffer(*message)); };
    Bootstrap client;
    client.group(client_loops).initializer([peer](Channel& channel) {
      channel.pipeline().add_last("collector", std::make_unique<Collector>(peer));
    });
    connects.push_back(endpoint.connect(client));
    peers.push_back(std::move(peer));
  }
  std::vector<ChannelPtr> channels;
  for (auto& connect : connects)
    channels.push_back(await(connect, kLongWait));

  std::size_t complete = 0;
  for (std::size_t i = 0; i < kConnections; ++i) {
    const std::size_t expected = peers[i]->expected->size();
    if (peers[i]->wait_received(expected, kLongWait) && peers[i]->mismatch() == kNoMismatch &&
        peers[i]->received_count() == expected) {
      ++complete;
    } else {
      INFO("connection ", i, " received ", peers[i]->received_count(), " of ", expected,
           " bytes; first mismatch at ", peers[i]->mismatch());
      CHECK(false);
    }
  }
  CHECK(complete == kConnections);
  CHECK(server_loops.metrics().accepted == static_cast<std::int64_t>(kConnections));

  for (auto& channel : channels)
    channel->close();
  for (auto& channel : channels)
    await(channel->close_future());
  // The server sees every client go (EOF) and closes its side.
  CHECK(eventually([&] { return server_loops.metrics().active_channels == 0; }, kLongWait));
  server->close();
}

TEST_CASE(
    "one flush of more buffers and composite components than IOV_MAX arrives byte-exact and in "
    "order") {
  ProcessHealth health;
  EventLoopGroup server_loops(1, "iov-server");
  EventLoopGroup client_loops(1, "iov-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(echo_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  // 3000 buffers, a composite of 2500 components, 3000 buffers: far over the 1024 iovecs one
  // sendmsg takes, with message boundaries inside and across the batches.
  const std::string before = make_pattern(3000 * 37, 1);
  const std::string inside = make_pattern(2500 * 41, 2);
  const std::string after = make_pattern(3000 * 29, 3);
  auto expected = std::make_shared<const std::string>(before + inside + after);
  auto peer = std::make_shared<Peer>();
  peer->expected = expected;
  Bootstrap client;
  client.group(client_loops).initializer([peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(peer));
  });
  ChannelPtr channel = await(endpoint.connect(client));

  auto written = std::make_shared<Promise<WriteOutcome>>();
  channel->loop().execute([expected, written, channel] {
    const std::string_view bytes = *expected;
    std::size_t at = 0;
    auto next = [&](std::size_t length) {
      at += length;
      return to_buffer(bytes.substr(at - length, length));
    };
    for (std::size_t i = 0; i < 3000; ++i)
      channel->write(next(37));
    CompositeBuffer composite;
    for (std::size_t i = 0; i < 2500; ++i)
      composite.append(next(41));
    channel->write(std::move(composite));
    for (std::size_t i = 0; i < 3000; ++i) {
      channel->write(next(29), i == 2999 ? complete_with(written) : WriteCallback());
    }
    channel->flush();
  });
  const Error error = await(written->future()).error;
  CHECK_MESSAGE(!error, error.message());
  REQUIRE_MESSAGE(peer->wait_received(expected->size(), kLongWait), "received ",
                  peer->received_count(), " of ", expected->size());
  CHECK(peer->mismatch() == kNoMismatch);
  channel->close();
  await(channel->close_future());
  server->close();
}
