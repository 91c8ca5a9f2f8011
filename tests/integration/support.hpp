#pragma once

// Shared helpers of the loopback integration tests: bounded waits, process health checks (open
// file descriptors and threads before and after a test), payload patterns, a handler that
// collects what a channel receives, a handler that writes a payload as fast as the channel's
// water marks allow, and the plumbing to run a server and a client over IPv4, IPv6 or a
// Unix-domain socket.

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>
#include "sluice/core/source_site.hpp"

#include "sluice/buffer/buffer.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/channel/handler_context.hpp"
#include "sluice/channel/socket_address.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/fd.hpp"
#include "sluice/core/future.hpp"
#include "sluice/transport/bootstrap.hpp"
#include "sluice/transport/server_bootstrap.hpp"

namespace sluice::test {

using namespace std::chrono_literals;

// Bounds on every wait. Generous: they only keep a broken build from hanging, and a 100 MiB
// transfer in an ASan debug build on a loaded two-core machine must still fit.
inline constexpr std::chrono::milliseconds kShortWait = 10s;
inline constexpr std::chrono::milliseconds kLongWait = 120s;

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * 1024;

// Polls `done` until it holds or `limit` passes; true when it held.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = kShortWait) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Waits (bounded) for a future and requires it to succeed; returns its value.
template <typename T>
T await(const Future<T>& future, std::chrono::milliseconds limit = kShortWait,
        sluice::SourceSite where = sluice::SourceSite::current()) {
  INFO("awaited at ", std::string(where.file), ":", where.line);
  REQUIRE_MESSAGE(future.wait_for(limit), "the future did not complete in time");
  const Result<T>& result = future.wait();
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message()));
  if constexpr (!std::is_void_v<T>) return result.value();
}

// Waits (bounded) for a future and requires it to fail; returns the error.
template <typename T>
Error await_error(const Future<T>& future, std::chrono::milliseconds limit = kShortWait,
                  sluice::SourceSite where = sluice::SourceSite::current()) {
  INFO("awaited at ", std::string(where.file), ":", where.line);
  REQUIRE_MESSAGE(future.wait_for(limit), "the future did not complete in time");
  const Result<T>& result = future.wait();
  REQUIRE_MESSAGE(!result.ok(), "the future succeeded where it should have failed");
  return result.error();
}

inline std::size_t count_directory_entries(const char* path) {
  std::size_t count = 0;
  if (DIR* dir = ::opendir(path)) {
    while (const dirent* entry = ::readdir(dir)) {
      if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) ++count;
    }
    ::closedir(dir);
  }
  return count;
}
// Open descriptors of this process (the directory's own descriptor included, every time).
inline std::size_t count_open_fds() {
  return count_directory_entries("/proc/self/fd");
}
inline std::size_t count_threads() {
  return count_directory_entries("/proc/self/task");
}

// Some things are made once per process and kept for good: libuv opens a pipe (its signal
// lock) when the first loop is made, and ThreadSanitizer starts a background thread when the
// process first starts another. Doing both before the first baseline keeps them out of the
// counts.
inline void warm_up_process_once() {
  static const bool done = [] {
    uv_loop_t loop;
    if (uv_loop_init(&loop) == 0) uv_loop_close(&loop);
    std::thread([] {}).join();
    return true;
  }();
  (void)done;
}

