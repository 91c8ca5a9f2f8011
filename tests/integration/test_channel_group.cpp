// ChannelGroup across threads: members on two loops, written to, changed and closed from three
// threads that are none of them at once. Run under TSan too.

#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sluice/channel/channel_group.hpp"
#include "support.hpp"

using namespace sluice;
using namespace sluice::test;

namespace {

// Joins the group as the server's side of a connection turns active.
class JoinOnActive final : public ChannelHandler {
 public:
  explicit JoinOnActive(ChannelGroup& group) : group_(group) {}
  void on_active(HandlerContext& ctx) override {
    group_.add(ChannelPtr(&ctx.channel()));
    ctx.fire_active();
  }

 private:
  ChannelGroup& group_;
};

// "<sequence, 8 digits>\n": fixed size, so a client's stream parses without framing.
constexpr std::size_t kRecordSize = 9;
std::string record(int sequence) {
  char text[16];
  std::snprintf(text, sizeof text, "%08d\n", sequence);
  return text;
}

// Empty when `bytes` is whole records in increasing order (lines missed while the member was
// out of the group leave gaps, never a step back); else what is wrong.
std::string check_increasing(const std::string& bytes) {
  if (bytes.size() % kRecordSize != 0) return "a partial record";
  int last = -1;
  for (std::size_t at = 0; at < bytes.size(); at += kRecordSize) {
    if (bytes[at + kRecordSize - 1] != '\n') return "a malformed record at " + std::to_string(at);
    const int sequence = std::stoi(bytes.substr(at, kRecordSize - 1));
    if (sequence <= last) {
      return "record " + std::to_string(sequence) + " after " + std::to_string(last);
    }
    last = sequence;
  }
  return "";
}

}  // namespace

TEST_CASE("a group on two loops is written to, changed and closed from three threads at once") {
  constexpr std::size_t kMembers = 12;
  constexpr int kBroadcasts = 1500;
  ProcessHealth health;
  EventLoopGroup server_loops(2, "group-server");
  EventLoopGroup client_loops(1, "group-client");
  ChannelGroup group("members");
  Peers clients;
  {
    ServerBootstrap server_bootstrap;
    server_bootstrap.group(server_loops).child_initializer([&group](Channel& channel) {
      channel.pipeline().add_last("join", std::make_unique<JoinOnActive>(group));
    });
    Endpoint endpoint(Family::kIPv4);
    Ref<Server> server = endpoint.bind(server_bootstrap);
    Bootstrap client;
    client.group(client_loops).initializer(clients.collecting_initializer());
    for (std::size_t i = 0; i < kMembers; ++i)
      await(endpoint.connect(client));
    REQUIRE(eventually([&] { return group.size() == kMembers; }));
    await(server->close());
  }

  std::atomic<int> reports{0};
  std::atomic<std::size_t> reached{0};
  std::atomic<std::size_t> completed{0};
  std::atomic<bool> closer_may_start{false};
  std::thread broadcaster([&] {
    for (int i = 0; i < kBroadcasts; ++i) {
      reached +=
          group.write_and_flush(to_buffer(record(i)), {}, [&](const GroupWriteReport& report) {
            completed += report.succeeded + report.failed.size();
            ++reports;
          });
      if (i == kBroadcasts / 3) closer_may_start = true;
    }
  });
  std::thread churner([&] {
    for (int round = 0; round < 300; ++round) {
      const std::vector<ChannelPtr> members = group.members();
      if (members.empty()) break;
      const ChannelPtr& member = members[static_cast<std::size_t>(round) % members.size()];
      if (group.remove(*member)) group.add(member);  // refused once it has closed
    }
  });
  std::thread closer([&] {
    while (!closer_may_start)
      std::this_thread::yield();
    // A third of the members, closed while lines go to them and members come and go.
    const bool closed = group.close([](const Channel& channel) { return channel.id() % 3 == 0; })
                            .wait_for(kShortWait);
    CHECK(closed);
  });
  broadcaster.join();
  churner.join();
  closer.join();

  CHECK_MESSAGE(eventually([&] { return reports.load() == kBroadcasts; }), reports.load());
  CHECK(completed.load() == reached.load());
  CHECK(group.close().wait_for(kShortWait));
  CHECK(group.empty());

  REQUIRE(clients.wait_count(kMembers));
  for (std::size_t i = 0; i < kMembers; ++i) {
    const std::shared_ptr<Peer> peer = clients.at(i);
    CHECK(peer->wait_inactive());
    CAPTURE(i);
    CHECK(check_increasing(peer->received_bytes()) == "");
  }
  client_loops.shutdown_gracefully();
  server_loops.shutdown_gracefully();
}
