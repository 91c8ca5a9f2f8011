// FileRegion writes: sendfile and splice between buffers in one flush, ranges, a file truncated
// mid-transfer, a splice that cannot fill its pipe.

#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sluice/buffer/file_region.hpp"
#include "sluice/core/fd.hpp"
#include "sluice/core/submit.hpp"
#include "sluice/transport/stream_channel.hpp"
#include "support.hpp"

// splice(2) as the transport calls it, so a test can make the file side answer EAGAIN, which
// no regular file does by itself: Linux says EAGAIN for a splice into a pipe only when the pipe
// is full. Unarmed (-1), every call goes to libc.
namespace {
std::atomic<int> splice_eagain_from_fd{-1};
}  // namespace

extern "C" ssize_t splice(int in, loff_t* in_offset, int out, loff_t* out_offset,
                          std::size_t length, unsigned int flags) {
  using Splice = ssize_t (*)(int, loff_t*, int, loff_t*, std::size_t, unsigned int);
  static const auto real = reinterpret_cast<Splice>(::dlsym(RTLD_NEXT, "splice"));
  if (in == splice_eagain_from_fd.load()) {
    errno = EAGAIN;
    return -1;
  }
  return real(in, in_offset, out, out_offset, length, flags);
}

// pipe2(2) likewise, so a test can make the channel's pipe fail to open as it does when the
// process is out of descriptors (EMFILE); armed, only the next call fails.
namespace {
std::atomic<bool> fail_next_pipe2{false};
std::atomic<int> pipe2_failed{0};
std::atomic<int> pipe2_calls{0};
}  // namespace

extern "C" int pipe2(int ends[2], int flags) {
  using Pipe2 = int (*)(int*, int);
  static const auto real = reinterpret_cast<Pipe2>(::dlsym(RTLD_NEXT, "pipe2"));
  pipe2_calls.fetch_add(1);
  if (fail_next_pipe2.exchange(false)) {
    pipe2_failed.fetch_add(1);
    errno = EMFILE;
    return -1;
  }
  return real(ends, flags);
}

using namespace sluice;
using namespace sluice::test;

namespace {

// Outcomes of a connection's writes, in completion order, plus the error File::open gave.
struct WriteLog {
  std::mutex mutex;
  std::vector<std::string> results;  // "" for success, else the error's message
  std::vector<Error> errors;
  std::string open_error;

  WriteCallback record() {
    return [this](const Error& error) {
      std::lock_guard lock(mutex);
      results.push_back(error ? error.message() : std::string());
      errors.push_back(error);
    };
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return results.size();
  }
};

// On active: writes `head`, the region [offset, offset + count) of the file at `path`, and
// `tail`, then flushes once.
std::function<void(HandlerContext&)> send_head_file_tail(
    std::shared_ptr<WriteLog> log, std::string path, std::string head, std::uint64_t offset,
    std::uint64_t count, std::string tail, FileTransfer transfer = FileTransfer::kSendfile) {
  return [=](HandlerContext& ctx) {
    auto file = File::open(path);
    if (!file) {
      std::lock_guard lock(log->mutex);
      log->open_error = file.error().message();
      return;
    }
    if (!head.empty()) ctx.write(to_buffer(head), log->record());
    ctx.write(FileRegion(*file, offset, count, transfer), log->record());
    if (!tail.empty()) ctx.write(to_buffer(tail), log->record());
    ctx.flush();
  };
}

// A server whose connection runs `on_active` when it goes active, and a client connected to it
// that compares every byte it receives with `expected` (without keeping them), over loopback.
struct Transfer {
  Transfer(const std::string& name, std::function<void(HandlerContext&)> on_active,
           std::shared_ptr<const std::string> expected, const ChannelOptions& server_options = {},
           const ChannelOptions& client_options = {}, Family family = Family::kIPv4)
      : server_loops(1, name + "-server"), client_loops(1, name + "-client"), endpoint(family) {
    server_peers.set_setup([on_active](Peer& peer) { peer.on_active = on_active; });
    ServerBootstrap server_bootstrap;
    server_bootstrap.group(server_loops)
        .child_options(server_options)
        .child_initializer(server_peers.collecting_initializer());
    server = endpoint.bind(server_bootstrap);
    client_peer->expected = std::move(expected);
    client_peer->keep_bytes = false;
    Bootstrap client;
    client.group(client_loops)
        .options(client_options)
        .initializer([peer = client_peer](Channel& channel) {
          channel.pipeline().add_last("collector", std::make_unique<Collector>(peer));
        });
    client_channel = await(endpoint.connect(client));
  }

