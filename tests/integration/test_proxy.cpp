// A TCP proxy in front of an echo server, built from the example's handlers
// (examples/proxy): each accepted connection opens its own connection to the backend on the
// same loop and the two relay each other's bytes. Clients are raw sockets on their own
// threads: they check every byte, half-close, read slowly, reset, and meet a backend that is
// not there.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "echo/echo_handler.hpp"
#include "proxy/backend_connector.hpp"
#include "proxy/close_when_idle.hpp"
#include "proxy/connect_handler.hpp"
#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/codec/http/http_server_codec.hpp"
#include "sluice/codec/idle_state_handler.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

// Counts the backend's open connections.
class ConnectionCounter final : public ChannelHandler {
 public:
  explicit ConnectionCounter(std::shared_ptr<std::atomic<int>> open) : open_(std::move(open)) {}
  void on_active(HandlerContext& ctx) override {
    open_->fetch_add(1);
    ctx.fire_active();
  }
  void on_inactive(HandlerContext& ctx) override {
    open_->fetch_sub(1);
    ctx.fire_inactive();
  }

 private:
  std::shared_ptr<std::atomic<int>> open_;
};

// What a proxy reaches: an echo server, or one that accepts and never reads (what the proxy
// relays to it piles up in the proxy), counting its open connections.
struct BackendServer {
  enum class Kind { kEcho, kStuck };
  explicit BackendServer(Kind kind) : loops(1, "backend") {
    ChannelOptions half_closing;
    half_closing.allow_half_closure = true;
    server = await(
        ServerBootstrap()
            .group(loops)
            .child_options(half_closing)
            .child_initializer([open = open, kind](Channel& channel) {
              channel.pipeline().add_last("count", std::make_unique<ConnectionCounter>(open));
              if (kind == Kind::kStuck) {
                channel.set_auto_read(false);
              } else {
                channel.pipeline().add_last("echo", std::make_unique<examples::EchoHandler>());
              }
            })
            .bind("127.0.0.1", 0));
  }
  ~BackendServer() {
    server->close();
    loops.shutdown_gracefully(0ms, kShortWait);
  }

  std::shared_ptr<std::atomic<int>> open = std::make_shared<std::atomic<int>>(0);
  EventLoopGroup loops;
  Ref<Server> server;
};

// The TCP proxy in front of a backend, on loops of their own.
struct ProxiedEcho {
  using Backend = BackendServer::Kind;
  // To a port of its own choosing (nothing there, say) instead of its backend's.
  struct Elsewhere {
    std::uint16_t port;
  };
  explicit ProxiedEcho(std::chrono::seconds idle = 0s, Backend kind = Backend::kEcho)
      : ProxiedEcho(Elsewhere{0}, idle, kind) {}
  ProxiedEcho(Elsewhere elsewhere, std::chrono::seconds idle = 0s, Backend kind = Backend::kEcho)
      : backend_side(kind), proxy_loops(2, "proxy") {
    ChannelOptions half_closing;
    half_closing.allow_half_closure = true;
    const std::uint16_t target = elsewhere.port != 0 ? elsewhere.port : backend_side.server->port();
    proxy = await(ServerBootstrap()
                      .group(proxy_loops)
                      .child_options(half_closing)
                      .child_initializer(examples::proxy_initializer("127.0.0.1", target, {}, idle))
                      .bind("127.0.0.1", 0));
  }
  ~ProxiedEcho() {
    proxy->close();
    proxy_loops.shutdown_gracefully(0ms, kShortWait);
  }

  BackendServer backend_side;  // first: it outlives the proxy's connections to it
  std::shared_ptr<std::atomic<int>> backend_open = backend_side.open;
  EventLoopGroup proxy_loops;
  Ref<Server> proxy;
};

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent =
        ::send(fd, bytes.data(), std::min<std::size_t>(bytes.size(), 256 * kKiB), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// Sends `payload` on one thread and reads on this one; the client half-closes after the last
// byte, and the echo comes back with the proxy's FIN after it.
std::string round_trip(std::uint16_t port, const std::string& payload) {
  const int fd = connect_blocking(port);
  std::thread writer([&] {
    CHECK(send_all(fd, payload));
    ::shutdown(fd, SHUT_WR);
  });
  std::string echoed;
  CHECK_MESSAGE(read_until_fin(fd, echoed), "errno ", errno, " after ", echoed.size(), " bytes");
  writer.join();
  ::close(fd);
  return echoed;
}

}  // namespace