// Starts libuv's thread pool, whose threads live as long as the process: started inside a test,
// they would count as threads the test left running.
inline void start_libuv_thread_pool() {
  static const bool started = [] {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    uv_work_t work{};
    REQUIRE(uv_queue_work(
                &loop, &work, [](uv_work_t*) {}, [](uv_work_t*, int) {}) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return true;
  }();
  (void)started;
}

// A socket listening on numeric `host` that never accepts (connects complete in its queue), and
// its address.
inline std::pair<Fd, SocketAddress> queue_only_listener(const char* host) {
  const auto wanted = SocketAddress::from_numeric(host, 0);
  REQUIRE(wanted);
  Fd fd(::socket(wanted->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  REQUIRE(::bind(fd.get(), wanted->native(), wanted->length()) == 0);
  REQUIRE(::listen(fd.get(), 8) == 0);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) == 0);
  return {std::move(fd), SocketAddress(reinterpret_cast<sockaddr*>(&bound), length)};
}

// An address on numeric `host` that nothing listens on: bound, then closed.
inline SocketAddress refusing_address(const char* host) {
  const auto wanted = SocketAddress::from_numeric(host, 0);
  REQUIRE(wanted);
  const Fd fd(::socket(wanted->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  REQUIRE(::bind(fd.get(), wanted->native(), wanted->length()) == 0);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) == 0);
  return SocketAddress(reinterpret_cast<sockaddr*>(&bound), length);
}

// True when a connection waits in `listener`'s queue.
inline bool has_queued_connection(const Fd& listener) {
  pollfd queue{listener.get(), POLLIN, 0};
  return ::poll(&queue, 1, 0) == 1;
}

// Declared first in a test, so it is destroyed last (after the test's event loop groups have
// been shut down and joined): checks that the test left no descriptor open and no thread
// running. No live buffers is checked by the test main after every test case.
class ProcessHealth {
 public:
  ProcessHealth() : fds_((warm_up_process_once(), count_open_fds())), threads_(count_threads()) {}
  ProcessHealth(const ProcessHealth&) = delete;
  ProcessHealth& operator=(const ProcessHealth&) = delete;
  ~ProcessHealth() {
    if (std::uncaught_exceptions() > 0) return;  // the test already failed
    // A joined thread leaves /proc/self/task a moment after join() returns; give it that.
    CHECK_MESSAGE(eventually([&] { return count_open_fds() == fds_; }, 5s),
                  "open fds: ", count_open_fds(), ", before the test: ", fds_);
    // At most as many as before: the previous test's last joined thread can still be listed
    // when this one takes its count, and be gone by the end (seen in CI: 1 against 2).
    CHECK_MESSAGE(eventually([&] { return count_threads() <= threads_; }, 5s),
                  "threads: ", count_threads(), ", before the test: ", threads_);
  }

 private:
  std::size_t fds_;
  std::size_t threads_;
};

// `size` pseudo-random bytes (xorshift64), so that a lost, repeated or reordered block of a
// transfer shows as a mismatch at its offset.
inline std::string make_pattern(std::size_t size, std::uint64_t seed = 1) {
  std::string out(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min<std::size_t>(8, size - i));
  }
  return out;
}

inline Buffer to_buffer(std::string_view bytes) {
  return Buffer::copy_of(bytes);
}

// How one write ended, as a value a Future can carry (a Future<Error> cannot be: Result<Error>
// would not know a value from an error).
struct WriteOutcome {
  Error error;
};

// A write callback that completes `promise` with the write's outcome.
inline WriteCallback complete_with(std::shared_ptr<Promise<WriteOutcome>> promise) {
  return [promise = std::move(promise)](const Error& error) {
    promise->set_value(WriteOutcome{error});
  };
}

// A temporary directory, removed with everything in it at the end of the scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-it-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Writes `content` to a new file at `path` (replacing one that is there).
inline void write_file(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t wrote = ::write(fd, content.data() + done, content.size() - done);
    REQUIRE(wrote > 0);
    done += static_cast<std::size_t>(wrote);
  }
  ::close(fd);
}

// A blocking IPv4 loopback connection, for a test thread that speaks a protocol by hand (or
// plays a peer the transport must survive); its reads and writes give up after `timeout`.
inline int connect_blocking(std::uint16_t port, std::chrono::seconds timeout = 30s) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval limit{};
  limit.tv_sec = static_cast<time_t>(timeout.count());
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0);
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) == 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

// Reads from a blocking socket into `into` until the peer's FIN (true), or an error or the
// socket's timeout (false).
inline bool read_until_fin(int fd, std::string& into) {
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got == 0) return true;
    if (got < 0) return false;
    into.append(chunk, static_cast<std::size_t>(got));
  }
}

// --- what a channel saw ----------------------------------------------------------------------

// Names of the events a test's handlers saw, from any thread, in order.
struct EventLog {
  std::mutex mutex;
  std::vector<std::string> events;
  void add(std::string event) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(event));
  }
  std::vector<std::string> list() {
    std::lock_guard lock(mutex);
    return events;
  }
  bool contains(const std::string& event) {
    std::lock_guard lock(mutex);
    return std::find(events.begin(), events.end(), event) != events.end();
  }
};

inline constexpr std::uint64_t kNoMismatch = ~std::uint64_t{0};

// The events and bytes one channel received, written by its Collector on the loop thread and
// read by the test thread; every member is guarded by `mutex`, and every change notifies.
struct Peer {
  mutable std::mutex mutex;
  std::condition_variable changed;

  bool keep_bytes = true;  // false: count (and compare) without keeping, for huge transfers
  std::shared_ptr<const std::string> expected;     // when set, each read is compared at its offset
  std::function<void(HandlerContext&)> on_active;  // runs on the loop once active

  ChannelPtr channel;  // set while active (cleared on inactive, so no cycle outlives a close)
  std::string bytes;
  std::uint64_t received = 0;
  std::uint64_t first_mismatch = kNoMismatch;
  bool active = false;
  bool inactive = false;
  int input_shutdowns = 0;
  int output_shutdowns = 0;
  std::vector<Error> errors;
  std::vector<bool> writability;                    // is_writable() at each on_writability_changed
  std::vector<std::size_t> pending_at_writability;  // pending_write_bytes() at each