  // Requires every expected byte, each as expected.
  void require_all_received() {
    const std::size_t size = client_peer->expected->size();
    REQUIRE_MESSAGE(client_peer->wait_received(size, kLongWait), "received ",
                    client_peer->received_count(), " of ", size);
    CHECK(client_peer->mismatch() == kNoMismatch);
  }

  Peers server_peers;
  EventLoopGroup server_loops;
  EventLoopGroup client_loops;
  Endpoint endpoint;
  Ref<Server> server;
  std::shared_ptr<Peer> client_peer = std::make_shared<Peer>();
  ChannelPtr client_channel;
};

}  // namespace

TEST_CASE(
    "a 100 MiB FileRegion written between two buffers in one flush arrives byte-exact as head, "
    "file, tail") {
  constexpr std::size_t kFileSize = 100 * kMiB;
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("payload.bin");
  const std::string content = make_pattern(kFileSize, 100);
  write_file(path, content);
  const std::string head = "HEAD:" + make_pattern(3000, 1);
  const std::string tail = make_pattern(5000, 2) + ":TAIL";
  auto expected = std::make_shared<const std::string>(head + content + tail);

  auto log = std::make_shared<WriteLog>();
  Transfer transfer("sendfile", send_head_file_tail(log, path, head, 0, kFileSize, tail), expected);
  transfer.require_all_received();
  REQUIRE(eventually([&] { return log->count() == 3; }));
  {
    std::lock_guard lock(log->mutex);
    CHECK(log->open_error.empty());
    CHECK(log->results == std::vector<std::string>{"", "", ""});
  }
  // A region this large is sent corked; once it is out the socket must be uncorked, or the
  // next response's last segment would wait for the kernel's cork timer.
  ChannelPtr server_channel = transfer.server_peers.first()->active_channel();
  REQUIRE(server_channel);
  const int server_fd = static_cast<StreamChannel&>(*server_channel).fd();
  int corked = -1;
  socklen_t length = sizeof corked;
  REQUIRE(::getsockopt(server_fd, IPPROTO_TCP, TCP_CORK, &corked, &length) == 0);
  CHECK(corked == 0);
  // Every byte the socket took is counted, the file's as well as the buffers'.
  CHECK(await(submit(server_channel->loop(), [server_channel] {
          return server_channel->bytes_written();
        })) == expected->size());
  transfer.client_channel->close();
  await(transfer.client_channel->close_future());
  CHECK(transfer.client_peer->received_count() == expected->size());
  transfer.server->close();
}

TEST_CASE("a FileRegion with an offset sends exactly its range of the file") {
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("range.bin");
  const std::string content = make_pattern(256 * kKiB, 9);
  write_file(path, content);
  constexpr std::uint64_t kOffset = 12345;
  constexpr std::uint64_t kCount = 100000;
  auto expected = std::make_shared<const std::string>(content.substr(kOffset, kCount));

  auto log = std::make_shared<WriteLog>();
  Transfer transfer("range", send_head_file_tail(log, path, "", kOffset, kCount, ""), expected, {},
                    {}, Family::kUnix);
  transfer.require_all_received();
  REQUIRE(eventually([&] { return log->count() == 1; }));
  transfer.client_channel->close();
  await(transfer.client_channel->close_future());
  CHECK(transfer.client_peer->received_count() == kCount);  // nothing past the range
  transfer.server->close();
}

