// Client connects that fail: refused, never accepted (timeout), no socket file.

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/channel/socket_address.hpp"
#include "sluice/core/fd.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

// getaddrinfo(3) as libuv calls it for a Bootstrap: a name made up for a test resolves to the
// addresses the test gives it, each with its own port (this machine's names resolve to one
// address each, so no real name can show the connect moving from one address to the next).
// Every other name goes to libc. The entries come from libc's numeric resolution, chained, so
// that freeaddrinfo frees them as it frees its own.
namespace {
std::mutex fake_name_mutex;
std::string fake_name;                      // guarded by fake_name_mutex; "" when unarmed
std::vector<SocketAddress> fake_addresses;  // guarded by fake_name_mutex

// Resolves `name` to `addresses` for the length of a scope.
class FakeName {
 public:
  FakeName(std::string name, std::vector<SocketAddress> addresses) {
    std::lock_guard lock(fake_name_mutex);
    fake_name = std::move(name);
    fake_addresses = std::move(addresses);
  }
  FakeName(const FakeName&) = delete;
  FakeName& operator=(const FakeName&) = delete;
  ~FakeName() {
    std::lock_guard lock(fake_name_mutex);
    fake_name.clear();
    fake_addresses.clear();
  }
};
}  // namespace

extern "C" int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                           addrinfo** result) {
  using GetAddrInfo = int (*)(const char*, const char*, const addrinfo*, addrinfo**);
  static const auto real = reinterpret_cast<GetAddrInfo>(::dlsym(RTLD_NEXT, "getaddrinfo"));
  std::vector<SocketAddress> addresses;
  {
    std::lock_guard lock(fake_name_mutex);
    if (node != nullptr && !fake_name.empty() && fake_name == node) addresses = fake_addresses;
  }
  if (addresses.empty()) return real(node, service, hints, result);
  addrinfo numeric{};
  numeric.ai_socktype = SOCK_STREAM;
  numeric.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* head = nullptr;
  addrinfo** tail = &head;
  for (const SocketAddress& address : addresses) {
    const std::string port = std::to_string(address.port());
    if (const int rc = real(address.host().c_str(), port.c_str(), &numeric, tail); rc != 0) {
      if (head != nullptr) ::freeaddrinfo(head);
      return rc;
    }
    while (*tail != nullptr)
      tail = &(*tail)->ai_next;
  }
  *result = head;
  return 0;
}

namespace {

sockaddr_in loopback_v4(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

std::uint16_t port_of(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return ntohs(address.sin_port);
}

// A loopback port that nothing listens on: bound (so the kernel picks a free one), then
// closed without listening.
std::uint16_t unused_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  const sockaddr_in address = loopback_v4(0);
  REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  return port_of(fd.get());
}

// Starts a non-blocking connect to `port`; true when it completes within `wait`.
bool raw_connect(std::vector<Fd>& sockets, std::uint16_t port, std::chrono::milliseconds wait) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  const sockaddr_in address = loopback_v4(port);
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  REQUIRE((rc == 0 || errno == EINPROGRESS));
  pollfd watched{fd.get(), POLLOUT, 0};
  const bool completed = rc == 0 || ::poll(&watched, 1, static_cast<int>(wait.count())) == 1;
  sockets.push_back(std::move(fd));
  return completed;
}

// A loopback listener with backlog 0 that never accepts, its accept queue filled: the kernel
// drops further SYNs, so a connect to it neither completes nor fails.
struct StalledListener {
  Fd listener;
  std::vector<Fd> queued;  // the connections that filled its queue
  std::uint16_t port = 0;
};

StalledListener stalled_listener() {
  StalledListener stalled;
  stalled.listener = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(stalled.listener);
  const sockaddr_in any_port = loopback_v4(0);
  REQUIRE(::bind(stalled.listener.get(), reinterpret_cast<const sockaddr*>(&any_port),
                 sizeof any_port) == 0);
  REQUIRE(::listen(stalled.listener.get(), 0) == 0);
  stalled.port = port_of(stalled.listener.get());
  bool full = false;
  for (int i = 0; i < 8 && !full; ++i)
    full = !raw_connect(stalled.queued, stalled.port, 200ms);
  REQUIRE_MESSAGE(full, "the listener's queue never filled up");
  return stalled;
}

}  // namespace

