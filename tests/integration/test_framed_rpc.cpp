// A length-prefixed request/response protocol over real sockets, built as a user would build
// one from the frame codecs: LengthFieldBasedFrameDecoder and LengthFieldPrepender on both
// sides, a server that answers each frame with the frame itself (the slice it received, sent
// back without a copy) and stops reading while its answers do not drain, and clients that keep
// as many frames in flight as their water marks allow. Real reads cut frames anywhere and
// carry many at once, which the unit tests' byte-by-byte splits only imitate.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/length_field_frame_decoder.hpp"
#include "sluice/codec/length_field_prepender.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

constexpr std::size_t kMaxFrame = 2 * kMiB;
constexpr std::size_t kHeader = 4;

void add_framing(Pipeline& pipeline, bool contiguous_frames) {
  LengthFieldFrameOptions options;
  options.max_frame_length = kMaxFrame + kHeader;  // the header counts towards the frame
  options.length_field_length = kHeader;
  options.initial_bytes_to_strip = kHeader;
  options.contiguous_frames = contiguous_frames;
  pipeline.add_last("frames", std::make_unique<LengthFieldBasedFrameDecoder>(options));
  pipeline.add_last("prepender", std::make_unique<LengthFieldPrepender>(kHeader));
}

// The bytes of a frame as one string, whichever form the decoder handed it out in.
std::string frame_text(const Message& message) {
  if (const Buffer* buffer = message.get_if<Buffer>()) return std::string(buffer->readable_view());
  if (const CompositeBuffer* composite = message.get_if<CompositeBuffer>()) {
    std::string text(composite->readable_bytes(), '\0');
    composite->get_bytes(0, std::as_writable_bytes(std::span(text)));
    return text;
  }
  return "(not a frame)";
}

// --- the server ------------------------------------------------------------------------------

// What the server's connections saw, from every worker loop.
struct ServerLog {
  std::mutex mutex;
  std::uint64_t frames = 0;
  std::vector<Error> errors;

  std::uint64_t frame_count() {
    std::lock_guard lock(mutex);
    return frames;
  }
  std::vector<Error> error_list() {
    std::lock_guard lock(mutex);
    return errors;
  }
};

class FrameEcho final : public ChannelHandler {
 public:
  explicit FrameEcho(std::shared_ptr<ServerLog> log) : log_(std::move(log)) {}

  void on_read(HandlerContext& ctx, Message&& message) override {
    if (!message.is<Buffer>() && !message.is<CompositeBuffer>()) {
      ctx.fire_read(std::move(message));
      return;
    }
    ctx.write(std::move(message));
    std::lock_guard lock(log_->mutex);
    ++log_->frames;
  }
  // One flush per read batch: the answers to the frames of one read leave together.
  void on_read_complete(HandlerContext& ctx) override {
    ctx.flush();
    ctx.fire_read_complete();
  }
  // A client that sends faster than it reads its answers fills its own socket, not this
  // process's memory.
  void on_writability_changed(HandlerContext& ctx) override {
    ctx.channel().set_auto_read(ctx.channel().is_writable());
    ctx.fire_writability_changed();
  }
  // The decoder closes the channel right after a bad frame's error: the answers to the frames
  // before it are flushed first, or the close would fail them unsent.
  void on_error(HandlerContext& ctx, const Error& error) override {
    ctx.flush();
    std::lock_guard lock(log_->mutex);
    log_->errors.push_back(error);
  }

 private:
  std::shared_ptr<ServerLog> log_;
};

// --- the clients -----------------------------------------------------------------------------