TEST_CASE(
    "a file truncated while sendfile or splice is in progress fails the write with "
    "file_truncated and closes the channel") {
  constexpr std::size_t kFileSize = 64 * kMiB;
  FileTransfer transfer = FileTransfer::kSendfile;
  SUBCASE("sendfile") {}
  SUBCASE("splice") {
    transfer = FileTransfer::kSplice;
  }
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("shrinking.bin");
  auto content = std::make_shared<const std::string>(make_pattern(kFileSize, 64));
  write_file(path, *content);

  auto log = std::make_shared<WriteLog>();
  ChannelOptions server_options;
  server_options.send_buffer = 64 * kKiB;
  // A client that does not read yet: the transfer starts, fills the socket buffers and waits.
  ChannelOptions client_options;
  client_options.auto_read = false;
  client_options.receive_buffer = 64 * kKiB;
  Transfer run("truncate", send_head_file_tail(log, path, "", 0, kFileSize, "", transfer), content,
               server_options, client_options);
  std::shared_ptr<Peer> server_peer = run.server_peers.first();
  REQUIRE(server_peer->wait_active());
  ChannelPtr server_channel = server_peer->active_channel();
  REQUIRE(eventually([&] { return run.server_loops.metrics().bytes_written > 0; }));
  const auto sent_before = static_cast<std::uint64_t>(run.server_loops.metrics().bytes_written);
  CHECK(sent_before < kFileSize);  // in progress, not done
  CHECK(server_channel->pending_write_bytes() > 0);

  // The file shrinks under the region; then the client reads, letting the transfer go on.
  REQUIRE(::truncate(path.c_str(), 1 * kMiB) == 0);
  run.client_channel->set_auto_read(true);

  await(server_channel->close_future(), kLongWait);
  REQUIRE(eventually([&] { return log->count() == 1; }));
  {
    std::lock_guard lock(log->mutex);
    CHECK(log->open_error.empty());
    CHECK_MESSAGE(log->errors[0] == ChannelErrc::file_truncated, log->results[0]);
    CHECK_MESSAGE(log->results[0].find(path) != std::string::npos, log->results[0]);
  }
  const std::vector<Error> errors = server_peer->error_list();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == ChannelErrc::file_truncated);
  // The client gets what was sent (the file's first bytes), then the connection ends.
  await(run.client_channel->close_future(), kLongWait);
  CHECK(run.client_peer->mismatch() == kNoMismatch);
  CHECK(run.client_peer->received_count() < kFileSize);
  run.server->close();
}

TEST_CASE(
    "buffers and unaligned sendfile and splice regions in one flush arrive in order through a "
    "small send buffer") {
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("mixed.bin");
  const std::string content = make_pattern(3 * kMiB + 777, 11);
  write_file(path, content);
  struct Piece {
    bool file;
    std::uint64_t offset;
    std::uint64_t count;
    FileTransfer transfer;
    std::string bytes;
  };
  // Regions over 1 MiB are sent corked; offsets off page boundaries.
  const std::vector<Piece> pieces = {
      {false, 0, 0, FileTransfer::kSendfile, make_pattern(100, 1)},
      {true, 333, 1 * kMiB + 5, FileTransfer::kSplice, {}},
      {true, 4097, 2 * kMiB, FileTransfer::kSplice, {}},
      {false, 0, 0, FileTransfer::kSendfile, make_pattern(70000, 2)},
      {true, 1, 100000, FileTransfer::kSendfile, {}},
      {true, 5, 1 * kMiB + 3, FileTransfer::kSplice, {}},
      {false, 0, 0, FileTransfer::kSendfile, make_pattern(5, 3)},
  };
  std::string expected_bytes;
  for (const Piece& p : pieces)
    expected_bytes += p.file ? content.substr(p.offset, p.count) : p.bytes;
  auto expected = std::make_shared<const std::string>(expected_bytes);

  auto log = std::make_shared<WriteLog>();
  const auto write_pieces = [=](HandlerContext& ctx) {
    auto file = File::open(path);
    REQUIRE(file);
    for (const Piece& p : pieces) {
      if (p.file) {
        ctx.write(FileRegion(*file, p.offset, p.count, p.transfer), log->record());
      } else {
        ctx.write(to_buffer(p.bytes), log->record());
      }
    }
    ctx.flush();
  };
  ChannelOptions server_options;
  server_options.send_buffer = 16 * kKiB;
  ChannelOptions client_options;
  client_options.receive_buffer = 8 * kKiB;
  client_options.receive_sizing = ReceiveBufferSizing::fixed(1000);
  Transfer transfer("mixed", write_pieces, expected, server_options, client_options);
  transfer.require_all_received();
  REQUIRE(eventually([&] { return log->count() == pieces.size(); }));
  {
    std::lock_guard lock(log->mutex);
    CHECK(log->results == std::vector<std::string>(pieces.size(), ""));
  }
  transfer.client_channel->close();
  await(transfer.client_channel->close_future());
  transfer.server->close();
}