TEST_CASE("connecting to a loopback port nobody listens on fails with ECONNREFUSED") {
  ProcessHealth health;
  EventLoopGroup loops(1, "connect");
  const std::uint16_t port = unused_port();
  Bootstrap client;
  client.group(loops);
  const Error error = await_error(client.connect("127.0.0.1", port));
  CHECK_MESSAGE(error == std::errc::connection_refused, error.message());
  CHECK_MESSAGE(error.message().find("127.0.0.1:" + std::to_string(port)) != std::string::npos,
                "the error names the address: ", error.message());
}

TEST_CASE("a connect the listener never accepts fails with connect_timeout after its timeout") {
  ProcessHealth health;
  const StalledListener stalled = stalled_listener();
  const std::uint16_t port = stalled.port;

  EventLoopGroup loops(1, "connect");
  ChannelOptions options;
  options.connect_timeout = 200ms;
  std::atomic<bool> initialized{false};
  Bootstrap client;
  client.group(loops).options(options).initializer([&](Channel&) { initialized = true; });
  const auto start = std::chrono::steady_clock::now();
  const Error error = await_error(client.connect("127.0.0.1", port));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK_MESSAGE(error == ChannelErrc::connect_timeout, error.message());
  CHECK_MESSAGE(error.message().find("127.0.0.1:" + std::to_string(port)) != std::string::npos,
                "the error names the address: ", error.message());
  // Generous bounds: it waited for (about) its timeout, and not for the kernel's SYN retries.
  CHECK(elapsed >= 150ms);
  CHECK(elapsed < 10s);
  CHECK_FALSE(initialized);  // the pipeline of a channel that never connected is never set up
  loops.shutdown_gracefully();
  CHECK(loops.metrics().active_channels == 0);
}

TEST_CASE("connecting to a Unix-domain path with no socket fails with an error naming the path") {
  ProcessHealth health;
  TempDir dir;
  EventLoopGroup loops(1, "connect");
  Bootstrap client;
  client.group(loops);
  const std::string path = dir.file("nobody.sock");
  const Error error = await_error(client.connect_unix(path));
  CHECK_MESSAGE(error == std::errc::no_such_file_or_directory, error.message());
  CHECK_MESSAGE(error.message().find(path) != std::string::npos, error.message());
}

TEST_CASE("an empty Unix-domain path is refused as invalid, and a long one as too long") {
  // An empty path was reported as "filename too long".
  ProcessHealth health;
  EventLoopGroup loops(1, "unix-paths");
  Bootstrap client;
  client.group(loops);
  ServerBootstrap server;
  server.group(loops);
  const std::string too_long(200, 'x');
  Error error = await_error(client.connect_unix(""));
  CHECK_MESSAGE(error == std::errc::invalid_argument, error.message());
  CHECK_MESSAGE(error.message().find("empty") != std::string::npos, error.message());
  error = await_error(server.bind_unix(""));
  CHECK_MESSAGE(error == std::errc::invalid_argument, error.message());
  CHECK_MESSAGE(error.message().find("empty") != std::string::npos, error.message());
  error = await_error(client.connect_unix(too_long));
  CHECK_MESSAGE(error == std::errc::filename_too_long, error.message());
  error = await_error(server.bind_unix(too_long));
  CHECK_MESSAGE(error == std::errc::filename_too_long, error.message());
}

TEST_CASE(
    "a Unix-domain connect to a listener whose backlog is full does not pass for connected: it "
    "fails or times out") {
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("full.sock");
  auto address = SocketAddress::from_unix_path(path);
  REQUIRE(address);
  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener);
  REQUIRE(::bind(listener.get(), address->native(), address->length()) == 0);
  REQUIRE(::listen(listener.get(), 0) == 0);
  // Fill its queue: non-blocking connects succeed until the backlog is full, then EAGAIN.
  std::vector<Fd> queued;
  bool full = false;
  for (int i = 0; i < 16 && !full; ++i) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    if (::connect(fd.get(), address->native(), address->length()) != 0) {
      REQUIRE(errno == EAGAIN);
      full = true;
    }
    queued.push_back(std::move(fd));
  }
  REQUIRE(full);

  EventLoopGroup loops(1, "connect");
  ChannelOptions options;
  options.connect_timeout = 300ms;
  auto peer = std::make_shared<Peer>();
  Bootstrap client;
  client.group(loops).options(options).initializer([peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(peer));
  });
  const Future<ChannelPtr> connect = client.connect_unix(path);
  REQUIRE(connect.wait_for(kShortWait));
  const Result<ChannelPtr>& result = connect.wait();
  if (result.ok()) {
    // Connected to what? Nothing accepted it, and nothing can: it must not claim to be active.
    FAIL_CHECK("connect_unix succeeded against a full backlog: ", result.value()->describe(),
               ", active: ", result.value()->is_active());
    result.value()->close();
    await(result.value()->close_future());
  } else {
    const Error& error = result.error();
    CHECK_MESSAGE((error == ChannelErrc::connect_timeout ||
                   error == std::errc::resource_unavailable_try_again),
                  error.message());
  }
  CHECK_FALSE(peer->read([](const Peer& p) { return p.active; }));
}

