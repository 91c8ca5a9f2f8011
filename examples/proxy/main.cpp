// sluice-tcp-proxy: relays each connection it accepts to a backend, both ways, byte for byte.
//
//   sluice-tcp-proxy --port 9000 --backend-host 127.0.0.1 --backend-port 7007

#include <cstdint>
#include <stdexcept>

#include "../common/server_main.hpp"
#include "backend_connector.hpp"

int main(int argc, char** argv) {
  using namespace sluice;
  const examples::ServerProgram program{
      "sluice-tcp-proxy",
      "Relays each connection it accepts to --backend-host:--backend-port, both ways, with\n"
      "backpressure (a slow end stops the other from reading) and half-closes passed on.",
      9000,
      {{"backend-host", "ADDR", "the backend's address or name (default 127.0.0.1)"},
       {"backend-port", "N", "the backend's port (required)"},
       {"idle-seconds", "N",
        "close a connection on which nothing moves either way for N s, 0 never (default 300)"}}};
  return examples::run_server(argc, argv, program, [](const examples::CommandLine& args) {
    if (!args.has("backend-port")) throw std::invalid_argument("--backend-port is required");
    // Port 0 means "any free one" to a listener; as a destination every connect would fail.
    const auto backend_port = static_cast<std::uint16_t>(args.get_int("backend-port", 0, 1, 65535));
    const auto idle = std::chrono::seconds(args.get_int("idle-seconds", 300, 0, 86400));
    return examples::proxy_initializer(args.get("backend-host", "127.0.0.1"), backend_port,
                                       ChannelOptions{}, idle);
  });
}
