// sluice-chat-server: a line-based chat room. Every line a client sends goes to every other
// client, whichever loop thread serves it; talk to it with sluice-echo-client or any line-mode
// TCP client.
//
//   sluice-chat-server --port 7008 --threads 2

#include <chrono>
#include <cstddef>
#include <memory>

#include "../common/server_main.hpp"
#include "chat_handler.hpp"
#include "sluice/codec/idle_state_handler.hpp"
#include "sluice/codec/line_based_frame_decoder.hpp"

int main(int argc, char** argv) {
  using namespace sluice;
  const examples::ServerProgram program{
      "sluice-chat-server",
      "A chat room over TCP: each line a client sends goes to every other client, prefixed\n"
      "with its sender; clients that fall behind are dropped.",
      7008,
      {{"max-line", "N", "the longest line accepted, in bytes (default 1024)"},
       {"idle-seconds", "N",
        "close a connection on which nothing moves either way for N s, 0 never (default 600)"}}};
  return examples::run_server(argc, argv, program, [](const examples::CommandLine& args) {
    const auto max_line = static_cast<std::size_t>(args.get_int("max-line", 1024, 1, 1 << 20));
    const auto idle = std::chrono::seconds(args.get_int("idle-seconds", 600, 0, 86400));
    auto room = std::make_shared<examples::ChatRoom>();
    return [room, max_line, idle](Channel& channel) {
      auto& pipeline = channel.pipeline();
      // All-idle, output counted: a member who only listens to a lively room is not idle.
      pipeline.add_last("idle", std::make_unique<IdleStateHandler>(
                                    std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                                    idle, OutputProgress::kCountsAsWrite));
      pipeline.add_last("lines", std::make_unique<LineBasedFrameDecoder>(max_line));
      pipeline.add_last("chat", std::make_unique<examples::ChatHandler>(room));
    };
  });
}