TEST_CASE("bytes go through the proxy both ways, whole and in order, and a half-close follows") {
  ProcessHealth health;
  ProxiedEcho chain;
  const std::uint16_t port = chain.proxy->port();
  for (const std::size_t size : {std::size_t{1}, 64 * kKiB, 16 * kMiB}) {
    CAPTURE(size);
    const std::string payload = make_pattern(size, size);
    CHECK(round_trip(port, payload) == payload);
  }
  // Many at once, spread over the proxy's two loops.
  std::vector<std::thread> clients;
  std::atomic<int> whole{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      const std::string payload = make_pattern(kMiB + static_cast<std::size_t>(i), 100 + i);
      if (round_trip(port, payload) == payload) whole.fetch_add(1);
    });
  }
  for (std::thread& client : clients)
    client.join();
  CHECK(whole.load() == 8);
  // Each client's half-close went through to the backend, whose close came back: nothing of
  // the proxied connections is left open.
  CHECK(eventually([&] { return chain.backend_open->load() == 0; }));
}

TEST_CASE("a client that does not read holds the proxy's memory to its water marks") {
  ProcessHealth health;
  ProxiedEcho chain;
  const std::string payload = make_pattern(64 * kMiB, 7);
  const int fd = connect_blocking(chain.proxy->port());
  std::atomic<bool> sent{false};
  std::thread writer([&] {
    CHECK(send_all(fd, payload));
    ::shutdown(fd, SHUT_WR);
    sent = true;
  });
  // While the client reads nothing, the chain fills up to its water marks and the writer
  // blocks; the live pooled bytes (the proxy's and the echo server's) stay bounded where,
  // without backpressure, the proxy would hold whatever the client managed to send.
  std::int64_t most_live = 0;
  const auto until = std::chrono::steady_clock::now() + 500ms;
  while (std::chrono::steady_clock::now() < until) {
    most_live = std::max(most_live, PooledAllocator::metrics().live_bytes);
    std::this_thread::sleep_for(1ms);
  }
  CHECK_FALSE(sent.load());
  CHECK_MESSAGE(most_live < static_cast<std::int64_t>(16 * kMiB), "live bytes ", most_live);
  std::string echoed;
  CHECK_MESSAGE(read_until_fin(fd, echoed), "errno ", errno, " after ", echoed.size());
  writer.join();
  ::close(fd);
  CHECK(echoed.size() == payload.size());
  CHECK(echoed == payload);
  CHECK(eventually([&] { return chain.backend_open->load() == 0; }));
}

TEST_CASE("a client that resets mid-transfer closes the proxy's connection to the backend") {
  ProcessHealth health;
  ProxiedEcho chain;
  const int fd = connect_blocking(chain.proxy->port());
  REQUIRE(send_all(fd, make_pattern(kMiB, 9)));
  REQUIRE(eventually([&] { return chain.backend_open->load() == 1; }));
  linger abort_on_close{1, 0};
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0);
  ::close(fd);  // RST: the proxy's side fails, and it closes the backend's side
  CHECK(eventually([&] { return chain.backend_open->load() == 0; }));
}

TEST_CASE("a backend that refuses the proxy's connect closes the client's connection") {
  ProcessHealth health;
  // A port that was free a moment ago, nothing listening on it.
  std::uint16_t refused = 0;
  {
    const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    refused = ntohs(address.sin_port);
    ::close(probe);
  }
  ProxiedEcho chain(ProxiedEcho::Elsewhere{refused});
  const int fd = connect_blocking(chain.proxy->port());
  // Sent before the connect fails: never read, so the close may come as a reset.
  (void)send_all(fd, "hello");
  char byte;
  const ssize_t got = ::recv(fd, &byte, 1, 0);
  const int error = errno;
  CHECK_MESSAGE((got == 0 || (got < 0 && error == ECONNRESET)), "recv ", got, " errno ", error);
  ::close(fd);
}

TEST_CASE("the proxy's loops shut down gracefully mid-transfer, by their deadline") {
  ProcessHealth health;
  ProxiedEcho chain;
  const int fd = connect_blocking(chain.proxy->port());
  std::thread writer([&] {
    // Ends with an error once the proxy's side goes, or at the shutdown below.
    (void)send_all(fd, make_pattern(64 * kMiB, 11));
  });
  CHECK(eventually([&] { return chain.backend_open->load() == 1; }));
  std::this_thread::sleep_for(200ms);  // the chain fills: the client reads nothing
  const auto started = std::chrono::steady_clock::now();
  chain.proxy->close();
  chain.proxy_loops.shutdown_gracefully(0ms, 1s);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  // The proxy's backend side went with it.
  CHECK(eventually([&] { return chain.backend_open->load() == 0; }));
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
}

