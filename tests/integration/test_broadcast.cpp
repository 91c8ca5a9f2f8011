// A pub/sub chat server built as a user would build one: lines from each client go to every
// other client through a ChannelGroup, whichever worker loop each lives on, so most writes
// cross threads. Clients are raw sockets on their own threads; some leave abruptly, some while
// lines to them are in flight, some stop reading until the server drops them as slow consumers.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/channel/channel_group.hpp"
#include "sluice/channel/inbound_handler_for.hpp"
#include "sluice/codec/line_based_frame_decoder.hpp"
#include "sluice/core/submit.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

constexpr std::string_view kWelcome = "welcome\n";

// --- the server ------------------------------------------------------------------------------

// The chat's members, shared by every worker loop, and what went wrong that should not have.
struct ChatRoom {
  ChannelGroup members{"chat"};

  void note_unexpected(const Error& error) {
    std::lock_guard lock(mutex_);
    unexpected_.push_back(error.message());
  }
  std::vector<std::string> unexpected_errors() const {
    std::lock_guard lock(mutex_);
    return unexpected_;
  }

  std::atomic<int> slow_consumers_dropped{0};

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> unexpected_;
};

// Errors a chat server expects: the peer went away, or the channel closed under a write.
bool expected_in_chat(const Error& error) {
  return is_connection_lost(error) || error == ChannelErrc::closed;
}

// Each line received (delimiter kept) goes to every other member. A member whose output is
// over the high water mark is a slow consumer: it leaves the room and is closed, rather than
// let its backlog grow without bound or hold the others back.
class ChatHandler final : public InboundHandlerFor<Buffer> {
 public:
  explicit ChatHandler(std::shared_ptr<ChatRoom> room) : room_(std::move(room)) {}

  void on_active(HandlerContext& ctx) override {
    // Before joining: no line from another member can then reach the client ahead of it. It
    // leaves the room by itself as it closes.
    ctx.write_and_flush(Buffer::copy_of(kWelcome));
    room_->members.add(ChannelPtr(&ctx.channel()));
    ctx.fire_active();
  }
  void on_error(HandlerContext& ctx, const Error& error) override {
    if (!expected_in_chat(error)) room_->note_unexpected(error);
    ctx.close();
  }

 protected:
  void on_message(HandlerContext& ctx, Buffer&& line) override {
    ChannelGroup& members = room_->members;
    members.for_each([&](Channel& member) {
      // Another loop may be dropping the same member: the one that removes it closes it.
      if (&member != &ctx.channel() && !member.is_writable() && members.remove(member)) {
        room_->slow_consumers_dropped.fetch_add(1);
        member.close();
      }
    });
    members.write_and_flush(line, ChannelMatcher::all_except(ctx.channel()),
                            [room = room_](const GroupWriteReport& report) {
                              for (const auto& [member, error] : report.failed) {
                                if (!expected_in_chat(error)) room->note_unexpected(error);
                              }
                            });
  }

 private:
  std::shared_ptr<ChatRoom> room_;
};

// The chat server on loopback, its members in `room`. Its small send buffers let a member's
// backlog build up in the server soon: slow consumers reach the high water mark sooner, and
// little of a long line is in flight when the room closes.
Ref<Server> start_chat_server(EventLoopGroup& acceptor, EventLoopGroup& workers,
                              const std::shared_ptr<ChatRoom>& room) {
  ChannelOptions options;
  options.send_buffer = 16 * 1024;
  ServerBootstrap bootstrap;
  bootstrap.group(acceptor, workers)
      .child_options(options)
      .child_initializer([room](Channel& channel) {
        channel.pipeline().add_last("lines", std::make_unique<LineBasedFrameDecoder>(4096, false));
        channel.pipeline().add_last("chat", std::make_unique<ChatHandler>(room));
      });
  return await(bootstrap.bind("127.0.0.1", 0));
}

// --- the clients -----------------------------------------------------------------------------

// "c<sender, 2 digits> <sequence, 5 digits> <padding>\n".
std::string chat_line(int sender, int sequence, std::size_t padding) {
  char head[16];
  std::snprintf(head, sizeof head, "c%02d %05d ", sender, sequence);
  return std::string(head) + std::string(padding, 'x') + "\n";
}

// Checks that each sender's lines arrive in the order sent, none missing in between and none
// from the receiver itself. Lines from senders that left may stop early.
class LineChecker {
 public:
  explicit LineChecker(int self) : self_(self) {}

