// Closing: half-closure both ways, a peer that resets mid-write or before a shutdown, handler
// exceptions.

#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sluice/codec/flush_consolidation_handler.hpp"
#include "sluice/core/submit.hpp"
#include "sluice/transport/stream_channel.hpp"
#include "support.hpp"
#include "support/captured_log.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

// Counts the bytes it passes on; when the input is shut down, writes "got <n> bytes", flushes
// and shuts its own output down, and records whether the channel was still open then.
class ReplyOnInputShutdown final : public ChannelHandler {
 public:
  explicit ReplyOnInputShutdown(std::shared_ptr<Promise<WriteOutcome>> reply_written)
      : reply_written_(std::move(reply_written)) {}

  void on_read(HandlerContext& ctx, Message&& message) override {
    count_ += message.bytes();
    ctx.fire_read(std::move(message));
  }
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<ChannelInputShutdown>()) {
      open_at_input_shutdown = ctx.channel().is_open();
      ctx.write_and_flush(to_buffer("got " + std::to_string(count_) + " bytes"),
                          complete_with(reply_written_));
      ctx.shutdown_output();
    }
    ctx.fire_user_event(std::move(event));
  }

  std::atomic<bool> open_at_input_shutdown{false};

 private:
  std::shared_ptr<Promise<WriteOutcome>> reply_written_;
  std::size_t count_ = 0;
};

// Closes the channel with a reset (RST) instead of a FIN, as a client that aborts does.
void reset_connection(const ChannelPtr& channel) {
  const int error = await(submit(channel->loop(), [channel] {
    const linger abort_on_close{1, 0};  // SO_LINGER 0: close() sends RST
    const int fd = static_cast<StreamChannel&>(*channel).fd();
    const int rc = ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    channel->close();
    return rc == 0 ? 0 : errno;
  }));
  REQUIRE(error == 0);
}

// True once the socket under `channel` has taken its peer's reset (TCP_CLOSE).
bool has_taken_reset(const ChannelPtr& channel) {
  tcp_info info{};
  socklen_t length = sizeof info;
  const int fd = static_cast<StreamChannel&>(*channel).fd();
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 &&
         info.tcpi_state == TCP_CLOSE;
}

// A server channel whose client has reset the connection while nothing polls the server's
// socket (auto_read off), so the reset waits in it for what the test does next.
struct ResetByPeer {
  Peers server_peers;
  EventLoopGroup loops;
  Endpoint endpoint{Family::kIPv4};
  Ref<Server> server;
  std::shared_ptr<Peer> server_peer;
  ChannelPtr server_channel;

  explicit ResetByPeer(const char* loop_name) : loops(1, loop_name) {
    ChannelOptions not_reading;
    not_reading.auto_read = false;
    ServerBootstrap server_bootstrap;
    server_bootstrap.group(loops)
        .child_options(not_reading)
        .child_initializer(server_peers.collecting_initializer());
    server = endpoint.bind(server_bootstrap);
    Bootstrap client;
    client.group(loops);
    ChannelPtr client_channel = await(endpoint.connect(client));
    server_peer = server_peers.first();
    REQUIRE(server_peer->wait_active());
    server_channel = server_peer->active_channel();
    reset_connection(client_channel);
    REQUIRE(eventually([&] { return has_taken_reset(server_channel); }));
  }
  ~ResetByPeer() { server->close(); }
};

// What the handlers of the exception tests saw.
struct ThrowerLog {
  std::mutex mutex;
  std::vector<Error> errors;
  ChannelPtr channel;
  Promise<void> channel_known;
};

// Throws from on_read for the first message only, then passes messages on. Its on_error records
// the error and, when `forward` is set, passes it on toward the tail.
class ThrowOnFirstRead final : public ChannelHandler {
 public:
  ThrowOnFirstRead(std::shared_ptr<ThrowerLog> log, bool forward)
      : log_(std::move(log)), forward_(forward) {}

