// Which events reach handlers around failures: none after on_inactive when a failed write's
// callback closes the channel (a truncated file, a shutdown that fails unflushed writes), and
// the writability events when writes from other threads cross the water marks.

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/buffer/file_region.hpp"
#include "sluice/core/fd.hpp"
#include "sluice/transport/stream_channel.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

// Recorder logs, as EventLog entries: "active", "inactive", "error:<message>",
// "input-shutdown", "output-shutdown", "writability:<is_writable()>".
class Recorder final : public ChannelHandler {
 public:
  Recorder(std::shared_ptr<EventLog> log, std::function<void(HandlerContext&)> on_active = {})
      : log_(std::move(log)), on_active_(std::move(on_active)) {}
  void on_active(HandlerContext& ctx) override {
    log_->add("active");
    if (on_active_) on_active_(ctx);
    ctx.fire_active();
  }
  void on_inactive(HandlerContext& ctx) override {
    log_->add("inactive");
    ctx.fire_inactive();
  }
  void on_read(HandlerContext&, Message&&) override {}
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<ChannelInputShutdown>()) log_->add("input-shutdown");
    if (event.is<ChannelOutputShutdown>()) log_->add("output-shutdown");
    ctx.fire_user_event(std::move(event));
  }
  void on_writability_changed(HandlerContext& ctx) override {
    log_->add(std::string("writability:") + (ctx.channel().is_writable() ? "true" : "false"));
    ctx.fire_writability_changed();
  }
  void on_error(HandlerContext&, const Error& error) override {
    log_->add("error:" + error.message());
  }

 private:
  std::shared_ptr<EventLog> log_;
  std::function<void(HandlerContext&)> on_active_;
};

// Accepts one connection whose server side runs `on_active`, which ends in the channel's
// close; then checks that nothing reached the server's handler after its on_inactive.
void check_nothing_after_inactive(const char* loop_name,
                                  std::function<void(HandlerContext&)> on_active) {
  auto log = std::make_shared<EventLog>();
  EventLoopGroup loops(1, loop_name);
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer([log, on_active](Channel& channel) {
    channel.pipeline().add_last("recorder", std::make_unique<Recorder>(log, on_active));
  });
  Ref<Server> server = endpoint.bind(server_bootstrap);
  Peers client_peers;
  Bootstrap client;
  client.group(loops).initializer(client_peers.collecting_initializer());
  ChannelPtr client_channel = await(endpoint.connect(client));
  REQUIRE(eventually([&] { return log->contains("inactive"); }));
  std::this_thread::sleep_for(50ms);
  const std::vector<std::string> events = log->list();
  const auto inactive = std::find(events.begin(), events.end(), "inactive");
  std::string after;
  for (auto it = std::next(inactive); it != events.end(); ++it)
    after += *it + "; ";
  CHECK_MESSAGE(after.empty(), "events after on_inactive: ", after);
  client_channel->close();
  await(client_channel->close_future());
  server->close();
}

}  // namespace

TEST_CASE(
    "a truncated FileRegion whose write callback closes the channel fires no on_error after "
    "on_inactive") {
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("short.bin");
  write_file(path, "0123456789");  // 10 bytes; the region asks for 1000
  check_nothing_after_inactive("events-truncated", [path](HandlerContext& ctx) {
    auto file = File::open(path);
    REQUIRE(file);
    Channel* target = &ctx.channel();
    // "Close on failure", the usual write listener.
    ctx.write(FileRegion(*file, 0, 1000), [target](const Error& error) {
      if (error) target->close();
    });
    ctx.flush();
  });
}

TEST_CASE(
    "a shutdown_output whose failed unflushed write closes the channel fires no "
    "ChannelOutputShutdown after on_inactive") {
  ProcessHealth health;
  check_nothing_after_inactive("events-shutdown", [](HandlerContext& ctx) {
    Channel* target = &ctx.channel();
    // Written, not flushed: shutdown_output fails it.
    ctx.write(to_buffer("unflushed"), [target](const Error& error) {
      if (error) target->close();
    });
    ctx.shutdown_output();
  });
}