  void feed(const std::string& line) {
    int sender = -1;
    int sequence = -1;
    if (std::sscanf(line.c_str(), "c%2d %5d ", &sender, &sequence) != 2) {
      fail("malformed line: " + line.substr(0, 40));
      return;
    }
    if (sender == self_) {
      fail("a client received its own line");
      return;
    }
    int& next = next_[sender];
    if (sequence != next) {
      fail("from c" + std::to_string(sender) + ": line " + std::to_string(sequence) + " where " +
           std::to_string(next) + " was due");
    }
    next = sequence + 1;
  }
  int received_from(int sender) const {
    const auto it = next_.find(sender);
    return it == next_.end() ? 0 : it->second;
  }
  const std::string& failure() const { return failure_; }

 private:
  void fail(std::string what) {
    if (failure_.empty()) failure_ = std::move(what);
  }

  int self_;
  std::map<int, int> next_;
  std::string failure_;
};

enum class ReadStatus { kData, kNothing, kEnded };

// A blocking loopback client socket that reads with bounded polls.
class ChatClient {
 public:
  ChatClient() = default;
  ChatClient(const ChatClient&) = delete;
  ChatClient& operator=(const ChatClient&) = delete;
  ~ChatClient() { close(); }

  // `receive_buffer` (SO_RCVBUF, set before connecting so the window starts small): 0 keeps
  // the kernel's default.
  bool connect(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }

  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // Waits up to `wait` for bytes and appends what came to the unparsed input.
  ReadStatus read_some(std::chrono::milliseconds wait) {
    pollfd readable{fd_, POLLIN, 0};
    if (::poll(&readable, 1, static_cast<int>(wait.count())) <= 0) return ReadStatus::kNothing;
    char chunk[16 * 1024];
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) return ReadStatus::kEnded;  // EOF, or the server reset the connection
    input_.append(chunk, static_cast<std::size_t>(got));
    return ReadStatus::kData;
  }

  // The complete lines received so far (without their "\n"); a partial one stays.
  std::vector<std::string> take_lines() {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t end; (end = input_.find('\n', start)) != std::string::npos; start = end + 1) {
      lines.push_back(input_.substr(start, end - start));
    }
    input_.erase(0, start);
    return lines;
  }

  // Reads (bounded) until the welcome line, which the server sends before the client joins.
  bool await_welcome() {
    const auto deadline = std::chrono::steady_clock::now() + kShortWait;
    while (std::chrono::steady_clock::now() < deadline) {
      if (input_.find('\n') != std::string::npos) {
        return take_first_line() == kWelcome.substr(0, kWelcome.size() - 1);
      }
      if (read_some(10ms) == ReadStatus::kEnded) return false;
    }
    return false;
  }

  // Closes with a reset (SO_LINGER 0) instead of a FIN.
  void reset() {
    const linger abort_on_close{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  std::string take_first_line() {
    const std::size_t end = input_.find('\n');
    std::string line = input_.substr(0, end);
    input_.erase(0, end + 1);
    return line;
  }

  int fd_ = -1;
  std::string input_;
};

// What a client thread found, read by the test thread once it has joined.
struct ClientReport {
  std::string failure;
  int lines_sent = 0;
  int lines_received = 0;
  bool ended_by_server = false;
};

// Lets client threads start sending together, once every one of them has joined the room.
class StartSignal {
 public:
  void ready() { ready_.fetch_add(1); }
  bool wait_ready(int count) {
    return eventually([&] { return ready_.load() >= count; });
  }
  void go() { go_.store(true); }
  bool wait_go() {
    return eventually([&] { return go_.load(); });
  }

 private:
  std::atomic<int> ready_{0};
  std::atomic<bool> go_{false};
};

constexpr int kHealthy = 5;
constexpr int kLinesPerHealthy = 300;
constexpr std::size_t kChatPadding = 8;  // 20-byte lines

// How a client of the chat phase leaves.
// Joins the room, says it is ready, and waits for the start; false (with the failure in the
// report) if it could not join or the start never came.
bool join_and_wait_for_start(ChatClient& client, std::uint16_t port, StartSignal& start,
                             ClientReport& report) {
  if (!client.connect(port) || !client.await_welcome()) {
    report.failure = "could not join";
    start.ready();
    return false;
  }
  start.ready();
  if (!start.wait_go()) {
    report.failure = "the start was never given";
    return false;
  }
  return true;
}

enum class Leaving {
  kStays,          // sends all its lines, reads every line of the other stayers, then closes
  kResets,         // after a few lines each way, closes with a reset
  kClosesUnread,   // stops reading, then closes with lines to it unread and more on the way
  kClosesDrained,  // reads what is there, then closes with a FIN while lines are in flight
};

// One client of the chat phase: sends its lines in uneven pieces (lines split across sends),
// reading between pieces, and leaves as `leaving` says.
void run_chat_client(std::uint16_t port, int self, Leaving leaving, StartSignal& start,
                     ClientReport& report) {
  ChatClient client;
  if (!join_and_wait_for_start(client, port, start, report)) return;
  LineChecker checker(self);
  const int to_send = leaving == Leaving::kStays ? kLinesPerHealthy : 40 + self * 7;
  const int stayer_lines_due = (kHealthy - (self < kHealthy ? 1 : 0)) * kLinesPerHealthy;
  std::string outgoing;
  for (int i = 0; i < to_send; ++i)
    outgoing += chat_line(self, i, kChatPadding);
  std::size_t offset = 0;
  std::size_t piece = 7 + static_cast<std::size_t>(self) * 13;

  const auto deadline = std::chrono::steady_clock::now() + kLongWait;
  auto all_stayer_lines_in = [&] {
    int total = 0;
    for (int sender = 0; sender < kHealthy; ++sender)
      total += checker.received_from(sender);
    return total >= stayer_lines_due;
  };
  while (std::chrono::steady_clock::now() < deadline) {
    if (offset < outgoing.size()) {
      const std::size_t length = std::min(piece, outgoing.size() - offset);
      if (!client.send_all(std::string_view(outgoing).substr(offset, length))) {
        report.failure = "send failed";
        break;
      }
      offset += length;
      report.lines_sent =
          static_cast<int>(std::count(outgoing.begin(), outgoing.begin() + offset, '\n'));
      piece = piece % 97 + 11;  // uneven pieces, so lines straddle sends
    }
    const bool reading = !(leaving == Leaving::kClosesUnread && report.lines_received >= 10);
    if (reading) {
      if (client.read_some(offset < outgoing.size() ? 0ms : 10ms) == ReadStatus::kEnded) {
        report.ended_by_server = true;
        break;
      }
      for (const std::string& line : client.take_lines()) {
        checker.feed(line);
        ++report.lines_received;
      }
    }
    const bool sent_all = offset == outgoing.size();
    if (leaving == Leaving::kStays && sent_all && all_stayer_lines_in()) break;
    // The others leave once lines flow both ways, while the stayers are still sending.
    if (leaving != Leaving::kStays && sent_all && report.lines_received >= 10) break;
  }
  report.failure = checker.failure();
  if (leaving == Leaving::kStays) {
    if (report.failure.empty() && !all_stayer_lines_in()) {
      report.failure = "received " + std::to_string(report.lines_received) + " lines, of " +
                       std::to_string(stayer_lines_due) + " due from the stayers";
    }
    client.close();
  } else if (leaving == Leaving::kResets) {
    client.reset();
  } else {
    client.close();
  }
}

// A client that joins, then reads nothing more until told to drain: a slow consumer. Draining
// checks that what did reach it is the flooder's lines in order, until the server's close.
void run_stalled_client(std::uint16_t port, int self, StartSignal& start,
                        const std::atomic<bool>& drain, ClientReport& report) {
  ChatClient client;
  // A small receive window, so the server's backlog for it builds up soon.
  if (!client.connect(port, 4096) || !client.await_welcome()) {
    report.failure = "could not join";
    start.ready();
    return;
  }
  start.ready();
  if (!eventually([&] { return drain.load(); }, kLongWait)) {
    report.failure = "never told to drain";
    return;
  }
  LineChecker checker(self);
  const auto deadline = std::chrono::steady_clock::now() + kLongWait;
  while (std::chrono::steady_clock::now() < deadline) {
    const ReadStatus status = client.read_some(10ms);
    for (const std::string& line : client.take_lines()) {
      checker.feed(line);
      ++report.lines_received;
    }
    if (status == ReadStatus::kEnded) {
      report.ended_by_server = true;
      break;
    }
  }
  report.failure = checker.failure();
}

// A client that sends and reads without pause until the server goes away: lines keep
// crossing between the worker loops while the server shuts down. What it received must still
// be each sender's lines in order, up to where the server closed it.
void run_chatter(std::uint16_t port, int self, StartSignal& start, std::atomic<int>& lines_seen,
                 ClientReport& report) {
  ChatClient client;
  if (!join_and_wait_for_start(client, port, start, report)) return;
  LineChecker checker(self);
  const auto deadline = std::chrono::steady_clock::now() + kLongWait;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string burst;
    for (int i = 0; i < 4; ++i)
      burst += chat_line(self, report.lines_sent + i, kChatPadding);
    // A send may fail once the server has closed: the end, like EOF.
    if (!client.send_all(burst)) break;
    report.lines_sent += 4;
    const ReadStatus status = client.read_some(1ms);
    for (const std::string& line : client.take_lines()) {
      checker.feed(line);
      ++report.lines_received;
      lines_seen.fetch_add(1);
    }
    if (status == ReadStatus::kEnded) {
      report.ended_by_server = true;
      break;
    }
  }
  report.failure = checker.failure();
  if (std::chrono::steady_clock::now() >= deadline) report.failure = "the server never closed";
}

