#pragma once

#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "shutdown_signal.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/log.hpp"
#include "sluice/transport/server_bootstrap.hpp"

namespace sluice::examples {

// What run_server needs to know of one example server.
struct ServerProgram {
  const char* name;
  const char* summary;  // what it serves, for --help
  std::uint16_t default_port;
  std::vector<Option> options;  // its own, after the common --host, --port, --threads, --reuseport
};

// The main() of the example servers: parses --host --port --threads [--reuseport] and the
// server's own options, binds, logs, waits for SIGINT/SIGTERM and shuts down gracefully.
// `configure` sets up each connection's pipeline from the options, and throws
// std::invalid_argument for a value it refuses. Status 0 after a shutdown or --help, 2 for a
// usage error, 1 when the server could not run (a root that will not open, a bind that
// fails).
inline int run_server(int argc, char** argv, const ServerProgram& program,
                      const std::function<ChannelInitializer(const CommandLine&)>& configure) {
  block_shutdown_signals();
  const char* name = program.name;
  std::vector<Option> options{
      {"host", "ADDR", "the address to listen on: IPv4, IPv6 or a name (default 127.0.0.1)"},
      {"port", "N",
       "the port, 0 for any free one (default " + std::to_string(program.default_port) + ")"},
      {"threads", "N", "event loop threads, 0 for one per core (default 1)"},
      {"reuseport", "", "one SO_REUSEPORT listener per loop instead of one acceptor"}};
  options.insert(options.end(), program.options.begin(), program.options.end());
  std::string host;
  std::uint16_t port = 0;
  std::size_t threads = 1;
  bool reuse_port = false;
  ChannelInitializer initializer;
  try {
    const CommandLine args(argc, argv, std::move(options));
    if (args.wants_help()) {
      std::fputs(args.usage(name, program.summary).c_str(), stdout);
      return 0;
    }
    host = args.get("host", "127.0.0.1");
    port = args.get_port("port", program.default_port);
    threads = static_cast<std::size_t>(args.get_int("threads", 1, 0, 1024));
    reuse_port = args.has("reuseport");
    initializer = configure(args);
  } catch (const std::invalid_argument& error) {
    return usage_error(name, error);
  } catch (const std::exception& error) {  // a root that cannot be opened, say
    std::fprintf(stderr, "%s: %s\n", name, error.what());
    return 1;
  }
  try {
    EventLoopGroup workers(threads, name);
    // A client that half-closes after its last request still gets every answer: each server's
    // handlers end the connection themselves once they are done.
    ChannelOptions child_options;
    child_options.allow_half_closure = true;
    auto server = ServerBootstrap()
                      .group(workers)
                      .reuse_port(reuse_port)
                      .child_options(child_options)
                      .child_initializer(std::move(initializer))
                      .bind(host, port)
                      .get();
    logger().info("{} listening on {} with {} loop thread(s){}", name,
                  server->local_address().to_string(), workers.size(),
                  reuse_port ? ", one SO_REUSEPORT listener each" : "");
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