  void on_active(HandlerContext& ctx) override {
    {
      std::lock_guard lock(log_->mutex);
      log_->channel = ChannelPtr(&ctx.channel());
    }
    log_->channel_known.set_value();
    ctx.fire_active();
  }
  void on_inactive(HandlerContext& ctx) override {
    ChannelPtr dropped;
    {
      std::lock_guard lock(log_->mutex);
      dropped = std::move(log_->channel);
    }
    ctx.fire_inactive();
  }
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (!thrown_) {
      thrown_ = true;
      throw std::runtime_error("boom in on_read");
    }
    ctx.fire_read(std::move(message));
  }
  void on_error(HandlerContext& ctx, const Error& error) override {
    {
      std::lock_guard lock(log_->mutex);
      log_->errors.push_back(error);
    }
    if (forward_) ctx.fire_error(error);
  }

 private:
  std::shared_ptr<ThrowerLog> log_;
  bool forward_;
  bool thrown_ = false;
};

struct WriteLog {
  std::mutex mutex;
  std::vector<Error> results;  // in completion order
};

}  // namespace

TEST_CASE(
    "with allow_half_closure, a client's shutdown_output reaches the server as "
    "ChannelInputShutdown and the server can still write back") {
  ProcessHealth health;
  Peers server_peers;
  auto reply_written = std::make_shared<Promise<WriteOutcome>>();
  ReplyOnInputShutdown* replier = nullptr;
  EventLoopGroup server_loops(1, "half-server");
  EventLoopGroup client_loops(1, "half-client");
  Endpoint endpoint(Family::kIPv4);
  ChannelOptions options;
  options.allow_half_closure = true;
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops)
      .child_options(options)
      .child_initializer([&server_peers, &replier, reply_written](Channel& channel) {
        replier = &channel.pipeline().emplace_last<ReplyOnInputShutdown>("reply", reply_written);
        channel.pipeline().add_last("collector", std::make_unique<Collector>(server_peers.add()));
      });
  Ref<Server> server = endpoint.bind(server_bootstrap);

  auto client_peer = std::make_shared<Peer>();
  Bootstrap client;
  client.group(client_loops).options(options).initializer([client_peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(client_peer));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();

  const std::string request = "hello, half-closed world";
  client_channel->write_and_flush(to_buffer(request));
  client_channel->shutdown_output();
  REQUIRE(client_peer->wait([](const Peer& p) { return p.output_shutdowns == 1; }));

  // The server reads to the FIN, learns of it, and answers on its still-open output.
  REQUIRE(server_peer->wait([](const Peer& p) { return p.input_shutdowns == 1; }));
  CHECK(server_peer->received_bytes() == request);
  CHECK(replier->open_at_input_shutdown.load());
  const Error reply_error = await(reply_written->future()).error;
  CHECK_MESSAGE(!reply_error, reply_error.message());
  const std::string reply = "got " + std::to_string(request.size()) + " bytes";
  REQUIRE(client_peer->wait([&](const Peer& p) { return p.bytes == reply; }));

  // The server then shut its output: the client sees its input end, and with both directions
  // shut, both channels close.
  REQUIRE(client_peer->wait([](const Peer& p) { return p.input_shutdowns == 1; }));
  await(client_channel->close_future());
  await(server_channel->close_future());
  CHECK(server_peer->read([](const Peer& p) { return p.output_shutdowns; }) == 1);
  CHECK(client_peer->error_list().empty());
  CHECK(server_peer->error_list().empty());
  server->close();
}

TEST_CASE(
    "with allow_half_closure, a server's shutdown_output reaches the client as "
    "ChannelInputShutdown and the client can still write to the server") {
  ProcessHealth health;
  Peers server_peers;
  server_peers.set_setup([](Peer& peer) {
    peer.on_active = [](HandlerContext& ctx) {
      ctx.write_and_flush(to_buffer("greeting, then FIN"));
      ctx.shutdown_output();
    };
  });
  EventLoopGroup server_loops(1, "half-server");
  EventLoopGroup client_loops(1, "half-client");
  Endpoint endpoint(Family::kUnix);
  ChannelOptions options;
  options.allow_half_closure = true;
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops)
      .child_options(options)
      .child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  auto client_peer = std::make_shared<Peer>();
  Bootstrap client;
  client.group(client_loops).options(options).initializer([client_peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(client_peer));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();

  REQUIRE(client_peer->wait([](const Peer& p) { return p.input_shutdowns == 1; }));
  CHECK(client_peer->received_bytes() == "greeting, then FIN");
  // The server's event fires just after its FIN left: the client may have seen the FIN first.
  CHECK(server_peer->wait([](const Peer& p) { return p.output_shutdowns == 1; }));
  CHECK(client_channel->is_open());
  CHECK(server_channel->is_open());

  // The client's direction still works.
  auto answered = std::make_shared<Promise<WriteOutcome>>();
  client_channel->write_and_flush(to_buffer("an answer after the FIN"), complete_with(answered));
  const Error answer_error = await(answered->future()).error;
  CHECK_MESSAGE(!answer_error, answer_error.message());
  REQUIRE(server_peer->wait([](const Peer& p) { return p.bytes == "an answer after the FIN"; }));

  // Then the client shuts its output too: both directions are shut, both sides close.
  client_channel->shutdown_output();
  await(client_channel->close_future());
  await(server_channel->close_future());
  CHECK(server_peer->read([](const Peer& p) { return p.input_shutdowns; }) == 1);
  CHECK(client_peer->read([](const Peer& p) { return p.output_shutdowns; }) == 1);
  CHECK(client_peer->error_list().empty());
  CHECK(server_peer->error_list().empty());
  server->close();
}