// --- a room per loop, clients on loops of their own -------------------------------------------

// The same chat with no lock: each worker loop keeps its own members, touched only on that loop,
// and a line reaches the members of every loop through a task executed there. One sender's
// tasks reach each loop in the order it queued them, so its lines stay in order.
class LoopRooms {
 public:
  explicit LoopRooms(EventLoopGroup& workers) {
    for (std::size_t i = 0; i < workers.size(); ++i)
      rooms_.emplace(&workers.at(i), std::vector<ChannelPtr>{});
  }

  // On the channel's loop.
  void join(Channel& channel) { rooms_.at(&channel.loop()).push_back(ChannelPtr(&channel)); }
  void leave(Channel& channel) {
    std::vector<ChannelPtr>& members = rooms_.at(&channel.loop());
    std::erase_if(members, [&](const ChannelPtr& member) { return member.get() == &channel; });
  }
  std::size_t size_on(EventLoop& loop) const { return rooms_.at(&loop).size(); }

  void broadcast(Channel& sender, const Buffer& line) {
    for (auto& [loop, members] : rooms_) {
      loop->execute([this, loop = loop, line = line.share(), sender = ChannelPtr(&sender)] {
        deliver(*loop, *sender, line);
      });
    }
  }

  std::atomic<int> slow_consumers_dropped{0};