TEST_CASE("a proxied connection on which nothing moves is closed, both sides") {
  ProcessHealth health;
  ProxiedEcho chain(1s);
  const int fd = connect_blocking(chain.proxy->port());
  const std::string ping = "ping";
  REQUIRE(send_all(fd, ping));
  std::string echoed(ping.size(), '\0');
  REQUIRE(::recv(fd, echoed.data(), echoed.size(), MSG_WAITALL) ==
          static_cast<ssize_t>(ping.size()));
  CHECK(echoed == ping);
  REQUIRE(chain.backend_open->load() == 1);
  // Then silence: within one to two periods the proxy closes the client's side, and the
  // backend's follows.
  std::string rest;
  CHECK(read_until_fin(fd, rest));
  CHECK(rest.empty());
  CHECK(eventually([&] { return chain.backend_open->load() == 0; }));
  ::close(fd);
}

TEST_CASE("an idle connection whose backend stopped reading is closed, both sides") {
  ProcessHealth health;
  ProxiedEcho chain(1s, ProxiedEcho::Backend::kStuck);
  const int fd = connect_blocking(chain.proxy->port(), 20s);
  std::thread writer([&] {
    // Blocks once the backend's kernel buffers and the proxy's high water mark are full; ends
    // with an error when the proxy closes the client's side.
    (void)send_all(fd, make_pattern(64 * kMiB, 12));
  });
  CHECK(eventually([&] { return chain.backend_open->load() == 1; }));
  // The proxy's two channels, the client's and the backend's, on its one loop. (The backend,
  // reading nothing, would not see its connection go.) Eventually: the backend server accepts
  // as the handshake ends, which can be before the proxy's loop hears its connect complete
  // (seen in CI: 1 active channel).
  CHECK(eventually([&] { return chain.proxy_loops.metrics().active_channels == 2; }));
  // Nothing moves on the client's side once it is held back: the idle period closes it, and
  // the backend side, whose queued bytes will never be taken, must not outlive it.
  CHECK(eventually([&] { return chain.proxy_loops.metrics().active_channels == 0; }, 6s));
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
}

namespace {

// The tunnelling proxy's pipeline (examples/proxy/connect_main.cpp) in front of an echo server
// whose port is the one allowed.
struct ConnectProxiedEcho {
  // `also_allowed`: a port besides the echo server's that a CONNECT may reach; `targets`: the
  // addresses it may reach (any, by default: every server here is on loopback).
  explicit ConnectProxiedEcho(std::uint16_t also_allowed = 0, AddressFilter targets = {})
      : backend_side(BackendServer::Kind::kEcho), proxy_loops(1, "proxy") {
    ChannelOptions half_closing;
    half_closing.allow_half_closure = true;
    std::set<std::uint16_t> ports{backend_port()};
    if (also_allowed != 0) ports.insert(also_allowed);
    proxy = await(
        ServerBootstrap()
            .group(proxy_loops)
            .child_options(half_closing)
            .child_initializer([ports, targets](Channel& channel) {
              auto& pipeline = channel.pipeline();
              pipeline.add_last("idle", std::make_unique<IdleStateHandler>(
                                            0ms, 0ms, 60s, OutputProgress::kCountsAsWrite));
              pipeline.add_last("http", std::make_unique<http::HttpServerCodec>());
              pipeline.add_last("connect", std::make_unique<examples::ConnectHandler>(
                                               ports, targets, ChannelOptions{}));
              pipeline.add_last("close-when-idle", std::make_unique<examples::CloseWhenIdle>());
            })
            .bind("127.0.0.1", 0));
  }
  ~ConnectProxiedEcho() {
    proxy->close();
    proxy_loops.shutdown_gracefully(0ms, kShortWait);
  }

  std::uint16_t backend_port() const { return backend_side.server->port(); }
  std::string connect_request(std::uint16_t port = 0) const {
    const std::string target = "127.0.0.1:" + std::to_string(port != 0 ? port : backend_port());
    return "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";
  }

  BackendServer backend_side;
  std::shared_ptr<std::atomic<int>> backend_open = backend_side.open;
  EventLoopGroup proxy_loops;
  Ref<Server> proxy;
};

// What a tunnel's client read: the status line of the answer, and the bytes after its head.
std::pair<std::string, std::string> split_answer(const std::string& got) {
  const std::size_t line_end = got.find("\r\n");
  const std::size_t head_end = got.find("\r\n\r\n");
  if (line_end == std::string::npos || head_end == std::string::npos) return {got, ""};
  return {got.substr(0, line_end), got.substr(head_end + 4)};
}

}  // namespace

