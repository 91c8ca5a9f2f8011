// Backpressure: water marks and writability on the writing side, auto_read on the reading side.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/core/submit.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

// Turns auto_read off once `threshold` bytes have arrived, then passes everything on.
class PauseReadingAfter final : public ChannelHandler {
 public:
  PauseReadingAfter(std::size_t threshold, std::shared_ptr<std::atomic<bool>> paused)
      : threshold_(threshold), paused_(std::move(paused)) {}

  void on_read(HandlerContext& ctx, Message&& message) override {
    seen_ += message.bytes();
    if (seen_ >= threshold_ && !paused_->load()) {
      ctx.channel().set_auto_read(false);
      paused_->store(true);
    }
    ctx.fire_read(std::move(message));
  }

 private:
  std::size_t threshold_;
  std::shared_ptr<std::atomic<bool>> paused_;
  std::size_t seen_ = 0;
};

// With auto_read off, asks for each batch itself: one read() when active, then one more from
// every read_complete, as a decoder waiting for the rest of a frame does. Echoes what it gets.
class ReadOnDemandEcho final : public ChannelHandler {
 public:
  void on_active(HandlerContext& ctx) override {
    ctx.read();
    ctx.fire_active();
  }
  void on_read(HandlerContext& ctx, Message&& message) override { ctx.write(std::move(message)); }
  void on_read_complete(HandlerContext& ctx) override {
    ctx.flush();
    ctx.read();
  }
};

// A blocking loopback client with a receive timeout, so that a stalled server fails the test.
class BlockingClient {
 public:
  explicit BlockingClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    REQUIRE(fd_ >= 0);
    const timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  ~BlockingClient() { ::close(fd_); }
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // Sends `text` and returns what comes back, up to its length ("" on timeout).
  std::string round_trip(std::string_view text) {
    REQUIRE(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(text.size()));
    std::string reply;
    char chunk[256];
    while (reply.size() < text.size()) {
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got <= 0) break;
      reply.append(chunk, static_cast<std::size_t>(got));
    }
    return reply;
  }

 private:
  int fd_;
};

// Connects a client that reads nothing until set_auto_read(true), into `peer`, with a small
// receive buffer so that little of what is sent to it fits in its kernel.
ChannelPtr connect_not_reading(Endpoint& endpoint, EventLoopGroup& loops,
                               const std::shared_ptr<Peer>& peer) {
  ChannelOptions options;
  options.auto_read = false;
  options.receive_buffer = 64 * kKiB;
  Bootstrap client;
  client.group(loops).options(options).initializer([peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(peer));
  });
  return await(endpoint.connect(client));
}

struct FillResult {
  std::size_t written = 0;
  std::size_t pending = 0;
  bool writable = true;
};

}  // namespace

TEST_CASE(
    "a channel whose peer does not read turns unwritable above the high water mark and writable "
    "again below the low one, with on_writability_changed at each crossing") {
  constexpr std::size_t kHigh = 256 * kKiB;
  constexpr std::size_t kLow = 64 * kKiB;
  constexpr std::size_t kChunk = 32 * kKiB;
  ProcessHealth health;
  Peers server_peers;
  EventLoopGroup server_loops(1, "bp-server");
  EventLoopGroup client_loops(1, "bp-client");
  Endpoint endpoint(Family::kIPv4);
  ChannelOptions server_options;
  server_options.write_high_water_mark = kHigh;
  server_options.write_low_water_mark = kLow;
  server_options.send_buffer = 64 * kKiB;  // keep what the kernel absorbs small
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops)
      .child_options(server_options)
      .child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  // The client does not read until told to.
  auto payload = std::make_shared<const std::string>(make_pattern(16 * kMiB, 7));
  auto client_peer = std::make_shared<Peer>();
  client_peer->expected = payload;
  client_peer->keep_bytes = false;
  ChannelPtr client_channel = connect_not_reading(endpoint, client_loops, client_peer);
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();
  REQUIRE(server_channel);

  // On the server's loop: write and flush chunks while the channel stays writable.
  // The promise travels in the task by value: the task may still be inside set_value() when
  // this thread, woken, moves on.
  auto filled = std::make_shared<Promise<FillResult>>();
  server_channel->loop().execute([filled, server_channel, payload] {
    FillResult result;
    while (server_channel->is_writable() && result.written + kChunk <= payload->size()) {
      server_channel->write_and_flush(
          to_buffer(std::string_view(*payload).substr(result.written, kChunk)));
      result.written += kChunk;
    }
    result.pending = server_channel->pending_write_bytes();
    result.writable = server_channel->is_writable();
    filled->set_value(result);
  });
  const FillResult fill = await(filled->future());
  REQUIRE_MESSAGE(!fill.writable, "still writable after ", fill.written, " bytes");
  CHECK(fill.pending > kHigh);
  CHECK(fill.written < payload->size());
  CHECK_FALSE(server_channel->is_writable());  // as other threads see it too
  {
    const auto [events, pending] = server_peer->read(
        [](const Peer& p) { return std::make_pair(p.writability, p.pending_at_writability); });
    REQUIRE(events.size() == 1);
    CHECK(events[0] == false);
    CHECK(pending[0] > kHigh);
  }

  // The client starts reading: the server drains and turns writable again, once.
  client_channel->set_auto_read(true);
  REQUIRE(server_peer->wait([](const Peer& p) { return p.writability.size() >= 2; }, kLongWait));
  {
    const auto [events, pending] = server_peer->read(
        [](const Peer& p) { return std::make_pair(p.writability, p.pending_at_writability); });
    REQUIRE(events.size() == 2);
    CHECK(events[1] == true);
    CHECK(pending[1] < kLow);
  }
  REQUIRE(client_peer->wait_received(fill.written, kLongWait));
  CHECK(client_peer->mismatch() == kNoMismatch);
  CHECK(server_channel->is_writable());
  CHECK(eventually([&] { return server_channel->pending_write_bytes() == 0; }));
  CHECK(client_peer->received_count() == fill.written);
  CHECK(server_peer->read([](const Peer& p) { return p.writability.size(); }) == 2);

  client_channel->close();
  await(server_channel->close_future());
  server->close();
}