TEST_CASE("without allow_half_closure, the peer's shutdown_output closes the channel") {
  ProcessHealth health;
  Peers server_peers;
  EventLoopGroup loops(1, "half-off");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(loops);
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  client_channel->write_and_flush(to_buffer("last words"));
  client_channel->shutdown_output();
  REQUIRE(server_peer->wait_inactive());
  CHECK(server_peer->received_bytes() == "last words");
  CHECK(server_peer->read([](const Peer& p) { return p.input_shutdowns; }) == 0);
  await(client_channel->close_future());  // the server's close reaches the client as EOF
  server->close();
}

TEST_CASE(
    "a peer that resets during a large write fails the write with ECONNRESET or EPIPE, fires "
    "on_error and closes the channel") {
  constexpr std::size_t kBuffers = 64;  // 64 x 1 MiB
  ProcessHealth health;
  Peers server_peers;
  auto writes = std::make_shared<WriteLog>();
  auto block = std::make_shared<const std::string>(make_pattern(kMiB, 3));
  server_peers.set_setup([writes, block](Peer& peer) {
    peer.on_active = [writes, block](HandlerContext& ctx) {
      for (std::size_t i = 0; i < kBuffers; ++i) {
        ctx.write(to_buffer(*block), [writes](const Error& error) {
          std::lock_guard lock(writes->mutex);
          writes->results.push_back(error);
        });
      }
      ctx.flush();
    };
  });
  EventLoopGroup server_loops(1, "reset-server");
  EventLoopGroup client_loops(1, "reset-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  // The client does not read, so the server's 64 MiB stay in flight.
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
  REQUIRE(server_channel->pending_write_bytes() > 0);

  reset_connection(client_channel);

  await(server_channel->close_future(), kLongWait);
  CHECK(server_peer->wait_inactive());
  auto is_reset = [](const Error& error) {
    return error == std::errc::connection_reset || error == std::errc::broken_pipe;
  };
  const std::vector<Error> errors = server_peer->error_list();
  REQUIRE(errors.size() == 1);
  CHECK_MESSAGE(is_reset(errors[0]), errors[0].message());

  // Every write completed: those the kernel took, then the rest failed with the reset.
  std::vector<Error> results;
  {
    std::lock_guard lock(writes->mutex);
    results = writes->results;
  }
  REQUIRE(results.size() == kBuffers);
  std::size_t succeeded = 0;
  while (succeeded < results.size() && !results[succeeded])
    ++succeeded;
  CHECK(succeeded < kBuffers);
  for (std::size_t i = succeeded; i < results.size(); ++i) {
    INFO("write ", i, ": ", results[i].message());
    CHECK(is_reset(results[i]));
  }
  // The channel leaves the loop's count just after its close future fires.
  CHECK(eventually([&] { return server_loops.metrics().active_channels == 0; }));
  server->close();
}

// A write callback that writes again when its write fails, as long as the channel is open.
// Bounded so that the test ends even where each retry was failed, and retried, for ever.
struct RetryWhileOpen {
  Channel* channel;
  std::shared_ptr<std::atomic<int>> retries;
  static constexpr int kMaxRetries = 10000;
  void operator()(const Error& error) const {
    if (!error || !channel->is_open() || ++*retries > kMaxRetries) return;
    channel->write(to_buffer("retry"), RetryWhileOpen{channel, retries});
  }
};

TEST_CASE("writes failed by a peer's reset are failed once, though their callbacks write again") {
  // The socket error fails the queued writes while the channel is still open: a write made by
  // their callbacks was queued, failed in the same pass and written again, for ever.
  constexpr std::size_t kBuffers = 64;  // 64 x 1 MiB
  ProcessHealth health;
  Peers server_peers;
  auto retries = std::make_shared<std::atomic<int>>(0);
  auto block = std::make_shared<const std::string>(make_pattern(kMiB, 3));
  server_peers.set_setup([retries, block](Peer& peer) {
    peer.on_active = [retries, block](HandlerContext& ctx) {
      for (std::size_t i = 0; i < kBuffers; ++i)
        ctx.write(to_buffer(*block), RetryWhileOpen{&ctx.channel(), retries});
      ctx.flush();
    };
  });
  EventLoopGroup server_loops(1, "retry-server");
  EventLoopGroup client_loops(1, "retry-client");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);

  ChannelOptions client_options;  // the client does not read: the server's writes stay queued
  client_options.auto_read = false;
  client_options.receive_buffer = 64 * kKiB;
  Bootstrap client;
  client.group(client_loops).options(client_options);
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();
  REQUIRE(eventually([&] { return server_loops.metrics().bytes_written > 0; }));
  REQUIRE(server_channel->pending_write_bytes() > 0);

  reset_connection(client_channel);

  await(server_channel->close_future(), kLongWait);
  // One retry per write the reset failed; the retries fail with the close that follows, when
  // the channel is no longer open.
  CHECK(retries->load() > 0);
  CHECK(retries->load() <= static_cast<int>(kBuffers));
  CHECK(eventually([&] { return server_loops.metrics().active_channels == 0; }));
  server->close();
}

