#pragma once

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <set>
#include <string>

#include "command_line.hpp"
#include "shutdown_signal.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/log.hpp"
#include "sluice/transport/server_bootstrap.hpp"

namespace sluice::examples {

// The main() of the example servers: parses --host --port --threads [--reuseport], binds,
// logs, waits for SIGINT/SIGTERM and shuts down gracefully. `configure` sets up each
// connection's pipeline and may read the server's own `flags` and `options`.
inline int run_server(int argc, char** argv, const char* name, std::uint16_t default_port,
                      std::set<std::string> flags, std::set<std::string> options,
                      const std::function<ChannelInitializer(const CommandLine&)>& configure) {
  block_shutdown_signals();
  try {
    flags.insert("reuseport");
    options.insert({"host", "port", "threads"});
    const CommandLine args(argc, argv, flags, options);
    const std::string host = args.get("host", "127.0.0.1");
    const std::uint16_t port = args.get_port("port", default_port);
    // 0: one loop per core.
    const auto threads = static_cast<std::size_t>(args.get_int("threads", 1, 0, 1024));
    ChannelInitializer initializer = configure(args);
    EventLoopGroup workers(threads, name);
    // A client that half-closes after its last request still gets every answer: each server's
    // handlers end the connection themselves once they are done.
    ChannelOptions child_options;
    child_options.allow_half_closure = true;
    auto server = ServerBootstrap()
                      .group(workers)
                      .reuse_port(args.has("reuseport"))
                      .child_options(child_options)
                      .child_initializer(std::move(initializer))
                      .bind(host, port)
                      .get();
    logger().info("{} listening on {} with {} loop thread(s){}", name,
                  server->local_address().to_string(), workers.size(),
                  args.has("reuseport") ? ", one SO_REUSEPORT listener each" : "");
    const int signal_number = wait_for_shutdown_signal();
    logger().info("{}: signal {}, shutting down", name, signal_number);
    server->close();
    workers.shutdown_gracefully(std::chrono::milliseconds(0), std::chrono::seconds(5));
    const LoopMetrics metrics = workers.metrics();
    logger().info("{} stopped: {} connections accepted, {} bytes in, {} bytes out", name,
                  metrics.accepted, metrics.bytes_read, metrics.bytes_written);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", name, error.what());
    return 1;
  }
}

}  // namespace sluice::examples
