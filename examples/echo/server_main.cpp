// sluice-echo-server: echoes every byte it receives.
//
//   sluice-echo-server --host 127.0.0.1 --port 7007 --threads 2 [--reuseport]

#include "../common/server_main.hpp"
#include "echo_handler.hpp"

int main(int argc, char** argv) {
  return sluice::examples::run_server(
      argc, argv, "sluice-echo-server", 7007, {}, {}, [](const auto&) {
        return [](sluice::Channel& channel) {
          channel.pipeline().add_last("echo", std::make_unique<sluice::examples::EchoHandler>());
        };
      });
}