// shutdown() on a socket its peer has reset says ENOTCONN, which hid the reset.
TEST_CASE("shutdown_output after the peer's reset reports the reset") {
  ProcessHealth health;
  ResetByPeer reset("reset-shutdown");
  ChannelPtr& server_channel = reset.server_channel;
  server_channel->shutdown_output();

  await(server_channel->close_future());
  const std::vector<Error> errors = reset.server_peer->error_list();
  REQUIRE(errors.size() == 1);
  CHECK_MESSAGE(errors[0] == std::errc::connection_reset, errors[0].message());
  CHECK(errors[0].context() == "shutdown");
}

// Records whether its channel's error, inactive and writable-again events, and the failed
// write's callback, ran while code outside its handlers (another channel's handler, say) was in
// the middle of writing to the channel.
class EventsOutsideWriter final : public ChannelHandler {
 public:
  std::atomic<bool> writer_inside{false};
  std::atomic<int> events{0};
  std::atomic<int> events_inside_writer{0};

  void on_error(HandlerContext& ctx, const Error& error) override {
    count();
    ctx.fire_error(error);
  }
  void on_inactive(HandlerContext& ctx) override {
    count();
    ctx.fire_inactive();
  }
  // Unwritable as the write is queued is the writer's own doing; writable again comes from
  // the failure.
  void on_writability_changed(HandlerContext& ctx) override {
    if (ctx.channel().is_writable()) count();
    ctx.fire_writability_changed();
  }
  void count() {
    ++events;
    if (writer_inside) ++events_inside_writer;
  }
};

// A broadcaster holding its registry's lock writes to each member; a member whose peer reset
// ran its on_error and on_inactive inside that write, and a handler that leaves the registry
// there took the lock its own thread held (the chat server of test_broadcast hung so).
TEST_CASE("a write that fails from outside the channel's handlers tells them after it returns") {
  ProcessHealth health;
  EventLoopGroup loops(1, "reset-broadcast");
  Endpoint endpoint(Family::kIPv4);
  ChannelOptions not_reading;  // nothing polls the server's socket, so the reset waits in it
  not_reading.auto_read = false;
  auto accepted = std::make_shared<Promise<ChannelPtr>>();
  EventsOutsideWriter* probe = nullptr;
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops)
      .child_options(not_reading)
      .child_initializer([accepted, &probe](Channel& channel) {
        auto handler = std::make_unique<EventsOutsideWriter>();
        probe = handler.get();
        channel.pipeline().add_last("probe", std::move(handler));
        accepted->set_value(ChannelPtr(&channel));
      });
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(loops);
  ChannelPtr client_channel = await(endpoint.connect(client));
  ChannelPtr server_channel = await(accepted->future());

  reset_connection(client_channel);
  REQUIRE(eventually([&] { return has_taken_reset(server_channel); }));
  // Whether the write failed with the reset (or the broken pipe after it), and its message.
  auto write_failed = std::make_shared<Promise<std::pair<bool, std::string>>>();
  // Over the high water mark, so that failing it makes the channel writable again.
  const std::string over_high_mark(128 * kKiB, 'x');
  server_channel->loop().execute([&probe, &over_high_mark, server_channel, write_failed] {
    probe->writer_inside = true;
    server_channel->write_and_flush(
        to_buffer(over_high_mark), [probe, write_failed](const Error& e) {
          probe->count();  // the writer's callback, which may take the writer's locks too
          const bool lost = e == std::errc::connection_reset || e == std::errc::broken_pipe;
          write_failed->set_value({lost, e.message()});
        });
    probe->writer_inside = false;
  });
  const auto [lost, message] = await(write_failed->future());
  CHECK_MESSAGE(lost, message);
  await(server_channel->close_future());
  CHECK(probe->events == 4);  // the callback, writable again, the error, inactive
  CHECK(probe->events_inside_writer == 0);
  server->close();
}

