#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "sluice/channel/channel_options.hpp"
#include "sluice/channel/socket_address.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/future.hpp"
#include "sluice/transport/stream_channel.hpp"

namespace sluice {

// Whether a connect may go to an address (Bootstrap::address_filter).
using AddressFilter = std::function<bool(const SocketAddress&)>;

// Opens client connections.
//
//   auto channel = Bootstrap().group(loops).initializer(setup).connect("localhost", 7007).get();
//
// Names resolve through libuv's getaddrinfo on its thread pool (numeric addresses directly);
// the addresses are tried in order, each given ChannelOptions::connect_timeout, until one
// connects. When none does, the future fails with the last one's Error (refused, unreachable,
// timed out), naming the address. An initializer that throws or closes the channel ends the
// connect with its own error: the other addresses are not tried. A loop that stops while the
// name is being looked up, or while an address is being connected to, fails the future with
// std::errc::operation_canceled (and tries no other address).
class Bootstrap {
 public:
  // Where the connections live: the group's loops in turn, or one loop. loop() is for a
  // channel that opens another and talks to it (a proxy's connection to its backend): on the
  // first channel's own loop, both channels' handlers run on one thread, and each can write to,
  // or stop reading from, the other directly. The last of the two calls wins.
  Bootstrap& group(EventLoopGroup& loops);
  Bootstrap& loop(EventLoop& loop);
  Bootstrap& options(const ChannelOptions& options);
  Bootstrap& initializer(ChannelInitializer initializer);
  // Says, on the loop thread, whether each address a connect would try may be connected to;
  // those it refuses are skipped, before any packet goes to them. A connect whose addresses are
  // all refused fails with ChannelErrc::address_refused (or, when some were tried, with the
  // last one's error). It sees every address: the numeric ones given to connect(), those a name
  // resolved to, Unix-domain paths. For a proxy or a webhook caller, whose clients choose the
  // host: SocketAddress::is_global keeps them off this machine and its private networks, which
  // a check of the name cannot do (any name can resolve to 127.0.0.1).
  Bootstrap& address_filter(AddressFilter filter);

  // Any thread.
  [[nodiscard]] Future<Ref<Channel>> connect(const std::string& host, std::uint16_t port);
  [[nodiscard]] Future<Ref<Channel>> connect(const SocketAddress& address);
  [[nodiscard]] Future<Ref<Channel>> connect_unix(const std::string& path);

 private:
  EventLoop& next_loop() const;

  EventLoopGroup* group_ = nullptr;
  EventLoop* loop_ = nullptr;
  ChannelOptions options_;
  ChannelInitializer initializer_;
  AddressFilter address_filter_;
};

}  // namespace sluice
