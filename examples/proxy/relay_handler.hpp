#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/transport/bootstrap.hpp"

namespace sluice::examples {

// One side of a proxied connection: what its channel reads goes to the other side's channel.
// Both live on the same event loop (the backend is connected with Bootstrap::loop), so each
// side writes to the other, and holds the other's reading back, directly, with no lock and no
// hop between threads. Bytes pass through in the buffers they were read into: nothing is
// copied, and each read batch leaves in one gathered write.
//
// A side whose peer cannot take more (its pending writes crossed the high water mark) stops
// reading until the peer drains, so a slow end keeps the bytes in the kernel, not in the proxy.
// A half-close is passed on as one (FIN after the bytes before it; both sides need
// allow_half_closure), and when one side closes, the other closes once what was flushed to it
// has been written.
class RelayHandler final : public ChannelHandler {
 public:
  // `peer` can come later (set_peer): the client's side waits, not reading, for its backend.
  explicit RelayHandler(ChannelPtr peer = {}) : peer_(std::move(peer)) {}

  void set_peer(ChannelPtr peer) { peer_ = std::move(peer); }

  // Closes the other side now, what is queued for it dropped, rather than once it is written:
  // for a close because nothing moved (CloseWhenIdle), where the peer may have stopped reading
  // and would keep its side open for good waiting for that.
  void close_peer_now() {
    if (ChannelPtr peer = std::move(peer_)) peer->close();
  }

  void on_read(HandlerContext& ctx, Message&& message) override {
    if (!peer_) return;  // not connected yet: reading starts once it is
    peer_->write(std::move(message));
    if (!peer_->is_writable()) ctx.channel().set_auto_read(false);
  }
  void on_read_complete(HandlerContext& ctx) override {
    if (peer_) peer_->flush();
    ctx.fire_read_complete();
  }
  // This channel draining is what lets its peer read again.
  void on_writability_changed(HandlerContext& ctx) override {
    if (peer_) peer_->set_auto_read(ctx.channel().is_writable());
    ctx.fire_writability_changed();
  }
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<ChannelInputShutdown>() && peer_) {
      // What was written but not flushed would fail at the shutdown instead of going first.
      peer_->flush();
      peer_->shutdown_output();
    }
    ctx.fire_user_event(std::move(event));
  }
  // The bytes this side relayed last still reach the other end before it closes. (An empty
  // write whose completion closes the peer would not do: after a passed-on half-close the
  // write fails at once, and the close would drop what the FIN was waiting behind.) Dropping
  // the peer also ends the reference cycle between the two sides.
  void on_inactive(HandlerContext& ctx) override {
    if (ChannelPtr peer = std::move(peer_)) peer->close_when_flushed();
    ctx.fire_inactive();
  }

 private:
  ChannelPtr peer_;
};

// Connects the backend side of `client`'s relay, on the client's own loop (so the two sides
// share a thread), with a RelayHandler that sends what the backend reads to `client`. The
// client's side is the caller's to pair with it once the future completes. Only the addresses
// `allowed` accepts are connected to (any, when it is empty).
inline Future<Ref<Channel>> connect_backend(const ChannelPtr& client, const std::string& host,
                                            std::uint16_t port, const ChannelOptions& options,
                                            AddressFilter allowed = {}) {
  return Bootstrap()
      .loop(client->loop())
      .options(options)
      .address_filter(std::move(allowed))
      .initializer([client](Channel& backend) {
        backend.pipeline().add_last("relay", std::make_unique<RelayHandler>(client));
      })
      .connect(host, port);
}

}  // namespace sluice::examples