// The sizes one client sends, in a shuffled order: the edges (empty, around a page, around the
// 64 KiB a read takes at most, the maximum) and a spread of small, medium and large frames.
std::vector<std::size_t> frame_sizes(std::uint64_t seed) {
  std::vector<std::size_t> sizes{0,    1,     2,     3,     4,     5,     4095,       4096,
                                 4097, 65535, 65536, 65537, 65540, 65531, 256 * kKiB, kMaxFrame};
  std::mt19937_64 random(seed);
  for (int i = 0; i < 120; ++i) {
    const auto kind = random() % 10;
    const std::size_t limit = kind < 6 ? 200 : kind < 9 ? 16 * kKiB : 512 * kKiB;
    sizes.push_back(random() % limit);
  }
  std::shuffle(sizes.begin(), sizes.end(), random);
  return sizes;
}

// One client connection's outcome, read by the test thread.
struct ClientRun {
  std::mutex mutex;
  std::size_t answered = 0;
  std::size_t first_wrong = ~std::size_t{0};  // the first answer that was not its frame
  std::vector<Error> errors;
  Promise<void> done;  // every frame answered, or an error

  std::size_t answered_count() {
    std::lock_guard lock(mutex);
    return answered;
  }
};

// Sends its frames while the channel is writable, and checks that each answer is its frame,
// in order. Each frame is a pattern seeded by its index, made again to check the answer.
class RpcClient final : public ChannelHandler {
 public:
  RpcClient(std::vector<std::size_t> sizes, std::uint64_t seed, std::shared_ptr<ClientRun> run)
      : sizes_(std::move(sizes)), seed_(seed), run_(std::move(run)) {}

  void on_active(HandlerContext& ctx) override {
    ctx.fire_active();
    pump(ctx);
  }
  void on_writability_changed(HandlerContext& ctx) override {
    if (ctx.channel().is_writable()) pump(ctx);
    ctx.fire_writability_changed();
  }
  void on_read(HandlerContext&, Message&& message) override {
    const std::size_t index = received_++;
    const bool right = index < sizes_.size() && frame_text(message) == frame(index);
    bool finished = false;
    {
      std::lock_guard lock(run_->mutex);
      run_->answered = received_;
      if (!right && run_->first_wrong == ~std::size_t{0}) run_->first_wrong = index;
      finished = received_ == sizes_.size();
    }
    if (finished) run_->done.set_value();
  }
  void on_error(HandlerContext&, const Error& error) override {
    {
      std::lock_guard lock(run_->mutex);
      run_->errors.push_back(error);
    }
    run_->done.set_error(error);
  }

 private:
  std::string frame(std::size_t index) const { return make_pattern(sizes_[index], seed_ + index); }

  // A flush can make the channel writable again while pump() is on the stack (the event fires
  // from inside it): that asks for another round rather than nesting.
  void pump(HandlerContext& ctx) {
    if (pumping_) {
      again_ = true;
      return;
    }
    pumping_ = true;
    do {
      again_ = false;
      while (sent_ < sizes_.size() && ctx.channel().is_writable()) {
        ctx.write(to_buffer(frame(sent_++)));
      }
      ctx.flush();
    } while (again_ && sent_ < sizes_.size());
    pumping_ = false;
  }

  std::vector<std::size_t> sizes_;
  std::uint64_t seed_;
  std::shared_ptr<ClientRun> run_;
  std::size_t sent_ = 0;
  std::size_t received_ = 0;
  bool pumping_ = false;
  bool again_ = false;
};

struct FramedServer {
  explicit FramedServer(bool contiguous_frames) : workers(2, "rpc-server") {
    ServerBootstrap bootstrap;
    bootstrap.group(workers).child_initializer([this, contiguous_frames](Channel& channel) {
      add_framing(channel.pipeline(), contiguous_frames);
      channel.pipeline().add_last("echo", std::make_unique<FrameEcho>(log));
    });
    server = await(bootstrap.bind("127.0.0.1", 0));
  }
  ~FramedServer() {
    server->close();
    workers.shutdown_gracefully(0ms, kShortWait);
  }

  std::shared_ptr<ServerLog> log = std::make_shared<ServerLog>();
  EventLoopGroup workers;
  Ref<Server> server;
};