  // Waits (bounded) until `predicate(*this)` holds, evaluated under the lock.
  template <typename Predicate>
  bool wait(Predicate predicate, std::chrono::milliseconds limit = kShortWait) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, limit, [&] { return predicate(*this); });
  }
  bool wait_received(std::uint64_t count, std::chrono::milliseconds limit = kShortWait) {
    return wait([count](const Peer& p) { return p.received >= count; }, limit);
  }
  bool wait_inactive(std::chrono::milliseconds limit = kShortWait) {
    return wait([](const Peer& p) { return p.inactive; }, limit);
  }
  bool wait_active(std::chrono::milliseconds limit = kShortWait) {
    return wait([](const Peer& p) { return p.active; }, limit);
  }

  template <typename Read>
  auto read(Read reader) const {
    std::lock_guard lock(mutex);
    return reader(*this);
  }
  std::uint64_t received_count() const {
    return read([](const Peer& p) { return p.received; });
  }
  std::string received_bytes() const {
    return read([](const Peer& p) { return p.bytes; });
  }
  ChannelPtr active_channel() const {
    return read([](const Peer& p) { return p.channel; });
  }
  std::vector<Error> error_list() const {
    return read([](const Peer& p) { return p.errors; });
  }
  std::uint64_t mismatch() const {
    return read([](const Peer& p) { return p.first_mismatch; });
  }
};

// Records what its channel receives into a Peer. Buffers are consumed (copied into the Peer or
// just counted, then dropped, so the channel holds no memory); errors are recorded and consumed
// (the transport closes the channel itself on I/O errors); other events pass on.
class Collector final : public ChannelHandler {
 public:
  explicit Collector(std::shared_ptr<Peer> peer) : peer_(std::move(peer)) {}

  void on_active(HandlerContext& ctx) override {
    {
      std::lock_guard lock(peer_->mutex);
      peer_->channel = ChannelPtr(&ctx.channel());
      peer_->active = true;
    }
    peer_->changed.notify_all();
    if (peer_->on_active) peer_->on_active(ctx);
    ctx.fire_active();
  }
  void on_inactive(HandlerContext& ctx) override {
    ChannelPtr dropped;
    {
      std::lock_guard lock(peer_->mutex);
      dropped = std::move(peer_->channel);
      peer_->inactive = true;
    }
    peer_->changed.notify_all();
    ctx.fire_inactive();
  }
  void on_read(HandlerContext& ctx, Message&& message) override {
    const Buffer* buffer = message.get_if<Buffer>();
    if (buffer == nullptr) {
      ctx.fire_read(std::move(message));
      return;
    }
    const std::span<const std::byte> bytes = buffer->readable_span();
    {
      std::lock_guard lock(peer_->mutex);
      if (peer_->expected && peer_->first_mismatch == kNoMismatch) {
        const std::string& expected = *peer_->expected;
        const std::uint64_t at = peer_->received;
        if (at + bytes.size() > expected.size()) {
          peer_->first_mismatch = std::max<std::uint64_t>(at, expected.size());
        } else if (std::memcmp(expected.data() + at, bytes.data(), bytes.size()) != 0) {
          std::size_t i = 0;
          while (static_cast<char>(bytes[i]) == expected[at + i])
            ++i;
          peer_->first_mismatch = at + i;
        }
      }
      if (peer_->keep_bytes) {
        peer_->bytes.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      }
      peer_->received += bytes.size();
    }
    peer_->changed.notify_all();
  }
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    {
      std::lock_guard lock(peer_->mutex);
      if (event.is<ChannelInputShutdown>()) ++peer_->input_shutdowns;
      if (event.is<ChannelOutputShutdown>()) ++peer_->output_shutdowns;
    }
    peer_->changed.notify_all();
    ctx.fire_user_event(std::move(event));
  }
  void on_writability_changed(HandlerContext& ctx) override {
    {
      std::lock_guard lock(peer_->mutex);
      peer_->writability.push_back(ctx.channel().is_writable());
      peer_->pending_at_writability.push_back(ctx.channel().pending_write_bytes());
    }
    peer_->changed.notify_all();
    ctx.fire_writability_changed();
  }
  void on_error(HandlerContext&, const Error& error) override {
    {
      std::lock_guard lock(peer_->mutex);
      peer_->errors.push_back(error);
    }
    peer_->changed.notify_all();
  }

 private:
  std::shared_ptr<Peer> peer_;
};

// The peers of a server's accepted connections, in accept order.
class Peers {
 public:
  // A fresh Peer for a new connection; `setup` (if any) prepares it first.
  std::shared_ptr<Peer> add() {
    auto peer = std::make_shared<Peer>();
    if (setup_) setup_(*peer);
    {
      std::lock_guard lock(mutex_);
      peers_.push_back(peer);
    }
    changed_.notify_all();
    return peer;
  }
  // Called on each new Peer before its channel goes active (loop thread).
  void set_setup(std::function<void(Peer&)> setup) { setup_ = std::move(setup); }

