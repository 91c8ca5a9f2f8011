// sluice-connect-proxy: an HTTP/1.1 tunnelling proxy. Each CONNECT host:port to an allowed
// port becomes a byte-for-byte tunnel (curl -p -x http://127.0.0.1:3128 https://...), if the
// host resolves to a global address: loopback, private and link-local ones (the proxy's own
// services, its networks, a cloud metadata endpoint) are refused unless allowed.
//
//   sluice-connect-proxy --port 3128 --allow-ports 443,8443

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>

#include "../common/server_main.hpp"
#include "close_when_idle.hpp"
#include "connect_handler.hpp"
#include "sluice/codec/http/http_server_codec.hpp"
#include "sluice/codec/idle_state_handler.hpp"

namespace {

// "443,8443": the ports a CONNECT may reach. A proxy that tunnels anywhere would let its
// clients reach whatever the host reaches (its loopback services among them).
std::set<std::uint16_t> parse_ports(const std::string& list) {
  std::set<std::uint16_t> ports;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    std::size_t used = 0;
    unsigned long port = 0;
    try {
      port = std::stoul(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || port == 0 || port > 65535) {
      throw std::invalid_argument("--allow-ports wants ports from 1 to 65535, not '" + item + "'");
    }
    ports.insert(static_cast<std::uint16_t>(port));
    start = comma + 1;
  }
  return ports;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  const examples::ServerProgram program{
      "sluice-connect-proxy",
      "An HTTP/1.1 tunnelling proxy: each CONNECT host:port to an allowed port becomes a\n"
      "byte-for-byte tunnel; other methods get 405.",
      3128,
      {{"allow-ports", "LIST", "the ports a CONNECT may reach, comma-separated (default 443)"},
       {"allow-private-targets", "",
        "tunnel to loopback, private and other non-global addresses too (refused by default: "
        "they are this machine's and its networks')"},
       {"idle-seconds", "N",
        "close a connection on which nothing moves either way for N s, 0 never (default 300)"}}};
  return examples::run_server(argc, argv, program, [](const examples::CommandLine& args) {
    const std::set<std::uint16_t> ports = parse_ports(args.get("allow-ports", "443"));
    const auto idle = std::chrono::seconds(args.get_int("idle-seconds", 300, 0, 86400));
    AddressFilter targets;
    if (!args.has("allow-private-targets")) {
      targets = [](const SocketAddress& address) { return address.is_global(); };
    }
    return [ports, idle, targets](Channel& channel) {
      auto& pipeline = channel.pipeline();
      // All-idle, output counted: a tunnel one way only (a download) is not idle.
      pipeline.add_last("idle", std::make_unique<IdleStateHandler>(
                                    std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                                    idle, OutputProgress::kCountsAsWrite));
      pipeline.add_last("http", std::make_unique<http::HttpServerCodec>());
      pipeline.add_last(
          "connect", std::make_unique<examples::ConnectHandler>(ports, targets, ChannelOptions{}));
      pipeline.add_last("close-when-idle", std::make_unique<examples::CloseWhenIdle>());
    };
  });
}