TEST_CASE("the bootstraps refuse options that cannot work when they are handed over") {
  ChannelOptions spinning;
  spinning.write_spin_count = 0;
  CHECK_THROWS_AS(Bootstrap().options(spinning), std::invalid_argument);
  CHECK_THROWS_AS(ServerBootstrap().child_options(spinning), std::invalid_argument);
  ChannelOptions no_time;
  no_time.connect_timeout = std::chrono::milliseconds(0);
  CHECK_THROWS_AS(Bootstrap().options(no_time), std::invalid_argument);
  ListenOptions no_accepts;
  no_accepts.max_accepts_per_wakeup = 0;
  CHECK_THROWS_AS(ServerBootstrap().listen_options(no_accepts), std::invalid_argument);
}

TEST_CASE("Bootstrap::loop puts every connection on that loop; group() goes back to turns") {
  ProcessHealth health;
  EventLoopGroup loops(3, "pinned");
  EventLoopGroup server_loops(1, "pinned-server");  // its accepts take no turn of `loops`
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer([](Channel&) {});
  Endpoint endpoint(Family::kIPv4);
  Ref<Server> server = endpoint.bind(server_bootstrap);
  std::vector<ChannelPtr> channels;
  Bootstrap client;
  client.loop(loops.at(1));
  for (int i = 0; i < 4; ++i) {
    channels.push_back(await(endpoint.connect(client)));
    CHECK(&channels.back()->loop() == &loops.at(1));
  }
  client.group(loops);
  std::vector<const EventLoop*> used;
  for (int i = 0; i < 3; ++i) {
    channels.push_back(await(endpoint.connect(client)));
    used.push_back(&channels.back()->loop());
  }
  std::sort(used.begin(), used.end());
  CHECK(std::unique(used.begin(), used.end()) == used.end());  // each of the three in turn
  for (const ChannelPtr& channel : channels) {
    channel->close();
    await(channel->close_future());
  }
  channels.clear();
  server->close();
  CHECK_THROWS_AS((void)Bootstrap().connect("127.0.0.1", 1), std::logic_error);
}

namespace {

// Connects `attempts` times to a loopback server, each client channel set up by
// `initializer`, and returns how each connect failed.
std::vector<Error> failed_connects(const std::function<void(Channel&)>& initializer, int attempts) {
  EventLoopGroup loops(1, "failing-init");
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer([](Channel&) {});
  Endpoint endpoint(Family::kIPv4);
  Ref<Server> server = endpoint.bind(server_bootstrap);
  std::vector<Error> errors;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    Bootstrap client;
    client.group(loops).initializer([&initializer](Channel& channel) { initializer(channel); });
    errors.push_back(await_error(endpoint.connect(client)));
  }
  server->close();
  return errors;
}

}  // namespace

TEST_CASE("an initializer that closes a connecting channel fails the connect, cleanly") {
  ProcessHealth health;
  for (const Error& error : failed_connects([](Channel& channel) { channel.close(); }, 3)) {
    CHECK_MESSAGE(error == ChannelErrc::closed, error.message());
  }
}

TEST_CASE("an initializer that throws fails the connect with its own error") {
  // The future used to say only "closed while connecting".
  ProcessHealth health;
  const auto errors =
      failed_connects([](Channel&) { throw std::runtime_error("no handler for this peer"); }, 1);
  REQUIRE(errors.size() == 1);
  CHECK_MESSAGE(errors[0].message().find("no handler for this peer") != std::string::npos,
                errors[0].message());
}

