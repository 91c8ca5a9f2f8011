// sluice-echo-client: talks to an echo server.
//
//   sluice-echo-client --host 127.0.0.1 --port 7007
//       interactive: each line of stdin goes to the server, what comes back goes to stdout
//   sluice-echo-client --bench --connections 64 --size 64 --depth 16 --seconds 5
//       load: each connection keeps `depth` messages of `size` bytes in flight, checks every
//       byte that comes back, and the run ends with messages/s and latency percentiles

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../common/command_line.hpp"
#include "bench_connection.hpp"
#include "sluice/channel/inbound_handler_for.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/log.hpp"
#include "sluice/transport/bootstrap.hpp"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

// Copies what the server sends back to stdout.
class PrintReplies final : public InboundHandlerFor<Buffer> {
 public:
  void on_message(HandlerContext&, Buffer&& bytes) override {
    const std::string_view text = bytes.readable_view();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
};

int interactive(const std::string& host, std::uint16_t port) {
  EventLoopGroup loops(1, "echo-client");
  ChannelOptions options;
  options.allow_half_closure = true;  // after stdin ends, wait for the last replies
  auto connected = Bootstrap()
                       .group(loops)
                       .options(options)
                       .initializer([](Channel& channel) {
                         channel.pipeline().add_last("print", std::make_unique<PrintReplies>());
                       })
                       .connect(host, port);
  Ref<Channel> channel = connected.get();
  std::string line;
  while (std::getline(std::cin, line) && channel->is_open()) {
    line += '\n';
    channel->write_and_flush(Buffer::copy_of(line));
  }
  channel->shutdown_output();
  channel->close_future().wait_for(std::chrono::seconds(5));
  channel->close();
  loops.shutdown_gracefully();
  return 0;
}

int bench(const std::string& host, std::uint16_t port, const examples::CommandLine& args) {
  auto state = std::make_shared<examples::BenchState>(
      static_cast<std::size_t>(args.get_int("size", 64, 1, 64 << 20)),
      static_cast<std::size_t>(args.get_int("depth", 1, 1, 1 << 16)));
  const auto connections = static_cast<std::size_t>(args.get_int("connections", 64, 1, 1 << 20));
  const auto seconds = args.get_int("seconds", 5, 1, 86400);
  EventLoopGroup loops(static_cast<std::size_t>(args.get_int("threads", 1, 0, 1024)), "echo-bench");
  Bootstrap bootstrap;
  bootstrap.group(loops).initializer([state](Channel& channel) {
    channel.pipeline().add_last("bench", std::make_unique<examples::BenchConnection>(state));
  });
  std::vector<Ref<Channel>> channels;
  for (std::size_t i = 0; i < connections; ++i)
    channels.push_back(bootstrap.connect(host, port).get());
  // The clock runs from here, every connection up, until sending stops; only the messages
  // echoed in between are counted.
  state->measuring = true;
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  state->measuring = false;
  state->sending = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  // Each connection closes once its last replies are in. One deadline for them all: a server
  // that stopped answering holds the run 10 s past its end, not 10 s per connection.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  std::size_t waiting = 0;
  for (auto& channel : channels) {
    const auto left = std::max(deadline - Clock::now(), Clock::duration::zero());
    if (!channel->close_future().wait_for(left)) ++waiting;
  }
  if (waiting != 0) {
    std::fprintf(stderr,
                 "sluice-echo-client: %zu connection(s) still waiting for replies 10 s after the "
                 "end (each counts as an error)\n",
                 waiting);
  }
  loops.shutdown_gracefully();
  std::lock_guard lock(state->mutex);
  const double rate = static_cast<double>(state->messages) / elapsed;
  std::printf("%zu connections, %zu B messages, depth %zu, %.1f s\n", connections, state->size,
              state->depth, elapsed);
  std::printf("messages/s %.0f  MiB/s %.1f  latency us p50 %llu p99 %llu p99.9 %llu  errors %llu\n",
              rate, rate * static_cast<double>(state->size) / (1024.0 * 1024.0),
              static_cast<unsigned long long>(state->latencies.percentile(0.5)),
              static_cast<unsigned long long>(state->latencies.percentile(0.99)),
              static_cast<unsigned long long>(state->latencies.percentile(0.999)),
              static_cast<unsigned long long>(state->errors));
  return state->errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const examples::CommandLine args(
        argc, argv, {"bench"},
        {"host", "port", "size", "depth", "connections", "seconds", "threads"});
    const std::string host = args.get("host", "127.0.0.1");
    const std::uint16_t port = args.get_port("port", 7007);
    return args.has("bench") ? bench(host, port, args) : interactive(host, port);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "sluice-echo-client: %s\n", error.what());
    return 1;
  }
}