// The write's failure waits for the end of the iteration; a shutdown_output() meanwhile found
// the socket unconnected, and the handlers heard ENOTCONN from shutdown instead of the reset.
TEST_CASE(
    "shutdown_output after a write failed from outside the handlers reports the write's error") {
  ProcessHealth health;
  ResetByPeer reset("reset-write-shut");
  ChannelPtr& server_channel = reset.server_channel;
  // The code and context of the write's failure (it fails while the channel is still open).
  auto write_error = std::make_shared<Promise<std::pair<std::error_code, std::string>>>();
  server_channel->loop().execute([server_channel, write_error] {
    server_channel->write_and_flush(to_buffer("goodbye"), [write_error](const Error& e) {
      write_error->set_value({e.code(), e.context()});
    });
    server_channel->shutdown_output();
  });
  const auto [code, context] = await(write_error->future());
  REQUIRE_MESSAGE(code, "the write went through");
  await(server_channel->close_future());
  const std::vector<Error> errors = reset.server_peer->error_list();
  REQUIRE(errors.size() == 1);
  CHECK_MESSAGE(errors[0] == code, errors[0].message());
  CHECK(errors[0].context() == context);
}

TEST_CASE("a peer's reset that no handler takes is logged at debug level, not as a warning") {
  ProcessHealth health;
  CapturedLog log("%l %v");
  EventLoopGroup loops(1, "reset-log");
  Endpoint endpoint(Family::kIPv4);
  auto accepted = std::make_shared<Promise<ChannelPtr>>();
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer(
      [accepted](Channel& channel) { accepted->set_value(ChannelPtr(&channel)); });
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(loops);
  ChannelPtr client_channel = await(endpoint.connect(client));
  ChannelPtr server_channel = await(accepted->future());

  reset_connection(client_channel);
  await(server_channel->close_future());
  const std::string text = log.text();
  const std::string reset = std::make_error_code(std::errc::connection_reset).message();
  const std::size_t line = text.find("debug " + server_channel->describe());
  REQUIRE_MESSAGE(line != std::string::npos, text);
  const std::string logged = text.substr(line, text.find('\n', line) - line);
  CHECK_MESSAGE(logged.find(reset + " (connection lost; closing)") != std::string::npos, logged);
  CHECK_MESSAGE(text.find("warning") == std::string::npos, text);
  server_channel = nullptr;
  server->close();
}

TEST_CASE(
    "an exception thrown in on_read reaches that handler's on_error; handled there, the "
    "channel stays open") {
  ProcessHealth health;
  auto log = std::make_shared<ThrowerLog>();
  auto after = std::make_shared<Peer>();
  EventLoopGroup loops(1, "throw");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer([log, after](Channel& channel) {
    channel.pipeline().add_last("thrower", std::make_unique<ThrowOnFirstRead>(log, false));
    channel.pipeline().add_last("collector", std::make_unique<Collector>(after));
  });
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(loops);
  ChannelPtr client_channel = await(endpoint.connect(client));
  await(log->channel_known.future());

  client_channel->write_and_flush(to_buffer("first"));
  REQUIRE(eventually([&] {
    std::lock_guard lock(log->mutex);
    return !log->errors.empty();
  }));
  {
    std::lock_guard lock(log->mutex);
    REQUIRE(log->errors.size() == 1);
    CHECK(log->errors[0] == ChannelErrc::handler_exception);
    CHECK(log->errors[0].message().find("boom in on_read") != std::string::npos);
  }
  client_channel->write_and_flush(to_buffer("second"));
  REQUIRE(after->wait([](const Peer& p) { return p.bytes == "second"; }));
  CHECK(after->error_list().empty());  // it did not travel on
  CHECK(client_channel->is_open());
  CHECK(after->active_channel()->is_open());

  client_channel->close();
  REQUIRE(after->wait_inactive());
  server->close();
}

