#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/channel/channel_options.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/future.hpp"
#include "sluice/transport/listener.hpp"
#include "sluice/transport/stream_channel.hpp"

namespace sluice {

// A bound server: its listening sockets (one, or one per worker loop with SO_REUSEPORT).
class Server final : public RefCounted<Server> {
 public:
  // `listeners`: at least one.
  explicit Server(std::vector<Ref<Listener>> listeners);

  // The bound address; with port 0 asked for, the port the kernel chose.
  const SocketAddress& local_address() const noexcept {
    return listeners_.front()->local_address();
  }
  std::uint16_t port() const noexcept { return local_address().port(); }
  std::size_t listener_count() const noexcept { return listeners_.size(); }
  // Any thread: stops accepting (connections already accepted go on). The listeners close on
  // their loops; the future completes once every one of them has closed its socket, and
  // removed its Unix-domain socket file where its bind made one: from then on the port refuses
  // connections and can be bound again, the path can be reused and its directory removed, and
  // the server holds no descriptor (connections it accepted are not its to close).
  //
  // It completes with success, never with an error: what it waits for always comes. A listener
  // closed otherwise (an accept4 error, EventLoopGroup::shutdown_gracefully, a loop stopped)
  // counts as closed, and a loop that stops closes the listeners still open on it before its
  // thread ends. So closing twice, closing while the group shuts down, and closing after it
  // has shut down all return a future that completes (each call returns the same future).
  // Once every listener has closed, close() returns it complete at once without touching the
  // loops, so a Server kept after its group was destroyed may still be closed (and dropped).
  //
  // Ignoring the future is fine (the listeners close all the same), hence no [[nodiscard]]. Wait
  // on it (get(), wait()) from a thread that is not a loop, or use then(): callbacks run on the
  // first listener's loop (the acceptor loop; with reuse_port, the first worker loop), once the
  // sockets are closed.
  Future<void> close();

 private:
  std::vector<Ref<Listener>> listeners_;
  Future<void> closed_;  // every listener has closed; set in the constructor
};

// Starts servers: listening sockets whose accepted connections become StreamChannels on
// worker loops, each set up by the child initializer.
//
//   EventLoopGroup workers(4);
//   auto server = ServerBootstrap()
//                     .group(workers)
//                     .child_initializer([](Channel& ch) { ch.pipeline().add_last(...); })
//                     .bind("127.0.0.1", 8080)
//                     .get();
//
// Two modes: one listener on an acceptor loop handing accepted sockets round-robin to the
// worker loops (the default), or reuse_port(true): one SO_REUSEPORT listener per worker loop,
// the kernel spreading connections, each loop accepting its own.
class ServerBootstrap {
 public:
  ServerBootstrap& group(EventLoopGroup& acceptor, EventLoopGroup& workers);
  ServerBootstrap& group(EventLoopGroup& both) { return group(both, both); }
  ServerBootstrap& listen_options(const ListenOptions& options);
  ServerBootstrap& reuse_port(bool enabled);
  ServerBootstrap& child_options(const ChannelOptions& options);
  ServerBootstrap& child_initializer(ChannelInitializer initializer);

  // Any thread. Resolves `host`, binds and listens; the future completes once every listener
  // accepts, or with the error (EADDRINUSE, EACCES, ...). "" is every IPv4 interface (0.0.0.0);
  // "::" every IPv6 one, and IPv6 only (IPV6_V6ONLY is set, so that an IPv4 server can share
  // the port). A name that resolves to several addresses is bound on the first, in
  // getaddrinfo's order (IPv6 first where the host has it: "localhost" can mean ::1 alone,
  // which 127.0.0.1 does not reach); give a numeric address to choose. The lookup blocks the
  // calling thread.
  [[nodiscard]] Future<Ref<Server>> bind(const std::string& host, std::uint16_t port);
  // A Unix-domain stream server at `path`. A stale socket file there (connect refused) is
  // replaced; one a server still listens on fails the bind with EADDRINUSE; any other file is
  // left alone (and the bind fails). The socket file is removed as the server closes (it is
  // gone once Server::close()'s future completes). A path starting with a NUL byte is an
  // abstract name (no file).
  [[nodiscard]] Future<Ref<Server>> bind_unix(const std::string& path);

 private:
  [[nodiscard]] Future<Ref<Server>> bind_address(const SocketAddress& address);

  EventLoopGroup* acceptor_ = nullptr;
  EventLoopGroup* workers_ = nullptr;
  ListenOptions listen_options_;
  ChannelOptions child_options_;
  ChannelInitializer child_initializer_;
};

}  // namespace sluice
