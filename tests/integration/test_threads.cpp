// Channels used from threads that are not their loop's.

#include <poll.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

// "<thread>:<sequence, 8 digits>\n": fixed-size records, so the stream parses without framing.
std::string record(int thread, int sequence) {
  char text[16];
  std::snprintf(text, sizeof text, "%d:%08d\n", thread, sequence);
  return text;
}
constexpr std::size_t kRecordSize = 11;

}  // namespace

TEST_CASE("writes from four non-loop threads arrive at the peer in per-thread order") {
  constexpr int kThreads = 4;
  constexpr int kMessages = 2000;
  ProcessHealth health;
  Peers server_peers;
  EventLoopGroup server_loops(1, "threads-server");
  EventLoopGroup client_loops(1, "threads-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(client_loops);
  ChannelPtr channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();

  auto succeeded = std::make_shared<std::atomic<int>>(0);
  auto failed = std::make_shared<std::atomic<int>>(0);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([t, channel, succeeded, failed] {
      for (int i = 0; i < kMessages; ++i) {
        channel->write_and_flush(to_buffer(record(t, i)), [succeeded, failed](const Error& error) {
          ++*(error ? failed : succeeded);
        });
      }
    });
  }
  for (auto& writer : writers)
    writer.join();

  const std::size_t total = kThreads * kMessages * kRecordSize;
  REQUIRE_MESSAGE(server_peer->wait_received(total, kLongWait), "received ",
                  server_peer->received_count(), " of ", total);
  CHECK(eventually([&] { return succeeded->load() == kThreads * kMessages; }));
  CHECK(failed->load() == 0);

  const std::string bytes = server_peer->received_bytes();
  REQUIRE(bytes.size() == total);
  std::vector<int> next(kThreads, 0);
  bool well_formed = true;
  for (std::size_t at = 0; at < bytes.size(); at += kRecordSize) {
    const int thread = bytes[at] - '0';
    if (thread < 0 || thread >= kThreads || bytes[at + 1] != ':' || bytes[at + 10] != '\n') {
      well_formed = false;
      break;
    }
    const int sequence = std::stoi(bytes.substr(at + 2, 8));
    if (sequence != next[thread]) {
      FAIL_CHECK("thread ", thread, ": message ", sequence, " arrived where ", next[thread],
                 " was due (offset ", at, ")");
      break;
    }
    ++next[thread];
  }
  CHECK(well_formed);
  for (int t = 0; t < kThreads; ++t)
    CHECK(next[t] == kMessages);

  channel->close();
  await(channel->close_future());
  server->close();
}

TEST_CASE(
    "a write queued from another thread counts toward pending bytes at once, so is_writable() "
    "turns false before the loop has even seen it") {
  ProcessHealth health;
  Peers server_peers;
  EventLoopGroup loops(1, "threads-foreign");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(loops);
  ChannelOptions options;
  options.write_high_water_mark = 64 * kKiB;
  options.write_low_water_mark = 32 * kKiB;
  client.options(options);
  ChannelPtr channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();

  // Hold the loop in a task, so nothing queued to it runs yet.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto holding = std::make_shared<std::promise<void>>();
  loops.at(0).execute([holding, released] {
    holding->set_value();
    released.wait_for(std::chrono::seconds(30));  // bounded, should the test fail first
  });
  REQUIRE(holding->get_future().wait_for(kShortWait) == std::future_status::ready);

  const std::string payload = make_pattern(100 * kKiB, 5);
  CHECK(channel->is_writable());
  channel->write_and_flush(to_buffer(payload));
  CHECK(channel->pending_write_bytes() >= payload.size());
  CHECK_FALSE(channel->is_writable());

  release.set_value();
  REQUIRE(server_peer->wait_received(payload.size()));
  CHECK(server_peer->received_bytes() == payload);
  CHECK(eventually([&] { return channel->is_writable() && channel->pending_write_bytes() == 0; }));

  channel->close();
  await(channel->close_future());
  server->close();
}