TEST_CASE("CONNECT: bytes sent ahead of the 200 come back first, in order, then the FIN") {
  ProcessHealth health;
  ConnectProxiedEcho chain;
  const int fd = connect_blocking(chain.proxy->port(), 10s);
  REQUIRE(send_all(fd, chain.connect_request() + "early"));
  REQUIRE(send_all(fd, "-later"));
  ::shutdown(fd, SHUT_WR);
  std::string got;
  CHECK(read_until_fin(fd, got));
  CHECK(split_answer(got) == std::pair<std::string, std::string>("HTTP/1.1 200 OK", "early-later"));
  ::close(fd);
}

TEST_CASE("CONNECT: a client that half-closes while the connect is pending gets its FIN back") {
  ProcessHealth health;
  ConnectProxiedEcho chain;
  const int fd = connect_blocking(chain.proxy->port(), 10s);
  // The request and the FIN in one go: the proxy reads both before its connect completes.
  REQUIRE(send_all(fd, chain.connect_request()));
  ::shutdown(fd, SHUT_WR);
  std::string got;
  // The backend hears of the half-close and ends its side: the tunnel ends with a FIN, not at
  // the idle timeout (the socket's 10 s timeout fails the read first).
  CHECK(read_until_fin(fd, got));
  CHECK(split_answer(got) == std::pair<std::string, std::string>("HTTP/1.1 200 OK", ""));
  ::close(fd);
}

TEST_CASE("CONNECT: refused (403, 502), then another CONNECT on the same connection tunnels") {
  ProcessHealth health;
  const std::uint16_t closed = refusing_address("127.0.0.1").port();
  ConnectProxiedEcho chain(closed);
  const std::uint16_t not_allowed = chain.backend_port() == 65535 ? 65534 : 65535;
  const int fd = connect_blocking(chain.proxy->port(), 10s);
  REQUIRE(send_all(fd, chain.connect_request(not_allowed) + chain.connect_request(closed) +
                           chain.connect_request() + "tunnelled"));
  ::shutdown(fd, SHUT_WR);
  std::string got;
  CHECK(read_until_fin(fd, got));
  const auto [forbidden, rest] = split_answer(got);
  CHECK(forbidden == "HTTP/1.1 403 Forbidden");
  const std::size_t bad_gateway = rest.find("HTTP/1.1 502 Bad Gateway\r\n");
  CHECK(bad_gateway != std::string::npos);
  const std::size_t tunnel = rest.find("HTTP/1.1 200 OK\r\n");
  REQUIRE(tunnel != std::string::npos);
  CHECK(split_answer(rest.substr(tunnel)).second == "tunnelled");
  ::close(fd);
}

TEST_CASE("CONNECT: a target that resolves to a non-global address gets 403, never a connect") {
  // A name is checked where it leads: "localhost", a mapped IPv4 loopback address and the
  // loopback address itself all reach this machine, whose services a proxy must not expose.
  start_libuv_thread_pool();  // "localhost" is looked up on it
  ProcessHealth health;
  auto [listener, listening] = queue_only_listener("127.0.0.1");
  const std::string port = std::to_string(listening.port());

  ConnectProxiedEcho chain(listening.port(),
                           [](const SocketAddress& target) { return target.is_global(); });
  const int fd = connect_blocking(chain.proxy->port(), 10s);
  std::string requests;
  for (const std::string& target :
       {"127.0.0.1:" + port, "localhost:" + port, "[::ffff:127.0.0.1]:" + port}) {
    requests += "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n";
  }
  REQUIRE(send_all(fd, requests));
  ::shutdown(fd, SHUT_WR);
  std::string got;
  CHECK(read_until_fin(fd, got));
  std::size_t forbidden = 0;
  for (std::size_t at = got.find("HTTP/1.1 403 Forbidden\r\n"); at != std::string::npos;
       at = got.find("HTTP/1.1 403 Forbidden\r\n", at + 1)) {
    ++forbidden;
  }
  CHECK_MESSAGE(forbidden == 3, got);
  CHECK_MESSAGE(got.find("that address is not allowed") != std::string::npos, got);
  CHECK_FALSE_MESSAGE(has_queued_connection(listener), "the proxy connected to a loopback target");
  ::close(fd);
}