TEST_CASE("an exception thrown in on_read that no handler takes closes the channel") {
  ProcessHealth health;
  auto log = std::make_shared<ThrowerLog>();
  EventLoopGroup loops(1, "throw");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer([log](Channel& channel) {
    channel.pipeline().add_last("thrower", std::make_unique<ThrowOnFirstRead>(log, true));
  });
  Ref<Server> server = endpoint.bind(server_bootstrap);
  auto client_peer = std::make_shared<Peer>();
  Bootstrap client;
  client.group(loops).initializer([client_peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(client_peer));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));
  await(log->channel_known.future());
  ChannelPtr server_channel;
  {
    std::lock_guard lock(log->mutex);
    server_channel = log->channel;
  }
  REQUIRE(server_channel);

  client_channel->write_and_flush(to_buffer("first"));
  await(server_channel->close_future());
  {
    std::lock_guard lock(log->mutex);
    REQUIRE(log->errors.size() == 1);
    CHECK(log->errors[0] == ChannelErrc::handler_exception);
  }
  // The client sees the server go.
  await(client_channel->close_future());
  CHECK(client_peer->wait_inactive());
  server->close();
}

TEST_CASE(
    "shutdown_output after a large write sends the FIN only after every flushed byte, and a "
    "later write fails with output_shutdown") {
  constexpr std::size_t kPayload = 8 * kMiB;
  ProcessHealth health;
  auto payload = std::make_shared<const std::string>(make_pattern(kPayload, 8));
  auto after_fin = std::make_shared<Promise<WriteOutcome>>();
  Peers server_peers;
  server_peers.set_setup([payload, after_fin](Peer& peer) {
    peer.on_active = [payload, after_fin](HandlerContext& ctx) {
      ctx.write_and_flush(to_buffer(*payload));
      ctx.shutdown_output();  // the socket cannot take 8 MiB at once: the FIN has to wait
      ctx.write_and_flush(to_buffer("too late"), complete_with(after_fin));
    };
  });
  EventLoopGroup server_loops(1, "fin-server");
  EventLoopGroup client_loops(1, "fin-client");
  Endpoint endpoint(Family::kIPv4);
  ChannelOptions options;
  options.allow_half_closure = true;
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(server_loops)
      .child_options(options)
      .child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  auto client_peer = std::make_shared<Peer>();
  client_peer->expected = payload;
  client_peer->keep_bytes = false;
  Bootstrap client;
  client.group(client_loops).options(options).initializer([client_peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(client_peer));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));

  const Error late = await(after_fin->future()).error;
  CHECK_MESSAGE(late == ChannelErrc::output_shutdown, late.message());
  REQUIRE(client_peer->wait([](const Peer& p) { return p.input_shutdowns == 1; }, kLongWait));
  // Everything before the FIN, nothing after.
  CHECK(client_peer->received_count() == kPayload);
  CHECK(client_peer->mismatch() == kNoMismatch);
  std::shared_ptr<Peer> server_peer = server_peers.first();
  CHECK(server_peer->wait([](const Peer& p) { return p.output_shutdowns == 1; }));
  client_channel->close();
  await(client_channel->close_future());
  REQUIRE(server_peer->wait_inactive());
  server->close();
}