TEST_CASE(
    "writes from other threads racing a close each complete exactly once, sent or failed with "
    "ChannelErrc::closed") {
  constexpr int kThreads = 4;
  constexpr int kMessages = 5000;
  ProcessHealth health;
  Peers server_peers;
  EventLoopGroup server_loops(1, "race-server");
  EventLoopGroup client_loops(1, "race-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(client_loops);
  ChannelPtr channel = await(endpoint.connect(client));

  auto succeeded = std::make_shared<std::atomic<int>>(0);
  auto closed = std::make_shared<std::atomic<int>>(0);
  auto other = std::make_shared<std::atomic<int>>(0);
  std::atomic<int> started{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&started, t, channel, succeeded, closed, other] {
      ++started;
      for (int i = 0; i < kMessages; ++i) {
        channel->write_and_flush(to_buffer(record(t, i)),
                                 [succeeded, closed, other](const Error& error) {
                                   if (!error) {
                                     ++*succeeded;
                                   } else if (error == ChannelErrc::closed) {
                                     ++*closed;
                                   } else {
                                     ++*other;
                                   }
                                 });
      }
    });
  }
  REQUIRE(eventually([&] { return started.load() == kThreads; }));
  channel->close();
  for (auto& writer : writers)
    writer.join();
  await(channel->close_future());

  const int total = kThreads * kMessages;
  REQUIRE_MESSAGE(eventually([&] { return *succeeded + *closed + *other == total; }), *succeeded,
                  " sent + ", *closed, " closed + ", *other, " other of ", total);
  CHECK(other->load() == 0);
  // What was sent arrived, whole records only.
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_inactive());
  CHECK(server_peer->received_count() ==
        static_cast<std::uint64_t>(succeeded->load()) * kRecordSize);
  server->close();
}

TEST_CASE("a write from another thread to a channel whose loop has stopped fails with closed") {
  ProcessHealth health;
  Peers server_peers;
  // The groups outlive every channel reference: a channel points at its loop, which its group
  // owns.
  EventLoopGroup server_loops(1, "stopped-server");
  EventLoopGroup client_loops(1, "stopped-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(client_loops);
  ChannelPtr channel = await(endpoint.connect(client));
  client_loops.shutdown_gracefully();
  REQUIRE(client_loops.is_terminated());
  CHECK_FALSE(channel->is_open());

  // The loop takes no more tasks: the write fails at once, on this thread, and its buffer goes.
  auto outcome = std::make_shared<Promise<WriteOutcome>>();
  channel->write_and_flush(to_buffer("into the void"), complete_with(outcome));
  const Error error = await(outcome->future()).error;
  CHECK_MESSAGE(error == ChannelErrc::closed, error.message());
  CHECK(channel->pending_write_bytes() == 0);
  channel.reset();  // the last reference, dropped here: the loop is gone
  server->close();
}

namespace {

// A blocking client socket connected to `address`.
Fd connect_blocking(const SocketAddress& address) {
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  REQUIRE(::connect(fd.get(), address.native(), address.length()) == 0);
  return fd;
}

// True when the server closes `fd` (end of stream, or a reset) within the bound.
bool closed_by_server(const Fd& fd) {
  pollfd readable{fd.get(), POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(kShortWait.count())) != 1) return false;
  char byte;
  return ::recv(fd.get(), &byte, 1, 0) <= 0;
}

}  // namespace

// An acceptor loop handed its connections to the worker loops through their group: a worker
// group destroyed before the acceptor's (declared after it, it is destroyed first) was read
// after it was freed at the next accept (ASan: heap-use-after-free).
TEST_CASE("a server whose worker group is gone closes what its acceptor loop accepts") {
  ProcessHealth health;
  EventLoopGroup acceptor(1, "acceptor");
  auto workers = std::make_unique<EventLoopGroup>(2, "workers");
  const EventLoop* worker_loops[] = {&workers->at(0), &workers->at(1)};
  std::atomic<int> on_workers{0};
  std::atomic<int> elsewhere{0};
  ServerBootstrap bootstrap;
  bootstrap.group(acceptor, *workers).child_initializer([&](Channel& channel) {
    const bool on_worker = &channel.loop() == worker_loops[0] || &channel.loop() == worker_loops[1];
    ++(on_worker ? on_workers : elsewhere);
  });
  const Ref<Server> server = await(bootstrap.bind("127.0.0.1", 0));
  const SocketAddress address = server->local_address();
  {
    const Fd first = connect_blocking(address);
    const Fd second = connect_blocking(address);
    CHECK(eventually([&] { return on_workers.load() == 2; }));
    workers.reset();  // closes both connections as its loops stop
    CHECK(closed_by_server(first));
    CHECK(closed_by_server(second));
  }
  const Fd late = connect_blocking(address);  // accepted, with no worker loop left to run it
  CHECK(closed_by_server(late));
  CHECK(on_workers.load() == 2);
  CHECK(elsewhere.load() == 0);
  await(server->close());
  acceptor.shutdown_gracefully();
}