TEST_CASE(
    "writes from another thread that turn is_writable() false fire on_writability_changed, "
    "and again when it turns true") {
  ProcessHealth health;
  Peers server_peers;
  EventLoopGroup loops(1, "events-foreign");
  Endpoint endpoint(Family::kIPv4);
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops).child_initializer(server_peers.collecting_initializer());
  Ref<Server> server = endpoint.bind(server_bootstrap);
  auto log = std::make_shared<EventLog>();
  Bootstrap client;
  client.group(loops).initializer([log](Channel& channel) {
    channel.pipeline().add_last("recorder", std::make_unique<Recorder>(log));
  });
  ChannelPtr channel = await(endpoint.connect(client));
  std::shared_ptr<Peer> server_peer = server_peers.first();

  // Hold the loop, so the writes queue up.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto holding = std::make_shared<std::promise<void>>();
  loops.at(0).execute([holding, released] {
    holding->set_value();
    released.wait_for(std::chrono::seconds(30));
  });
  REQUIRE(holding->get_future().wait_for(kShortWait) == std::future_status::ready);

  constexpr std::size_t kChunk = 8 * kKiB;
  constexpr int kChunks = 20;  // 160 KiB, well over the 64 KiB high water mark
  const std::string payload = make_pattern(kChunk * kChunks, 3);
  for (int i = 0; i < kChunks; ++i)
    channel->write_and_flush(to_buffer(std::string_view(payload).substr(i * kChunk, kChunk)));
  CHECK_FALSE(channel->is_writable());  // producers elsewhere see the channel unwritable

  release.set_value();
  REQUIRE(server_peer->wait_received(payload.size()));
  CHECK(server_peer->received_bytes() == payload);
  REQUIRE(eventually([&] { return channel->is_writable(); }));
  // is_writable() went false and came back: a handler waiting for writability must hear it.
  // Waited for: the loop turns is_writable() true just before it fires the event.
  eventually([&] { return log->contains("writability:true"); });
  const std::vector<std::string> events = log->list();
  std::string all;
  for (const auto& e : events)
    all += e + "; ";
  const auto went_false = std::find(events.begin(), events.end(), "writability:false");
  CHECK_MESSAGE(went_false != events.end(), "events: ", all);
  CHECK_MESSAGE(std::find(went_false, events.end(), "writability:true") != events.end(),
                "events: ", all);
  channel->close();
  await(channel->close_future());
  server->close();
}

TEST_CASE("a write not flushed when shutdown_output is called fails, even if a flush follows") {
  // Deferred behind flushed bytes, the shutdown let a later flush send the unflushed write
  // before FIN; with nothing flushed, the same write failed. It fails either way now.
  ProcessHealth health;
  auto results = std::make_shared<EventLog>();
  const std::string big = make_pattern(4 * kMiB, 5);
  EventLoopGroup loops(1, "events-fin");
  Endpoint endpoint(Family::kIPv4);
  ChannelOptions server_options;
  server_options.send_buffer = 16 * kKiB;
  ServerBootstrap server_bootstrap;
  server_bootstrap.group(loops)
      .child_options(server_options)
      .child_initializer([results, big](Channel& channel) {
        auto on_active = [results, big](HandlerContext& ctx) {
          ctx.write(to_buffer(big),
                    [results](const Error& e) { results->add(e ? "big: failed" : "big: ok"); });
          ctx.flush();  // more than the socket takes: still pending at the shutdown
          ctx.write(to_buffer("late"),
                    [results](const Error& e) { results->add(e ? "late: failed" : "late: ok"); });
          ctx.shutdown_output();
          ctx.flush();
        };
        channel.pipeline().add_last(
            "recorder", std::make_unique<Recorder>(std::make_shared<EventLog>(), on_active));
      });
  Ref<Server> server = endpoint.bind(server_bootstrap);
  auto client_peer = std::make_shared<Peer>();
  Bootstrap client;
  client.group(loops).initializer([client_peer](Channel& channel) {
    channel.pipeline().add_last("collector", std::make_unique<Collector>(client_peer));
  });
  ChannelPtr client_channel = await(endpoint.connect(client));
  REQUIRE(client_peer->wait_received(big.size()));
  REQUIRE(eventually([&] { return results->list().size() == 2; }));
  std::this_thread::sleep_for(50ms);
  CHECK(results->list() == std::vector<std::string>{"big: ok", "late: failed"});
  CHECK(client_peer->received_count() == big.size());
  client_channel->close();
  await(client_channel->close_future());
  server->close();
}