TEST_CASE(
    "a connect whose first flush from on_active meets a reset delivers the error, closes the "
    "channel and completes the connect with that channel") {
  // The peer accepts and resets before the client's on_active writes. The connect future used
  // to fail with "closed while connecting" although the handlers had seen the channel active:
  // with a name that resolves to several addresses, the bootstrap went on to the next one and
  // connected (and ran on_active) a second time.
  ProcessHealth health;
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener);
  const sockaddr_in address = loopback_v4(0);
  REQUIRE(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener.get(), 8) == 0);
  const std::uint16_t port = port_of(listener.get());

  EventLoopGroup loops(1, "connect-reset");
  auto peer = std::make_shared<Peer>();
  auto written = std::make_shared<Promise<WriteOutcome>>();
  peer->on_active = [written](HandlerContext& ctx) {
    ctx.write(to_buffer("hello"), complete_with(written));
    ctx.flush();
  };
  std::atomic<int> initialized{0};
  std::atomic<bool> reset_seen{false};
  const int listener_fd = listener.get();
  Bootstrap client;
  client.group(loops).initializer([&, peer](Channel& channel) {
    ++initialized;
    // The connect has completed (SO_ERROR said 0): the peer accepts it and resets it now,
    // before anything is written, and the reset is waited for.
    pollfd incoming{listener_fd, POLLIN, 0};
    if (::poll(&incoming, 1, 5000) == 1) {
      const Fd accepted(::accept4(listener_fd, nullptr, nullptr, SOCK_CLOEXEC));
      const linger abort{1, 0};
      ::setsockopt(accepted.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    }
    pollfd own{static_cast<StreamChannel&>(channel).fd(), POLLIN, 0};
    reset_seen = ::poll(&own, 1, 5000) == 1 && (own.revents & (POLLERR | POLLHUP)) != 0;
    channel.pipeline().add_last("collector", std::make_unique<Collector>(peer));
  });
  const Future<ChannelPtr> connect = client.connect("127.0.0.1", port);
  REQUIRE(connect.wait_for(kShortWait));
  REQUIRE(reset_seen);
  REQUIRE(peer->wait_inactive());

  const Result<ChannelPtr>& result = connect.wait();
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message()));
  CHECK_FALSE(result.value()->is_open());
  await(result.value()->close_future());
  const Error write_error = await(written->future()).error;
  CHECK_MESSAGE(
      (write_error == std::errc::connection_reset || write_error == std::errc::broken_pipe),
      write_error.message());
  const std::vector<Error> errors = peer->error_list();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == write_error.code());
  CHECK(initialized.load() == 1);
  loops.shutdown_gracefully();
  CHECK(loops.metrics().active_channels == 0);
}

namespace {

// Occupies every thread of libuv's pool until released, so that work queued meanwhile (a name
// lookup) waits in the pool's queue, where uv_cancel can still take it back.
class BlockedThreadPool {
 public:
  BlockedThreadPool() {
    // libuv's own reading of the variable: 4 unless set, at least 1.
    const char* configured = std::getenv("UV_THREADPOOL_SIZE");
    threads_ = configured != nullptr ? std::max(1, std::atoi(configured)) : 4;
    runner_ = std::thread([this] {
      uv_loop_t loop;
      uv_loop_init(&loop);
      std::vector<uv_work_t> work(static_cast<std::size_t>(threads_));
      for (uv_work_t& item : work) {
        item.data = this;
        uv_queue_work(
            &loop, &item,
            [](uv_work_t* request) {
              auto* self = static_cast<BlockedThreadPool*>(request->data);
              self->busy_.fetch_add(1);
              self->released_.wait();
            },
            [](uv_work_t*, int) {});
      }
      uv_run(&loop, UV_RUN_DEFAULT);
      uv_loop_close(&loop);
    });
    if (!eventually([&] { return busy_.load() == threads_; })) {
      release();
      runner_.join();
      FAIL("the pool's threads did not all start the blocking work");
    }
  }
  BlockedThreadPool(const BlockedThreadPool&) = delete;
  BlockedThreadPool& operator=(const BlockedThreadPool&) = delete;
  ~BlockedThreadPool() {
    release();
    if (runner_.joinable()) runner_.join();
  }

  void release() {
    if (!released_once_) {
      released_once_ = true;
      release_.set_value();
    }
  }

 private:
  int threads_ = 4;
  std::atomic<int> busy_{0};
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  bool released_once_ = false;
  std::thread runner_;
};

}  // namespace