 private:
  void deliver(EventLoop& loop, const Channel& sender, const Buffer& line) {
    // A copy: closing a slow member runs its on_inactive, which leaves the room, right here.
    const std::vector<ChannelPtr> members = rooms_.at(&loop);
    for (const ChannelPtr& member : members) {
      if (member.get() == &sender) continue;
      if (!member->is_writable()) {
        slow_consumers_dropped.fetch_add(1);
        member->close();
        continue;
      }
      member->write_and_flush(line.share());
    }
  }

  std::map<EventLoop*, std::vector<ChannelPtr>> rooms_;  // fixed after construction
};

class LoopRoomHandler final : public InboundHandlerFor<Buffer> {
 public:
  explicit LoopRoomHandler(LoopRooms& rooms) : rooms_(rooms) {}

  void on_active(HandlerContext& ctx) override {
    ctx.write_and_flush(Buffer::copy_of(kWelcome));
    rooms_.join(ctx.channel());
    ctx.fire_active();
  }
  void on_inactive(HandlerContext& ctx) override {
    rooms_.leave(ctx.channel());
    ctx.fire_inactive();
  }
  void on_error(HandlerContext& ctx, const Error&) override { ctx.close(); }

 protected:
  void on_message(HandlerContext& ctx, Buffer&& line) override {
    rooms_.broadcast(ctx.channel(), line);
  }

 private:
  LoopRooms& rooms_;
};

// What a client channel received, recorded on its loop and read by the test thread.
struct ClientLines {
  explicit ClientLines(int self) : checker(self) {}

  std::mutex mutex;
  LineChecker checker;
  int received = 0;
  bool welcomed = false;
  bool inactive = false;

  template <typename Predicate>
  bool wait(Predicate done, std::chrono::milliseconds limit = kShortWait) {
    return eventually(
        [&] {
          std::lock_guard lock(mutex);
          return done(*this);
        },
        limit);
  }
  template <typename Read>
  auto read(Read reader) {
    std::lock_guard lock(mutex);
    return reader(*this);
  }
};

class ClientLineHandler final : public InboundHandlerFor<Buffer> {
 public:
  explicit ClientLineHandler(std::shared_ptr<ClientLines> lines) : lines_(std::move(lines)) {}