TEST_CASE(
    "a splice whose file side says EAGAIN while the pipe is empty fails the write and closes "
    "the channel instead of polling for writable with nothing to send") {
  // The socket stays writable, so waiting for it to become writable again returned at once,
  // and the loop spun on a region it could not move.
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("stuck.bin");
  write_file(path, make_pattern(64 * kKiB, 5));
  struct Disarm {
    ~Disarm() { splice_eagain_from_fd.store(-1); }
  } disarm;

  auto log = std::make_shared<WriteLog>();
  const auto write_stuck_region = [=](HandlerContext& ctx) {
    auto file = File::open(path);
    REQUIRE(file);
    splice_eagain_from_fd.store((*file)->fd());
    ctx.write(FileRegion(*file, 0, 64 * kKiB, FileTransfer::kSplice), log->record());
    ctx.flush();
  };
  Transfer transfer("splice-eagain", write_stuck_region, nullptr);
  std::shared_ptr<Peer> server_peer = transfer.server_peers.first();

  REQUIRE_MESSAGE(server_peer->wait_inactive(), "the server channel is still open");
  REQUIRE(eventually([&] { return log->count() == 1; }));
  {
    std::lock_guard lock(log->mutex);
    CHECK_MESSAGE(log->errors[0] == std::errc::resource_unavailable_try_again, log->results[0]);
    CHECK_MESSAGE(log->results[0].find("splice") != std::string::npos, log->results[0]);
  }
  const std::vector<Error> errors = server_peer->error_list();
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == std::errc::resource_unavailable_try_again);
  await(transfer.client_channel->close_future());
  CHECK(transfer.client_peer->received_count() == 0);
  transfer.server->close();
}

TEST_CASE(
    "a splice region whose pipe cannot be made (EMFILE) goes by sendfile instead, and the next "
    "splice region tries for a pipe again") {
  // The channel used to fail the write with the pipe2 error and close, though the bytes could
  // still go.
  ProcessHealth health;
  TempDir dir;
  const std::string path = dir.file("no-pipe.bin");
  const std::string content = make_pattern(2 * kMiB + 123, 17);
  write_file(path, content);
  struct Disarm {
    ~Disarm() { fail_next_pipe2.store(false); }
  } disarm;
  pipe2_failed.store(0);
  pipe2_calls.store(0);
  // The first region is larger than the small send buffer: it takes several sendfile calls,
  // each after the socket drained, all without a pipe.
  const std::uint64_t kFirst = 1 * kMiB + 77;
  auto expected = std::make_shared<const std::string>(content.substr(0, kFirst) + content);

  auto log = std::make_shared<WriteLog>();
  const auto write_two_regions = [=](HandlerContext& ctx) {
    auto file = File::open(path);
    REQUIRE(file);
    fail_next_pipe2.store(true);
    ctx.write(FileRegion(*file, 0, kFirst, FileTransfer::kSplice), log->record());
    ctx.write(FileRegion(*file, 0, content.size(), FileTransfer::kSplice), log->record());
    ctx.flush();
  };
  ChannelOptions server_options;
  server_options.send_buffer = 64 * kKiB;
  Transfer transfer("no-pipe", write_two_regions, expected, server_options);
  std::shared_ptr<Peer> client_peer = transfer.client_peer;

  // Waiting for the end of the connection too: when the server closes, no more bytes come.
  client_peer->wait([&](const Peer& p) { return p.received >= expected->size() || p.inactive; },
                    kLongWait);
  REQUIRE_MESSAGE(client_peer->received_count() == expected->size(), "received ",
                  client_peer->received_count(), " of ", expected->size());
  CHECK(client_peer->mismatch() == kNoMismatch);
  REQUIRE(eventually([&] { return log->count() == 2; }));
  {
    std::lock_guard lock(log->mutex);
    CHECK(log->results == std::vector<std::string>{"", ""});
  }
  CHECK(pipe2_failed.load() == 1);
  CHECK(pipe2_calls.load() >= 2);  // the second region asked for a pipe again
  std::shared_ptr<Peer> server_peer = transfer.server_peers.first();
  CHECK(server_peer->error_list().empty());
  ChannelPtr server_channel = server_peer->active_channel();
  REQUIRE(server_channel);  // still open
  CHECK(server_channel->is_open());
  transfer.client_channel->close();
  await(transfer.client_channel->close_future());
  transfer.server->close();
}