TEST_CASE("a name still being resolved when its loop stops fails the connect, and the loop stops") {
  // The lookup, queued on libuv's pool, was nothing the loop knew of: stopping, the loop waited
  // in its final uv_run for the pool to get round to it (a slow resolver held the shutdown),
  // and then connected from a loop that had closed every handle, which a connect that
  // succeeded kept running, so the shutdown never returned.
  start_libuv_thread_pool();
  ProcessHealth health;
  const std::uint16_t port = unused_port();
  std::optional<Future<ChannelPtr>> connect;
  {
    BlockedThreadPool pool;
    EventLoopGroup loops(1, "resolving");
    Bootstrap client;
    client.group(loops);
    connect = client.connect("localhost", port);  // a name: resolved on the pool
    auto shutdown = std::async(std::launch::async, [&] { loops.shutdown_gracefully(); });
    const bool stopped = shutdown.wait_for(kShortWait) == std::future_status::ready;
    CHECK_MESSAGE(stopped, "the shutdown waited for the name lookup");
    pool.release();
    shutdown.get();
  }
  const Error error = await_error(*connect);
  CHECK_MESSAGE(error == std::errc::operation_canceled, error.message());
  CHECK_MESSAGE(error.message().find("localhost") != std::string::npos, error.message());
}

TEST_CASE("a name whose first address refuses is connected on its next: IPv6, then IPv4") {
  ProcessHealth health;
  const SocketAddress refused = refusing_address("::1");
  auto [listener, listening] = queue_only_listener("127.0.0.1");
  FakeName name("v6-then-v4.sluice.test", {refused, listening});
  EventLoopGroup loops(1, "fallback");
  std::atomic<int> initialized{0};
  Bootstrap client;
  client.group(loops).initializer([&](Channel&) { ++initialized; });
  const ChannelPtr channel = await(client.connect("v6-then-v4.sluice.test", 9));
  CHECK(channel->remote_address().to_string() == listening.to_string());
  CHECK(initialized.load() == 1);
  channel->close();
  await(channel->close_future());
  loops.shutdown_gracefully();
}

TEST_CASE("a name whose first address never answers is connected on its next after the timeout") {
  ProcessHealth health;
  const StalledListener stalled = stalled_listener();
  auto [listener, listening] = queue_only_listener("::1");
  FakeName name("stalled-then-v6.sluice.test",
                {*SocketAddress::from_numeric("127.0.0.1", stalled.port), listening});
  EventLoopGroup loops(1, "timeout-next");
  ChannelOptions options;
  options.connect_timeout = 200ms;
  Bootstrap client;
  client.group(loops).options(options);
  const ChannelPtr channel = await(client.connect("stalled-then-v6.sluice.test", 9));
  CHECK(channel->remote_address().to_string() == listening.to_string());
  channel->close();
  await(channel->close_future());
  loops.shutdown_gracefully();
}

TEST_CASE("an initializer that fails on a name's first address ends the connect there") {
  // The connection was made; what failed was this side's set-up. The bootstrap went on to the
  // name's next address all the same: it connected to a second server, ran the initializer a
  // second time, and reported what became of that.
  ProcessHealth health;
  auto [first, first_address] = queue_only_listener("::1");
  auto [second, second_address] = queue_only_listener("127.0.0.1");
  FakeName name("two-servers.sluice.test", {first_address, second_address});
  EventLoopGroup loops(1, "init-fails");
  std::atomic<int> initialized{0};
  Bootstrap client;
  client.group(loops).initializer([&](Channel&) {
    ++initialized;
    throw std::runtime_error("no handler for this peer");
  });
  const Error error = await_error(client.connect("two-servers.sluice.test", 9));
  CHECK_MESSAGE(error.message().find("no handler for this peer") != std::string::npos,
                error.message());
  CHECK(initialized.load() == 1);
  CHECK(has_queued_connection(first));
  CHECK_FALSE_MESSAGE(has_queued_connection(second), "the second server was connected to");
  loops.shutdown_gracefully();
}

TEST_CASE(
    "a connect its loop closes while shutting down fails as cancelled and tries no other "
    "address") {
  // Closed by its loop before it completed, the connect failed with "closed" as if the address
  // had refused it: the bootstrap went on to the name's next address and connected to a second
  // server while its loop was shutting down.
  start_libuv_thread_pool();
  ProcessHealth health;
  const StalledListener stalled = stalled_listener();
  auto [second, second_address] = queue_only_listener("127.0.0.1");
  FakeName name("stalled-then-second.sluice.test",
                {*SocketAddress::from_numeric("127.0.0.1", stalled.port), second_address});
  std::optional<Future<ChannelPtr>> connect;
  {
    EventLoopGroup loops(1, "stop-connect");
    Bootstrap client;
    client.group(loops);  // the default timeout: the first connect is still waiting at shutdown
    connect = client.connect("stalled-then-second.sluice.test", 9);
    // The name is resolved and its first address being connected to.
    REQUIRE(eventually([&] { return loops.metrics().active_channels == 1; }));
    loops.shutdown_gracefully();
  }
  const Error error = await_error(*connect);
  CHECK_MESSAGE(error == std::errc::operation_canceled, error.message());
  CHECK_MESSAGE(
      error.message().find("127.0.0.1:" + std::to_string(stalled.port)) != std::string::npos,
      error.message());
  CHECK_FALSE_MESSAGE(has_queued_connection(second), "the second server was connected to");
}

