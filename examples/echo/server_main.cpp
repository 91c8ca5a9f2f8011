// sluice-echo-server: echoes every byte it receives.
//
//   sluice-echo-server --host 127.0.0.1 --port 7007 --threads 2 [--reuseport]

#include "../common/server_main.hpp"
#include "echo_handler.hpp"

int main(int argc, char** argv) {
  const sluice::examples::ServerProgram program{
      "sluice-echo-server",
      "Echoes every byte it receives, one write per read batch. SIGINT or SIGTERM stops it\n"
      "gracefully.",
      7007,
      {}};
  return sluice::examples::run_server(argc, argv, program, [](const auto&) {
    return [](sluice::Channel& channel) {
      channel.pipeline().add_last("echo", std::make_unique<sluice::examples::EchoHandler>());
    };
  });
}