TEST_CASE("closing a channel fails the writes it had not sent with ChannelErrc::closed") {
  ProcessHealth health;
  auto writes = std::make_shared<WriteLog>();
  auto block = std::make_shared<const std::string>(make_pattern(kMiB, 4));
  Peers server_peers;
  server_peers.set_setup([writes, block](Peer& peer) {
    peer.on_active = [writes, block](HandlerContext& ctx) {
      for (int i = 0; i < 16; ++i) {
        ctx.write(to_buffer(*block), [writes](const Error& error) {
          std::lock_guard lock(writes->mutex);
          writes->results.push_back(error);
        });
      }
      ctx.flush();
      ctx.write(to_buffer("never flushed"), [writes](const Error& error) {
        std::lock_guard lock(writes->mutex);
        writes->results.push_back(error);
      });
    };
  });
  EventLoopGroup loops(1, "close-pending");
  Endpoint endpoint(Family::kUnix);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  ChannelOptions client_options;
  client_options.auto_read = false;  // the 16 MiB cannot all leave
  Bootstrap client;
  client.group(loops).options(client_options);
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();
  REQUIRE(eventually([&] { return loops.metrics().bytes_written > 0; }));

  server_channel->close();
  await(server_channel->close_future());
  std::vector<Error> results;
  {
    std::lock_guard lock(writes->mutex);
    results = writes->results;
  }
  REQUIRE(results.size() == 17);
  std::size_t succeeded = 0;
  while (succeeded < results.size() && !results[succeeded])
    ++succeeded;
  CHECK(succeeded < 16);
  for (std::size_t i = succeeded; i < results.size(); ++i) {
    INFO("write ", i, ": ", results[i].message());
    CHECK(results[i] == ChannelErrc::closed);
  }
  CHECK(server_peer->error_list().empty());  // a close asked for is not an error
  client_channel->close();  // it does not read, so it would never see the server's FIN
  await(client_channel->close_future());
  server->close();
}

TEST_CASE("close_when_flushed writes what was flushed, then closes; what was not flushed fails") {
  ProcessHealth health;
  auto writes = std::make_shared<WriteLog>();
  auto block = std::make_shared<const std::string>(make_pattern(kMiB, 5));
  Peers server_peers;
  auto first = std::make_shared<std::atomic<bool>>(true);
  server_peers.set_setup([writes, block, first](Peer& peer) {
    peer.on_active = [writes, block, first](HandlerContext& ctx) {
      if (!first->exchange(false)) return;  // the second connection sends nothing
      const auto record = [writes](const Error& error) {
        std::lock_guard lock(writes->mutex);
        writes->results.push_back(error);
      };
      for (int i = 0; i < 16; ++i)
        ctx.write(to_buffer(*block), record);
      ctx.flush();
      // Far more than the socket takes at once: the close has to wait for the reader.
      ctx.channel().close_when_flushed();
      ctx.write(to_buffer("never flushed"), record);
    };
  });
  EventLoopGroup loops(1, "close-flushed");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Peers client_peers;
  client_peers.set_setup([](Peer& peer) { peer.keep_bytes = false; });
  Bootstrap client;
  client.group(loops).initializer(client_peers.collecting_initializer());
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> client_peer = client_peers.first();

  // Every flushed byte arrives, then the server's close.
  REQUIRE(client_peer->wait_inactive(kLongWait));
  CHECK(client_peer->received_count() == 16 * kMiB);
  std::shared_ptr<Peer> server_peer = server_peers.first();
  REQUIRE(server_peer->wait_inactive());
  std::vector<Error> results;
  {
    std::lock_guard lock(writes->mutex);
    results = writes->results;
  }
  REQUIRE(results.size() == 17);
  for (std::size_t i = 0; i < 16; ++i) {
    INFO("write ", i, ": ", results[i].message());
    CHECK_FALSE(results[i]);
  }
  CHECK(results[16] == ChannelErrc::closed);
  CHECK(server_peer->error_list().empty());

  // With nothing waiting, at once (here asked from another thread); again, nothing more.
  ChannelPtr idle = await(endpoint.connect(client));
  REQUIRE(server_peers.wait_count(2));
  idle->close_when_flushed();
  await(idle->close_future());
  idle->close_when_flushed();
  CHECK(server_peers.at(1)->wait_inactive());
  server->close();
}

namespace {

// Answers the first read with `blocks` of the pattern, flushed, then close_when_flushed(): the
// last answer before a close, from inside a read batch.
class AnswerThenClose final : public ChannelHandler {
 public:
  AnswerThenClose(std::shared_ptr<const std::string> block, int blocks)
      : block_(std::move(block)), blocks_(blocks) {}
  void on_read(HandlerContext& ctx, Message&&) override {
    if (std::exchange(answered_, true)) return;
    for (int i = 0; i < blocks_; ++i)
      ctx.write(to_buffer(*block_));
    ctx.flush();
    ctx.channel().close_when_flushed();
  }