TEST_CASE("an address filter skips the addresses it refuses before any packet goes to them") {
  ProcessHealth health;
  auto [refused_listener, refused_address] = queue_only_listener("::1");
  auto [allowed_listener, allowed_address] = queue_only_listener("127.0.0.1");
  FakeName name("filtered.sluice.test", {refused_address, allowed_address});
  EventLoopGroup loops(1, "filter");
  std::vector<std::string> asked;
  Bootstrap client;
  client.group(loops).address_filter([&](const SocketAddress& address) {
    CHECK(loops.at(0).in_loop());
    asked.push_back(address.to_string());
    return address.family() == AF_INET;
  });
  const ChannelPtr channel = await(client.connect("filtered.sluice.test", 9));
  CHECK(channel->remote_address().to_string() == allowed_address.to_string());
  CHECK(asked == std::vector{refused_address.to_string(), allowed_address.to_string()});
  CHECK_FALSE_MESSAGE(has_queued_connection(refused_listener), "the refused address was reached");
  channel->close();
  await(channel->close_future());
  loops.shutdown_gracefully();
}

TEST_CASE("a connect whose every address is refused fails with address_refused, naming one") {
  ProcessHealth health;
  auto [listener, listening] = queue_only_listener("127.0.0.1");
  FakeName name("all-refused.sluice.test", {listening});
  EventLoopGroup loops(1, "refused");
  Bootstrap client;
  client.group(loops).address_filter(
      [](const SocketAddress& address) { return address.is_global(); });
  for (Future<ChannelPtr> connect :
       {client.connect("all-refused.sluice.test", 9), client.connect("127.0.0.1", listening.port()),
        client.connect(listening)}) {
    const Error error = await_error(connect);
    CHECK_MESSAGE(error == ChannelErrc::address_refused, error.message());
    CHECK_MESSAGE(error.message().find(listening.to_string()) != std::string::npos,
                  error.message());
  }
  CHECK_FALSE_MESSAGE(has_queued_connection(listener), "a refused address was connected to");

  // An address that was tried says more than one that was refused.
  const SocketAddress nobody = refusing_address("127.0.0.1");
  FakeName tried("refused-then-tried.sluice.test",
                 {*SocketAddress::from_numeric("::1", 9), nobody});
  client.address_filter([](const SocketAddress& address) { return address.family() == AF_INET; });
  const Error error = await_error(client.connect("refused-then-tried.sluice.test", 9));
  CHECK_MESSAGE(error == std::errc::connection_refused, error.message());
  loops.shutdown_gracefully();
}

TEST_CASE("a filter that throws refuses the address with its own error, and the loop goes on") {
  ProcessHealth health;
  auto [listener, listening] = queue_only_listener("127.0.0.1");
  EventLoopGroup loops(1, "filter-throws");
  Bootstrap client;
  client.group(loops).address_filter(
      [](const SocketAddress&) -> bool { throw std::runtime_error("policy store unreachable"); });
  const Error error = await_error(client.connect(listening));
  CHECK_MESSAGE(error.message().find("policy store unreachable") != std::string::npos,
                error.message());
  CHECK_MESSAGE(error.message().find(listening.to_string()) != std::string::npos, error.message());
  CHECK_FALSE(has_queued_connection(listener));
  // An exception without an error code still refuses, as such.
  client.address_filter(
      [](const SocketAddress&) -> bool { throw std::system_error(std::error_code()); });
  const Error codeless = await_error(client.connect(listening));
  CHECK_MESSAGE(codeless == ChannelErrc::address_refused, codeless.message());
  CHECK_FALSE(has_queued_connection(listener));
  client.address_filter({});
  const ChannelPtr channel = await(client.connect(listening));
  channel->close();
  await(channel->close_future());
  loops.shutdown_gracefully();
}