std::string header(std::uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
          static_cast<char>(length >> 8), static_cast<char>(length)};
}

// Everything the peer sends until it closes.
std::string read_to_end(int fd) {
  std::string received;
  CHECK(read_until_fin(fd, received));
  return received;
}

}  // namespace

TEST_CASE("frames of every size cross real sockets both ways and come back whole, in order") {
  ProcessHealth health;
  for (const bool contiguous : {true, false}) {
    CAPTURE(contiguous);
    FramedServer server(contiguous);
    EventLoopGroup clients(2, "rpc-client");
    constexpr std::size_t kClients = 6;
    std::vector<std::shared_ptr<ClientRun>> runs;
    std::vector<std::vector<std::size_t>> sizes;
    std::vector<ChannelPtr> channels;
    for (std::size_t i = 0; i < kClients; ++i) {
      runs.push_back(std::make_shared<ClientRun>());
      sizes.push_back(frame_sizes(i + 1));
      Bootstrap bootstrap;
      bootstrap.group(clients).initializer(
          [i, contiguous, run = runs.back(), frames = sizes.back()](Channel& channel) {
            add_framing(channel.pipeline(), contiguous);
            channel.pipeline().add_last("client",
                                        std::make_unique<RpcClient>(frames, (i + 1) << 32, run));
          });
      channels.push_back(await(bootstrap.connect("127.0.0.1", server.server->port())));
    }
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < kClients; ++i) {
      CAPTURE(i);
      total += sizes[i].size();
      const Future<void> done = runs[i]->done.future();
      REQUIRE_MESSAGE(done.wait_for(kLongWait), "answered ", runs[i]->answered_count(), " of ",
                      sizes[i].size());
      CHECK(done.wait().ok());
      std::lock_guard lock(runs[i]->mutex);
      CHECK(runs[i]->first_wrong == ~std::size_t{0});
      CHECK(runs[i]->errors.empty());
    }
    CHECK(server.log->frame_count() == total);
    CHECK(server.log->error_list().empty());
    for (const ChannelPtr& channel : channels) {
      channel->close();
      CHECK(channel->close_future().wait_for(kShortWait));
    }
    channels.clear();
    clients.shutdown_gracefully(0ms, kShortWait);
  }
}

TEST_CASE(
    "a frame over the limit is refused once its length is read; the frames before it are "
    "answered, and the server serves the next connection") {
  ProcessHealth health;
  FramedServer server(true);
  const int fd = connect_blocking(server.server->port());
  const std::string first = make_pattern(10, 1);
  const std::string second = make_pattern(1000, 2);
  const std::string request = header(10) + first + header(1000) + second +
                              header(static_cast<std::uint32_t>(kMaxFrame + 1));
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  // Nothing after the bad header: its body is never sent, and the server closes without
  // waiting for it.
  CHECK(read_to_end(fd) == header(10) + first + header(1000) + second);
  ::close(fd);

  REQUIRE(eventually([&] { return !server.log->error_list().empty(); }));
  const std::vector<Error> errors = server.log->error_list();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == CodecErrc::too_long_frame);

  const int next = connect_blocking(server.server->port());
  const std::string frame = make_pattern(kMaxFrame, 3);
  const std::string exact = header(static_cast<std::uint32_t>(kMaxFrame)) + frame;
  REQUIRE(::send(next, exact.data(), exact.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(exact.size()));
  // Read without a half-close first: this server does not allow half-closure, so the end of
  // input would close it with the answer possibly still unsent.
  std::string answer;
  char chunk[64 * 1024];
  while (answer.size() < exact.size()) {
    const ssize_t got = ::recv(next, chunk, sizeof chunk, 0);
    if (got <= 0) break;
    answer.append(chunk, static_cast<std::size_t>(got));
  }
  CHECK(answer == exact);
  ::close(next);
  CHECK(server.log->frame_count() == 3);
}
