// sluice-echo-client: talks to an echo server.
//
//   sluice-echo-client --host 127.0.0.1 --port 7007
//       interactive: stdin goes to the server, what comes back goes to stdout; status 1 if
//       the server ends the connection first or does not echo everything
//   sluice-echo-client --bench --connections 64 --size 64 --depth 16 --seconds 5
//       load: each connection keeps `depth` messages of `size` bytes in flight, checks every
//       byte that comes back, and the run ends with messages/s and latency percentiles

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../common/command_line.hpp"
#include "bench_connection.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/inbound_handler_for.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/log.hpp"
#include "sluice/transport/bootstrap.hpp"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

// What the loop thread tells the main one: the server has sent its last byte, or the
// connection is gone. Each is noted once; a byte written to a pipe wakes the main thread from
// its poll() on stdin.
class ServerEnd {
 public:
  ServerEnd() {
    if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
  }
  ~ServerEnd() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  ServerEnd(const ServerEnd&) = delete;
  ServerEnd& operator=(const ServerEnd&) = delete;

  void note() noexcept {
    if (ended_.exchange(true)) return;
    const char byte = 1;
    [[maybe_unused]] const ssize_t written = ::write(fds_[1], &byte, 1);
  }
  int fd() const noexcept { return fds_[0]; }
  std::atomic<std::uint64_t> received{0};  // bytes the server sent back

 private:
  int fds_[2] = {-1, -1};
  std::atomic<bool> ended_{false};
};

// Copies what the server sends back to stdout, and notes when it ends.
class PrintReplies final : public InboundHandlerFor<Buffer> {
 public:
  explicit PrintReplies(std::shared_ptr<ServerEnd> end) : end_(std::move(end)) {}

  void on_message(HandlerContext&, Buffer&& bytes) override {
    const std::string_view text = bytes.readable_view();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    end_->received.fetch_add(text.size(), std::memory_order_relaxed);
  }
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<ChannelInputShutdown>()) end_->note();
    ctx.fire_user_event(std::move(event));
  }
  void on_inactive(HandlerContext& ctx) override {
    end_->note();
    ctx.fire_inactive();
  }

 private:
  std::shared_ptr<ServerEnd> end_;
};

// Sends stdin to the server as it comes (with a newline after a last line that has none) and
// prints the replies. At stdin's end it shuts its output down and waits, up to 5 s, for the
// server to echo the rest and close. Status 1 when the server ends the connection first, or
// when fewer bytes came back than were sent.
int interactive(const std::string& host, std::uint16_t port) {
  auto server_end = std::make_shared<ServerEnd>();
  EventLoopGroup loops(1, "echo-client");
  ChannelOptions options;
  options.allow_half_closure = true;  // after stdin ends, wait for the last replies
  auto connected =
      Bootstrap()
          .group(loops)
          .options(options)
          .initializer([server_end](Channel& channel) {
            channel.pipeline().add_last("print", std::make_unique<PrintReplies>(server_end));
          })
          .connect(host, port);
  Ref<Channel> channel = connected.get();
  std::uint64_t sent = 0;
  bool newline_owed = false;  // the last byte sent was not a newline
  std::vector<char> input(64 * 1024);
  for (;;) {
    pollfd waits[2] = {{STDIN_FILENO, POLLIN, 0}, {server_end->fd(), POLLIN, 0}};
    if (::poll(waits, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    if (waits[1].revents != 0) {
      std::fprintf(stderr,
                   "sluice-echo-client: the server ended the connection before the input ended "
                   "(%llu of %llu bytes back)\n",
                   static_cast<unsigned long long>(server_end->received.load()),
                   static_cast<unsigned long long>(sent));
      channel->close();
      loops.shutdown_gracefully();
      return 1;
    }
    if (waits[0].revents == 0) continue;
    const ssize_t count = ::read(STDIN_FILENO, input.data(), input.size());
    if (count < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (count <= 0) break;  // the end of the input (or a failure to read it: the same)
    const auto length = static_cast<std::size_t>(count);
    channel->write_and_flush(Buffer::copy_of(std::string_view(input.data(), length)));
    sent += length;
    newline_owed = input[length - 1] != '\n';
  }
  if (newline_owed) {
    channel->write_and_flush(Buffer::copy_of(std::string_view("\n")));
    ++sent;
  }
  channel->shutdown_output();
  const bool closed = channel->close_future().wait_for(std::chrono::seconds(5));
  channel->close();
  loops.shutdown_gracefully();
  const std::uint64_t received = server_end->received.load();
  if (!closed || received != sent) {
    std::fprintf(stderr, "sluice-echo-client: %s (%llu of %llu bytes back)\n",
                 closed ? "the server closed the connection before echoing everything"
                        : "the server had not closed the connection 5 s after the input ended",
                 static_cast<unsigned long long>(received), static_cast<unsigned long long>(sent));
    return 1;
  }
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
  constexpr const char* kName = "sluice-echo-client";
  try {
    const examples::CommandLine args(
        argc, argv,
        {{"host", "ADDR", "the echo server's address or name (default 127.0.0.1)"},
         {"port", "N", "the echo server's port (default 7007)"},
         {"bench", "", "measure instead of talking: messages/s and latency percentiles"},
         {"connections", "N", "--bench: connections (default 64)"},
         {"size", "B", "--bench: bytes per message (default 64)"},
         {"depth", "D", "--bench: messages in flight per connection (default 1)"},
         {"seconds", "S", "--bench: how long to measure (default 5)"},
         {"threads", "N", "--bench: event loop threads, 0 for one per core (default 1)"}});
    if (args.wants_help()) {
      std::fputs(args.usage(kName,
                            "Talks to an echo server: stdin goes to it, what comes back goes to\n"
                            "stdout. Status 1 if the server ends the connection first or does not\n"
                            "echo everything. With --bench, loads it and checks every byte.")
                     .c_str(),
                 stdout);
      return 0;
    }
    const std::string host = args.get("host", "127.0.0.1");
    const std::uint16_t port = args.get_port("port", 7007);
    return args.has("bench") ? bench(host, port, args) : interactive(host, port);
  } catch (const std::invalid_argument& error) {
    return examples::usage_error(kName, error);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "sluice-echo-client: %s\n", error.what());
    return 1;
  }
}