  void on_inactive(HandlerContext& ctx) override {
    {
      std::lock_guard lock(lines_->mutex);
      lines_->inactive = true;
    }
    ctx.fire_inactive();
  }
  void on_error(HandlerContext& ctx, const Error&) override { ctx.close(); }

 protected:
  void on_message(HandlerContext&, Buffer&& line) override {
    const std::string text(reinterpret_cast<const char*>(line.readable_span().data()),
                           line.readable_bytes());
    std::lock_guard lock(lines_->mutex);
    if (!lines_->welcomed) {
      lines_->welcomed = text == "welcome";
      return;
    }
    lines_->checker.feed(text);
    ++lines_->received;
  }

 private:
  std::shared_ptr<ClientLines> lines_;
};

}  // namespace

TEST_CASE("a chat server broadcasts each line to every other client across worker loops") {
  ProcessHealth health;
  auto room = std::make_shared<ChatRoom>();
  {
    EventLoopGroup acceptor(1, "chat-accept");
    EventLoopGroup workers(2, "chat-work");
    Ref<Server> server = start_chat_server(acceptor, workers, room);
    const std::uint16_t port = server->port();

    SUBCASE("stayers get every line of the others in order while the rest leave mid-stream") {
      // Each stayer receives at most (4 * 300 + 4 * 75) lines of 20 bytes, under the high
      // water mark, so the server never takes a reading client for a slow one.
      const std::vector<Leaving> roles = {
          Leaving::kStays,  Leaving::kStays,        Leaving::kStays,
          Leaving::kStays,  Leaving::kStays,        Leaving::kResets,
          Leaving::kResets, Leaving::kClosesUnread, Leaving::kClosesDrained};
      const int clients = static_cast<int>(roles.size());
      StartSignal start;
      std::vector<ClientReport> reports(roles.size());
      std::vector<std::thread> threads;
      for (int i = 0; i < clients; ++i) {
        threads.emplace_back(run_chat_client, port, i, roles[i], std::ref(start),
                             std::ref(reports[i]));
      }
      // A client is welcomed just before the server's loop adds it to the room: the start waits
      // for the room too, or a line sent at once could miss a client that had not joined yet.
      const bool all_joined = start.wait_ready(clients) && eventually([&] {
                                return room->members.size() == static_cast<std::size_t>(clients);
                              });
      start.go();
      for (auto& thread : threads)
        thread.join();
      REQUIRE(all_joined);
      for (int i = 0; i < clients; ++i) {
        INFO("client ", i);
        CHECK(reports[i].failure == "");
        if (roles[i] == Leaving::kStays) {
          CHECK(reports[i].lines_sent == kLinesPerHealthy);
          CHECK_FALSE(reports[i].ended_by_server);
        }
      }
      CHECK(room->slow_consumers_dropped.load() == 0);
    }

    SUBCASE("clients that stop reading are dropped as slow consumers; the line order holds") {
      constexpr int kStalled = 3;
      const int flooder = kStalled;
      StartSignal start;
      std::atomic<bool> drain{false};
      std::vector<ClientReport> reports(kStalled);
      std::vector<std::thread> threads;
      for (int i = 0; i < kStalled; ++i) {
        threads.emplace_back(run_stalled_client, port, i, std::ref(start), std::cref(drain),
                             std::ref(reports[i]));
      }
      const bool all_joined = start.wait_ready(kStalled);
      ChatClient flood;
      // Welcomed just before joining the room (see above): all in it before the flood starts.
      const bool flooder_joined =
          flood.connect(port) && flood.await_welcome() && eventually([&] {
            return room->members.size() == static_cast<std::size_t>(kStalled) + 1;
          });
      // Lines of 1 KiB until the server has dropped every stalled client (bounded by a volume
      // far beyond what their windows, socket buffers and high water marks can hold).
      int sent = 0;
      bool send_ok = true;
      const auto deadline = std::chrono::steady_clock::now() + kLongWait;
      while (all_joined && flooder_joined && send_ok &&
             room->slow_consumers_dropped.load() < kStalled && sent < 64 * 1024 &&
             std::chrono::steady_clock::now() < deadline) {
        send_ok = flood.send_all(chat_line(flooder, sent, 1000));
        ++sent;
      }
      drain.store(true);
      for (auto& thread : threads)
        thread.join();
      flood.close();
      REQUIRE(all_joined);
      REQUIRE(flooder_joined);
      CHECK(send_ok);
      CHECK(room->slow_consumers_dropped.load() == kStalled);
      for (int i = 0; i < kStalled; ++i) {
        INFO("stalled client ", i);
        CHECK(reports[i].failure == "");
        CHECK(reports[i].ended_by_server);
      }
    }

    SUBCASE("the server shuts down gracefully while lines cross between its loops") {
      constexpr int kChatters = 4;
      StartSignal start;
      std::atomic<int> lines_seen{0};
      std::vector<ClientReport> reports(kChatters);
      std::vector<std::thread> threads;
      for (int i = 0; i < kChatters; ++i) {
        threads.emplace_back(run_chatter, port, i, std::ref(start), std::ref(lines_seen),
                             std::ref(reports[i]));
      }
      // Welcomed just before joining the room (see above): all in it before the start.
      const bool all_joined = start.wait_ready(kChatters) && eventually([&] {
                                return room->members.size() == static_cast<std::size_t>(kChatters);
                              });
      start.go();
      const bool chatting = eventually([&] { return lines_seen.load() >= 400; });
      workers.shutdown_gracefully();
      for (auto& thread : threads)
        thread.join();
      REQUIRE(all_joined);
      CHECK(chatting);
      for (int i = 0; i < kChatters; ++i) {
        INFO("chatter ", i);
        CHECK(reports[i].failure == "");
      }
    }

    SUBCASE("a graceful shutdown ends at its deadline with a client that reads nothing") {
      StartSignal start;
      std::atomic<bool> drain{false};
      ClientReport stalled;
      std::thread stalled_thread(run_stalled_client, port, 0, std::ref(start), std::cref(drain),
                                 std::ref(stalled));
      const bool joined = start.wait_ready(1);
      ChatClient talker;
      // Welcomed just before joining the room (see above): both in it before the lines go.
      const bool talker_joined = talker.connect(port) && talker.await_welcome() &&
                                 eventually([&] { return room->members.size() == 2; });
      // Enough for the server to hold some of it for the stalled client, not enough to make
      // it a slow consumer: the server's close must wait for it, up to the deadline.
      bool sent = true;
      for (int i = 0; i < 56 && sent && joined && talker_joined; ++i)
        sent = talker.send_all(chat_line(1, i, 1000));
      const bool backlog = eventually([&] {
        std::size_t pending = 0;
        for (const ChannelPtr& member : room->members.members())
          pending += member->pending_write_bytes();
        return pending > 0;
      });
      workers.shutdown_gracefully(0ms, 1s);
      drain.store(true);
      stalled_thread.join();
      talker.close();
      REQUIRE(joined);
      REQUIRE(talker_joined);
      CHECK(sent);
      CHECK(backlog);
      CHECK(room->slow_consumers_dropped.load() == 0);
      CHECK(stalled.failure == "");
      CHECK(stalled.ended_by_server);
    }

    CHECK_MESSAGE(eventually([&] { return room->members.size() == 0; }),
                  "members left in the room: ", room->members.size());
    await(server->close());
    workers.shutdown_gracefully();
    acceptor.shutdown_gracefully();
    CHECK(room->members.clear() == 0);
  }
  const std::vector<std::string> unexpected = room->unexpected_errors();
  CHECK_MESSAGE(unexpected.empty(), "unexpected errors: ", unexpected.size(),
                ", first: ", unexpected.empty() ? std::string() : unexpected.front());
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

TEST_CASE("the room closes every member at once from another thread, each after its last line") {
  constexpr int kClients = 4;
  ProcessHealth health;
  auto room = std::make_shared<ChatRoom>();
  {
    EventLoopGroup acceptor(1, "close-accept");
    EventLoopGroup workers(2, "close-work");
    Ref<Server> server = start_chat_server(acceptor, workers, room);
    std::vector<std::unique_ptr<ChatClient>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(std::make_unique<ChatClient>());
      REQUIRE(clients.back()->connect(server->port(), 4096));
      REQUIRE(clients.back()->await_welcome());
    }
    // Welcomed just before joining the room: wait for the room too.
    REQUIRE(eventually([&] { return room->members.size() == kClients; }));

    // Far more than the sockets hold: most of it still waits on the server when the close comes,
    // on both worker loops, and a close that did not wait for it would cut it short.
    const std::string last_line = std::string(512 * kKiB, 'z') + "\n";
    CHECK(room->members.write_and_flush(Buffer::copy_of(last_line)) == kClients);
    const Future<void> all_closed = room->members.close_when_flushed();
    for (int i = 0; i < kClients; ++i) {
      INFO("client ", i);
      ReadStatus status = ReadStatus::kData;
      const auto deadline = std::chrono::steady_clock::now() + kShortWait;
      while (status != ReadStatus::kEnded && std::chrono::steady_clock::now() < deadline)
        status = clients[i]->read_some(10ms);
      CHECK(status == ReadStatus::kEnded);
      const std::vector<std::string> lines = clients[i]->take_lines();
      REQUIRE(lines.size() == 1);
      CHECK(lines[0].size() == last_line.size() - 1);
    }
    CHECK(all_closed.wait_for(kShortWait));
    CHECK(room->members.empty());
    clients.clear();
    await(server->close());
    workers.shutdown_gracefully();
    acceptor.shutdown_gracefully();
  }
  CHECK(room->unexpected_errors().empty());
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

TEST_CASE("a chat with a room per loop and clients on their own loops, written to from a thread") {
  constexpr int kSenders = 4;
  constexpr int kStalled = 2;
  constexpr int kClosers = 2;
  constexpr int kClients = kSenders + kStalled + kClosers;
  constexpr int kWindow = 20;  // rounds sent before the readers must have caught up
  constexpr std::size_t kPadding = 200;
  ProcessHealth health;
  EventLoopGroup acceptor(1, "room-accept");
  EventLoopGroup workers(2, "room-work");
  EventLoopGroup client_loops(2, "room-client");
  LoopRooms rooms(workers);
  ChannelOptions server_options;
  server_options.send_buffer = 16 * 1024;
  ServerBootstrap bootstrap;
  bootstrap.group(acceptor, workers)
      .child_options(server_options)
      .child_initializer([&rooms](Channel& channel) {
        channel.pipeline().add_last("lines", std::make_unique<LineBasedFrameDecoder>(4096, false));
        channel.pipeline().add_last("room", std::make_unique<LoopRoomHandler>(rooms));
      });
  Ref<Server> server = await(bootstrap.bind("127.0.0.1", 0));

  std::vector<std::shared_ptr<ClientLines>> lines;
  std::vector<ChannelPtr> clients;
  for (int i = 0; i < kClients; ++i) {
    auto client_lines = std::make_shared<ClientLines>(i);
    ChannelOptions options;
    // The stalled clients read nothing once they have joined, through a small window.
    if (i >= kSenders && i < kSenders + kStalled) options.receive_buffer = 4096;
    Bootstrap client;
    client.group(client_loops).options(options).initializer([client_lines](Channel& channel) {
      channel.pipeline().add_last("lines", std::make_unique<LineBasedFrameDecoder>(4096));
      channel.pipeline().add_last("client", std::make_unique<ClientLineHandler>(client_lines));
    });
    clients.push_back(await(client.connect("127.0.0.1", server->port())));
    lines.push_back(client_lines);
  }
  for (int i = 0; i < kClients; ++i) {
    INFO("client ", i);
    REQUIRE(lines[i]->wait([](ClientLines& l) { return l.welcomed; }));
  }
  // The members of both rooms, each counted on its own loop (a client joins once welcomed).
  auto members = [&] {
    std::size_t total = 0;
    for (std::size_t w = 0; w < workers.size(); ++w) {
      EventLoop& loop = workers.at(w);
      auto counted = std::make_shared<std::promise<std::size_t>>();
      auto future = counted->get_future();
      if (!loop.execute([&rooms, &loop, counted] { counted->set_value(rooms.size_on(loop)); })) {
        return std::size_t{0};  // stopped: its room closed with it
      }
      if (future.wait_for(kShortWait) != std::future_status::ready) return ~std::size_t{0};
      total += future.get();
    }
    return total;
  };
  REQUIRE(eventually([&] { return members() == kClients; }));
  for (int i = kSenders; i < kSenders + kStalled; ++i)
    clients[i]->set_auto_read(false);

  // Every sender sends a line per round from this thread; a window of rounds at a time, after
  // which the reading clients must have caught up (so none of them can be taken for a slow
  // one), until the stalled ones have been dropped. The closers go half way through.
  auto senders_caught_up = [&](int rounds) {
    for (int i = 0; i < kSenders; ++i) {
      if (!lines[i]->wait([&](ClientLines& l) { return l.received >= rounds * (kSenders - 1); },
                          kLongWait)) {
        return false;
      }
    }
    return true;
  };
  int rounds = 0;
  bool caught_up = true;
  bool closers_gone = false;
  while (caught_up && rounds < 2000 &&
         (rooms.slow_consumers_dropped.load() < kStalled || rounds < 200)) {
    for (int w = 0; w < kWindow; ++w, ++rounds) {
      for (int i = 0; i < kSenders; ++i)
        clients[i]->write_and_flush(Buffer::copy_of(chat_line(i, rounds, kPadding)));
    }
    if (!closers_gone && rounds >= 100) {
      for (int i = kSenders + kStalled; i < kClients; ++i)
        clients[i]->close();
      closers_gone = true;
    }
    caught_up = senders_caught_up(rounds);
  }
  CHECK(caught_up);
  CHECK(rooms.slow_consumers_dropped.load() == kStalled);
  for (int i = 0; i < kSenders; ++i) {
    INFO("sender ", i);
    CHECK(lines[i]->read([](ClientLines& l) { return l.checker.failure(); }) == "");
    CHECK(lines[i]->read([](ClientLines& l) { return l.received; }) == rounds * (kSenders - 1));
  }
  // The stalled clients, reading again, find the lines that reached them in order, then the
  // server's close.
  for (int i = kSenders; i < kSenders + kStalled; ++i) {
    INFO("stalled client ", i);
    clients[i]->set_auto_read(true);
    CHECK(lines[i]->wait([](ClientLines& l) { return l.inactive; }));
    CHECK(lines[i]->read([](ClientLines& l) { return l.checker.failure(); }) == "");
  }
  for (int i = kSenders + kStalled; i < kClients; ++i) {
    INFO("closer ", i);
    CHECK(lines[i]->read([](ClientLines& l) { return l.checker.failure(); }) == "");
  }

  for (const ChannelPtr& client : clients) {
    client->close();
    await(client->close_future());
  }
  clients.clear();
  CHECK(eventually([&] { return members() == 0; }));
  client_loops.shutdown_gracefully();
  await(server->close());
  workers.shutdown_gracefully();
  acceptor.shutdown_gracefully();
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}

TEST_CASE("a chat with a room per loop shuts down gracefully while lines cross between loops") {
  constexpr int kChatters = 4;
  ProcessHealth health;
  EventLoopGroup acceptor(1, "room-accept");
  EventLoopGroup workers(2, "room-work");
  LoopRooms rooms(workers);
  ServerBootstrap bootstrap;
  bootstrap.group(acceptor, workers).child_initializer([&rooms](Channel& channel) {
    channel.pipeline().add_last("lines", std::make_unique<LineBasedFrameDecoder>(4096, false));
    channel.pipeline().add_last("room", std::make_unique<LoopRoomHandler>(rooms));
  });
  Ref<Server> server = await(bootstrap.bind("127.0.0.1", 0));
  StartSignal start;
  std::atomic<int> lines_seen{0};
  std::vector<ClientReport> reports(kChatters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kChatters; ++i) {
    threads.emplace_back(run_chatter, server->port(), i, std::ref(start), std::ref(lines_seen),
                         std::ref(reports[i]));
  }
  // A client is welcomed just before its loop adds it to its room: the start waits for the
  // rooms too, or a line sent at once could miss a chatter that had not joined yet.
  auto members = [&] {
    std::size_t total = 0;
    for (std::size_t w = 0; w < workers.size(); ++w) {
      EventLoop& loop = workers.at(w);
      const Future<std::size_t> counted =
          submit(loop, [&rooms, &loop] { return rooms.size_on(loop); });
      if (!counted.wait_for(kShortWait) || !counted.wait().ok()) return std::size_t{0};
      total += counted.wait().value();
    }
    return total;
  };
  const bool all_joined = start.wait_ready(kChatters) && eventually([&] {
                            return members() == static_cast<std::size_t>(kChatters);
                          });
  start.go();
  const bool chatting = eventually([&] { return lines_seen.load() >= 400; });
  workers.shutdown_gracefully();
  for (auto& thread : threads)
    thread.join();
  REQUIRE(all_joined);
  CHECK(chatting);
  for (int i = 0; i < kChatters; ++i) {
    INFO("chatter ", i);
    CHECK(reports[i].failure == "");
  }
  CHECK(rooms.size_on(workers.at(0)) == 0);
  CHECK(rooms.size_on(workers.at(1)) == 0);
  await(server->close());
  acceptor.shutdown_gracefully();
  CHECK(PooledAllocator::metrics().live_buffers == 0);
}