 private:
  std::shared_ptr<const std::string> block_;
  int blocks_;
  bool answered_ = false;
};

// Holds an outbound close back for a turn of the loop, as a handler that says goodbye to its
// peer first (a TLS close_notify) does, then lets it go on with its mode.
class GoodbyeBeforeClose final : public ChannelHandler {
 public:
  void close(HandlerContext& ctx, CloseMode mode) override {
    ctx.write_and_flush(to_buffer("goodbye"));
    ctx.channel().loop().execute(
        [&ctx, mode, keep = ChannelPtr(&ctx.channel())] { ctx.close(mode); });
  }
};

// A server whose connections start with `first` (name, handler), then answer the first read
// with 16 MiB and close_when_flushed(); the bytes a client receives before the close, and the
// errors it saw.
std::pair<std::size_t, std::size_t> received_before_close(const std::string& name,
                                                          std::unique_ptr<ChannelHandler> first) {
  auto block = std::make_shared<const std::string>(make_pattern(kMiB, 6));
  static constexpr int kBlocks = 16;
  auto first_handler = std::make_shared<std::unique_ptr<ChannelHandler>>(std::move(first));
  EventLoopGroup loops(1, "close-held");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer([block, name, first_handler](Channel& channel) {
    channel.pipeline().add_last(name, std::move(*first_handler));
    channel.pipeline().add_last("answer", std::make_unique<AnswerThenClose>(block, kBlocks));
  });
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Peers client_peers;
  client_peers.set_setup([](Peer& peer) { peer.keep_bytes = false; });
  Bootstrap client;
  client.group(loops).initializer(client_peers.collecting_initializer());
  ChannelPtr client_channel = await(endpoint.connect(client));
  client_channel->write_and_flush(to_buffer("go"));
  std::shared_ptr<Peer> client_peer = client_peers.first();
  REQUIRE(client_peer->wait_inactive(kLongWait));
  server->close();
  return {client_peer->received_count(), client_peer->error_list().size()};
}

}  // namespace

TEST_CASE("close_when_flushed from a read batch waits for the flushes a handler held back") {
  // FlushConsolidationHandler holds a read batch's flushes until the batch ends: none had
  // reached the transport when close_when_flushed() looked, so it closed at once, and what the
  // socket could not take as the handler let its flush go on the way was dropped.
  ProcessHealth health;
  const auto [received, errors] =
      received_before_close("consolidate", std::make_unique<FlushConsolidationHandler>());
  CHECK(received == 16 * kMiB);
  CHECK(errors == 0);
}

TEST_CASE("close_when_flushed held back by a handler still waits for what was flushed") {
  // The close event carried no mode: "when flushed" lived in a flag on the channel for as long
  // as the request travelled the pipeline in one call, so a handler that let it go later
  // closed at once, and what the socket had not taken yet was dropped.
  ProcessHealth health;
  const auto [received, errors] =
      received_before_close("goodbye", std::make_unique<GoodbyeBeforeClose>());
  CHECK(received == 16 * kMiB + std::string_view("goodbye").size());
  CHECK(errors == 0);
}

// POLLERR comes with a pending socket error (SO_ERROR), or with entries on the socket's error
// queue and none pending: here, transmit timestamps asked for on the descriptor. libuv reports
// every POLLERR as UV_EBADF, and that was the error the channel closed with, though its
// descriptor was fine.
TEST_CASE("a poll error with no error pending on the socket closes the channel with io_error") {
  ProcessHealth health;
  Peers server_peers;
  Peers client_peers;
  EventLoopGroup loops(1, "error-queue");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Bootstrap client;
  client.group(loops).initializer(client_peers.collecting_initializer());
  ChannelPtr client_channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> client_peer = client_peers.first();
  REQUIRE(client_peer->wait_active());

  const int error = await(submit(client_channel->loop(), [client_channel] {
    const int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    const int fd = static_cast<StreamChannel&>(*client_channel).fd();
    const int rc = ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags);
    client_channel->write_and_flush(to_buffer("stamped"));
    return rc == 0 ? 0 : errno;
  }));
  REQUIRE(error == 0);

  CHECK(client_peer->wait_inactive(kLongWait));
  const std::vector<Error> errors = client_peer->error_list();
  REQUIRE(errors.size() == 1);
  CHECK_MESSAGE(errors[0] == std::errc::io_error, errors[0].message());
  CHECK(server_peers.first()->wait_inactive());
  server->close();
}