TEST_CASE(
    "a server that turns auto_read off while its peer floods it keeps memory bounded, and "
    "drains everything byte-exact once it reads again") {
  constexpr std::size_t kTotal = 64 * kMiB;
  // What may be live while the flood is held back: the client's outbound buffer (at most its
  // high water mark, 64 KiB, plus one 64 KiB chunk) and the server's one read batch in flight
  // (at most 16 reads of up to 128 KiB). 4 MiB is twice that, and 1/16 of the flood:
  // a transport that buffered what it should leave in the kernel would exceed it at once.
  constexpr std::int64_t kLiveBound = 4 * kMiB;
  ProcessHealth health;
  Peers server_peers;
  auto paused = std::make_shared<std::atomic<bool>>(false);
  auto payload = std::make_shared<const std::string>(make_pattern(kTotal, 11));
  server_peers.set_setup([payload](Peer& peer) {
    peer.expected = payload;
    peer.keep_bytes = false;
  });
  EventLoopGroup server_loops(1, "flood-server");
  EventLoopGroup client_loops(1, "flood-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer([&server_peers, paused](Channel& channel) {
    channel.pipeline().add_last("pause", std::make_unique<PauseReadingAfter>(1 * kMiB, paused));
    channel.pipeline().add_last("collector", std::make_unique<Collector>(server_peers.add()));
  });
  Ref<Server> server = endpoint.bind(server_bootstrap);

  auto written = std::make_shared<std::atomic<std::uint64_t>>(0);
  Bootstrap client;
  client.group(client_loops).initializer([payload, written](Channel& channel) {
    channel.pipeline().add_last("writer",
                                std::make_unique<PacedWriter>(payload, 64 * kKiB, written));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();

  std::int64_t max_live = 0;
  auto sample = [&max_live] {
    max_live = std::max(max_live, PooledAllocator::metrics().live_bytes);
  };

  // The server pauses after 1 MiB; the client then fills the kernel's buffers and stalls.
  REQUIRE(eventually([&] { return paused->load(); }, kLongWait));
  std::uint64_t last = written->load();
  int steady = 0;
  const bool stalled = eventually(
      [&] {
        sample();
        std::this_thread::sleep_for(20ms);
        const std::uint64_t now = written->load();
        steady = now == last ? steady + 1 : 0;
        last = now;
        return steady >= 25;  // no progress for half a second
      },
      kLongWait);
  REQUIRE(stalled);
  const std::uint64_t received_while_paused = server_peer->received_count();
  INFO("client wrote ", last, " bytes, server read ", received_while_paused, " before pausing");
  CHECK(last < kTotal);  // the flood is held back...
  std::this_thread::sleep_for(100ms);
  sample();
  CHECK(server_peer->received_count() == received_while_paused);  // ...and nothing is read
  CHECK(max_live < kLiveBound);

  // Reading again drains the rest, byte-exact, with memory still bounded.
  ChannelPtr server_channel = server_peer->active_channel();
  REQUIRE(server_channel);
  server_channel->set_auto_read(true);
  REQUIRE(eventually(
      [&] {
        sample();
        return server_peer->received_count() >= kTotal;
      },
      kLongWait));
  CHECK(server_peer->mismatch() == kNoMismatch);
  CHECK(server_peer->received_count() == kTotal);
  CHECK(written->load() == kTotal);
  INFO("most live buffer bytes seen: ", max_live);
  CHECK(max_live < kLiveBound);

  client_channel->close();
  await(server_channel->close_future());
  server->close();
}

TEST_CASE("with auto_read off, a channel reads nothing until read(), and one batch per read()") {
  constexpr std::size_t kTotal = 4 * kMiB;
  ProcessHealth health;
  auto payload = std::make_shared<const std::string>(make_pattern(kTotal, 12));
  Peers server_peers;
  server_peers.set_setup([payload](Peer& peer) { peer.expected = payload; });
  EventLoopGroup server_loops(1, "read-server");
  EventLoopGroup client_loops(1, "read-client");
  Endpoint endpoint(Family::kIPv4);
  ChannelOptions server_options;
  server_options.auto_read = false;
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops)
      .child_options(server_options)
      .child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  auto written = std::make_shared<std::atomic<std::uint64_t>>(0);
  Bootstrap client;
  client.group(client_loops).initializer([payload, written](Channel& channel) {
    channel.pipeline().add_last("writer",
                                std::make_unique<PacedWriter>(payload, 64 * kKiB, written));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();

  REQUIRE(eventually([&] { return written->load() >= 64 * kKiB; }));
  std::this_thread::sleep_for(100ms);
  CHECK(server_peer->received_count() == 0);

  // A batch is at most max_messages_per_read reads of at most the sizer's maximum.
  const ChannelOptions defaults;
  const std::uint64_t kMaxBatch = defaults.max_messages_per_read * defaults.receive_sizing.maximum;
  std::uint64_t before = 0;
  for (int i = 0; i < 3; ++i) {
    server_channel->read();
    REQUIRE(server_peer->wait_received(before + 1));
    std::this_thread::sleep_for(100ms);  // any further read would show by now
    const std::uint64_t after = server_peer->received_count();
    INFO("read() #", i, " delivered ", after - before, " bytes");
    CHECK(after - before <= kMaxBatch);
    before = after;
  }
  CHECK(before < kTotal);

  server_channel->set_auto_read(true);
  REQUIRE(server_peer->wait_received(kTotal, kLongWait));
  CHECK(server_peer->mismatch() == kNoMismatch);
  CHECK(server_peer->received_count() == kTotal);
  client_channel->close();
  await(server_channel->close_future());
  server->close();
}

TEST_CASE("with auto_read off, a read() asked for while a batch is handled starts the next one") {
  ProcessHealth health;
  EventLoopGroup loops(1, "on-demand");
  ChannelOptions options;
  options.auto_read = false;
  ServerBootstrap bootstrap;
  bootstrap.group(loops).child_options(options).child_initializer([](Channel& channel) {
    channel.pipeline().add_last("echo", std::make_unique<ReadOnDemandEcho>());
  });
  Endpoint endpoint(Family::kIPv4);
  Ref<Server> server = endpoint.bind(bootstrap);
  {
    BlockingClient client(server->port());
    CHECK(client.round_trip("first") == "first");
    CHECK(client.round_trip("second") == "second");  // stalled when the read() was dropped
    CHECK(client.round_trip("third") == "third");
  }
  server->close();
}

namespace {

struct Delivery {
  std::uint64_t written = 0;
  std::uint64_t delivered = 0;
};

// Reads the channel's two counters on its loop.
Delivery delivery_of(const ChannelPtr& channel) {
  return await(submit(channel->loop(), [channel] {
    return Delivery{channel->bytes_written(), channel->bytes_delivered()};
  }));
}

}  // namespace

// bytes_written() moves only when the kernel takes more, which a full socket buffer does once
// a third of it has drained; bytes_delivered() is what the peer's side took, so it follows a
// slow reader (the idle handler's output progress counts it).
TEST_CASE("bytes_delivered() falls short of bytes_written() while the peer does not read") {
  constexpr std::size_t kPayload = 4 * kMiB;
  for (const Family family : {Family::kIPv4, Family::kUnix}) {
    INFO(family_name(family));
    ProcessHealth health;
    Peers server_peers;
    EventLoopGroup loops(1, "delivered");
    Endpoint endpoint(family);
    ServerBootstrap server_bootstrap;
    server_bootstrap.group(loops).child_initializer(server_peers.collecting_initializer());
    Ref<Server> server = endpoint.bind(server_bootstrap);
    auto client_peer = std::make_shared<Peer>();
    client_peer->keep_bytes = false;
    ChannelPtr client_channel = connect_not_reading(endpoint, loops, client_peer);
    std::shared_ptr<Peer> server_peer = server_peers.first();
    REQUIRE(server_peer->wait_active());
    ChannelPtr server_channel = server_peer->active_channel();
    REQUIRE(server_channel);
    server_channel->write_and_flush(to_buffer(make_pattern(kPayload, 3)));

    // The kernel takes what fits and holds it for a peer that does not read.
    Delivery stalled;
    REQUIRE(eventually([&] {
      stalled = delivery_of(server_channel);
      return stalled.written > 0 && server_channel->pending_write_bytes() > 0;
    }));
    CHECK(stalled.delivered < stalled.written);

    client_channel->set_auto_read(true);
    REQUIRE(client_peer->wait_received(kPayload, kLongWait));
    Delivery drained;
    CHECK(eventually([&] {
      drained = delivery_of(server_channel);
      return drained.delivered == kPayload;
    }));
    CHECK(drained.written == kPayload);

    client_channel->close();
    await(server_channel->close_future());
    server->close();
  }
}
