#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "close_when_idle.hpp"
#include "relay_handler.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/idle_state_handler.hpp"
#include "sluice/core/log.hpp"

namespace sluice::examples {

// The first handler of a proxy's accepted connection, before its RelayHandler (named "relay"):
// once the client's channel is active, connects to the backend on that channel's own loop,
// gives each side's RelayHandler the other, starts reading the client, and leaves the pipeline.
// The client's channel starts with auto_read off (proxy_initializer sees to it), so nothing is
// read before there is somewhere to send it. A backend that cannot be reached closes the
// client's connection.
class BackendConnector final : public ChannelHandler {
 public:
  BackendConnector(std::string host, std::uint16_t port, const ChannelOptions& options)
      : host_(std::move(host)), port_(port), options_(options) {}

  void on_active(HandlerContext& ctx) override {
    // First: a connect that fails at once (no descriptor left) runs the callback below inline,
    // and its close must not reach the handlers after this one before they heard of the start.
    ctx.fire_active();
    const ChannelPtr client(&ctx.channel());
    connect_backend(client, host_, port_, options_)
        .then([client](const Result<Ref<Channel>>& connected) {
          if (!connected.ok()) {
            logger().info("{}: no backend: {}", client->describe(), connected.error().message());
            client->close();
            return;
          }
          const Ref<Channel>& backend = connected.value();
          auto* relay = static_cast<RelayHandler*>(client->pipeline().get("relay"));
          if (!client->is_open() || relay == nullptr) {
            backend->close();
            return;
          }
          relay->set_peer(backend);
          client->set_auto_read(true);
        });
    ctx.pipeline().remove(*this);
  }

 private:
  std::string host_;
  std::uint16_t port_;
  ChannelOptions options_;
};

// The child initializer of a proxy to host:port. The server's child options need
// allow_half_closure for half-closes to pass through; `backend_options` are the backend
// connections' options (allow_half_closure set there too). A client connection on which
// nothing moves either way for `idle` is closed, and its backend side with it (0: never).
inline ChannelInitializer proxy_initializer(std::string host, std::uint16_t port,
                                            ChannelOptions backend_options,
                                            std::chrono::seconds idle = std::chrono::seconds(0)) {
  backend_options.allow_half_closure = true;
  return [host = std::move(host), port, backend_options, idle](Channel& client) {
    client.set_auto_read(false);
    auto& pipeline = client.pipeline();
    if (idle.count() > 0) {
      // All-idle with output counted: a tunnel busy one way only (a download) is not idle.
      pipeline.add_last("idle", std::make_unique<IdleStateHandler>(
                                    std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                                    idle, OutputProgress::kCountsAsWrite));
    }
    pipeline.add_last("connect", std::make_unique<BackendConnector>(host, port, backend_options));
    pipeline.add_last("relay", std::make_unique<RelayHandler>());
    if (idle.count() > 0) pipeline.add_last("close-when-idle", std::make_unique<CloseWhenIdle>());
  };
}

}  // namespace sluice::examples