  bool wait_count(std::size_t count, std::chrono::milliseconds limit = kShortWait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return peers_.size() >= count; });
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return peers_.size();
  }
  std::shared_ptr<Peer> at(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return peers_.at(index);
  }
  // Requires a first connection within the bound and returns its Peer.
  std::shared_ptr<Peer> first(std::chrono::milliseconds limit = kShortWait) {
    REQUIRE_MESSAGE(wait_count(1, limit), "no connection was accepted in time");
    return at(0);
  }

  // An initializer that gives each new channel a Collector feeding a new Peer.
  ChannelInitializer collecting_initializer() {
    return [this](Channel& channel) {
      channel.pipeline().add_last("collector", std::make_unique<Collector>(add()));
    };
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<Peer>> peers_;
  std::function<void(Peer&)> setup_;
};

// Writes a payload as fast as the water marks allow: chunks while the channel is writable, the
// rest once it turns writable again. Its memory stays bounded by the high water mark plus one
// chunk. Starts when the channel turns active, or when start() is called on the loop.
class PacedWriter final : public ChannelHandler {
 public:
  PacedWriter(std::shared_ptr<const std::string> payload, std::size_t chunk,
              std::shared_ptr<std::atomic<std::uint64_t>> written, bool start_on_active = true)
      : payload_(std::move(payload)),
        chunk_(chunk),
        written_(std::move(written)),
        start_on_active_(start_on_active) {}

  void on_active(HandlerContext& ctx) override {
    ctx.fire_active();
    if (start_on_active_) pump(ctx);
  }
  void on_writability_changed(HandlerContext& ctx) override {
    if (ctx.channel().is_writable()) pump(ctx);
    ctx.fire_writability_changed();
  }

  // A flush can make the channel writable again while pump() is still on the stack (the
  // writability event fires from inside it): that asks for one more round instead of nesting.
  void pump(HandlerContext& ctx) {
    if (pumping_) {
      again_ = true;
      return;
    }
    pumping_ = true;
    do {
      again_ = false;
      while (offset_ < payload_->size() && ctx.channel().is_writable() && ctx.channel().is_open()) {
        const std::size_t length = std::min(chunk_, payload_->size() - offset_);
        ctx.write(to_buffer(std::string_view(*payload_).substr(offset_, length)));
        offset_ += length;
        written_->store(offset_, std::memory_order_release);
      }
      ctx.flush();
    } while (again_ && offset_ < payload_->size());
    pumping_ = false;
  }

 private:
  std::shared_ptr<const std::string> payload_;
  std::size_t chunk_;
  std::shared_ptr<std::atomic<std::uint64_t>> written_;
  bool start_on_active_;
  std::size_t offset_ = 0;
  bool pumping_ = false;
  bool again_ = false;
};

// --- transports ------------------------------------------------------------------------------

enum class Family { kIPv4, kIPv6, kUnix };

inline std::string family_name(Family family) {
  switch (family) {
    case Family::kIPv4:
      return "IPv4";
    case Family::kIPv6:
      return "IPv6";
    case Family::kUnix:
      return "Unix";
  }
  return "?";
}

// True when ::1 can be bound here (some containers have no IPv6 loopback).
inline bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return bound;
}

// Where a test server listens: a loopback address with a kernel-chosen port, or a socket file
// in a temporary directory.
class Endpoint {
 public:
  explicit Endpoint(Family family) : family_(family) {}

  Ref<Server> bind(ServerBootstrap& bootstrap) {
    Future<Ref<Server>> bound;
    switch (family_) {
      case Family::kIPv4:
        bound = bootstrap.bind("127.0.0.1", 0);
        break;
      case Family::kIPv6:
        bound = bootstrap.bind("::1", 0);
        break;
      case Family::kUnix:
        bound = bootstrap.bind_unix(dir_.file("server.sock"));
        break;
    }
    Ref<Server> server = await(bound);
    if (family_ != Family::kUnix) REQUIRE(server->port() != 0);
    port_ = server->port();
    return server;
  }

  Future<Ref<Channel>> connect(Bootstrap& bootstrap) const {
    switch (family_) {
      case Family::kIPv4:
        return bootstrap.connect("127.0.0.1", port_);
      case Family::kIPv6:
        return bootstrap.connect("::1", port_);
      case Family::kUnix:
        break;
    }
    return bootstrap.connect_unix(dir_.file("server.sock"));
  }

 private:
  Family family_;
  TempDir dir_;
  std::uint16_t port_ = 0;
};

}  // namespace sluice::test
