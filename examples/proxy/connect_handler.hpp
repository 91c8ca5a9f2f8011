#pragma once

#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "relay_handler.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/codec/http/http_request.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_status.hpp"
#include "sluice/core/log.hpp"

namespace sluice::examples {

// Where a CONNECT asks to go: its authority-form target (RFC 9112 §3.2.3), "host:port", with
// an IPv6 literal in brackets. Nothing for a target without a port, or with a bad one.
struct Authority {
  std::string host;
  std::uint16_t port = 0;

  // As it was written: an IPv6 address in brackets.
  std::string to_string() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

inline std::optional<Authority> parse_authority(std::string_view target) {
  const auto colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = target.substr(0, colon);
  const std::string_view port_text = target.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
    // Brackets hold an IPv6 address (RFC 3986 IP-literal), never an IPv4 one or a name: those
    // would be tunnelled to as if the target were well-formed.
    if (host.find(':') == std::string_view::npos) return std::nullopt;
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 literal must be bracketed, or its port is ambiguous
  }
  if (host.find_first_of("[]") != std::string_view::npos) return std::nullopt;
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return Authority{std::string(host), static_cast<std::uint16_t>(port)};
}

// The application handler of a tunnelling proxy, after HttpServerCodec: a CONNECT to an allowed
// port is connected on the connection's own loop (connect_backend); once it is, this handler
// gives its place to a RelayHandler and answers 200, which turns the connection into the
// tunnel (the codec then passes every byte on as Buffers, those the client sent ahead of the
// answer first). A port not allowed gets 403, a target that cannot be reached 502 (504 when
// the connect timed out), a malformed one 400, and HTTP goes on after them; any other method
// gets 405 with Allow: CONNECT, since this proxy tunnels and does not forward requests.
// `allowed_addresses` judges where the target's name resolved to (SocketAddress::is_global
// keeps clients off the proxy's own machine and networks); an address it refuses is never
// connected to, and a target with no address it accepts gets 403.
class ConnectHandler final : public ChannelHandler {
 public:
  ConnectHandler(std::set<std::uint16_t> allowed_ports, AddressFilter allowed_addresses,
                 const ChannelOptions& backend_options)
      : allowed_ports_(std::move(allowed_ports)),
        allowed_addresses_(std::move(allowed_addresses)),
        backend_options_(backend_options) {
    backend_options_.allow_half_closure = true;
  }

  void on_read(HandlerContext& ctx, Message&& message) override {
    const auto* request = message.get_if<http::HttpRequest>();
    if (request == nullptr) return;  // the content of a request answered 405
    if (!request->is_connect()) {
      ctx.write(answer(http::status::kMethodNotAllowed, "this proxy only tunnels (CONNECT)\n")
                    .header("Allow", "CONNECT"));
      return;
    }
    const std::optional<Authority> authority = parse_authority(request->target());
    if (!authority) {
      ctx.write(answer(http::status::kBadRequest, "CONNECT wants host:port\n"));
      return;
    }
    if (!allowed_ports_.contains(authority->port)) {
      ctx.write(answer(http::status::kForbidden, "that port is not allowed\n"));
      return;
    }
    tunnel_to(ctx.channel(), *authority);
  }
  void on_read_complete(HandlerContext& ctx) override {
    ctx.flush();
    ctx.fire_read_complete();
  }
  // A half-close that passes while a CONNECT is pending never reaches the RelayHandler that
  // takes this handler's place: the tunnel must pass it on when it opens. (One that comes with
  // bytes held after the request waits in the codec, which hands it to the relay after them.)
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<ChannelInputShutdown>()) input_ended_ = true;
    ctx.fire_user_event(std::move(event));
  }

 private:
  static http::HttpResponse answer(std::uint16_t status, std::string_view text) {
    return http::HttpResponse(status)
        .header("Content-Type", "text/plain")
        .body(Buffer::copy_of(text));
  }

  static http::HttpResponse refusal(const Error& error) {
    if (error == ChannelErrc::address_refused) {
      return answer(http::status::kForbidden, "that address is not allowed\n");
    }
    if (error == ChannelErrc::connect_timeout) {
      return answer(http::status::kGatewayTimeout, "the target did not answer\n");
    }
    return answer(http::status::kBadGateway, "the target did not answer\n");
  }

  void tunnel_to(Channel& channel, const Authority& authority) {
    const ChannelPtr client(&channel);
    connect_backend(client, authority.host, authority.port, backend_options_, allowed_addresses_)
        .then([client, target = authority.to_string()](const Result<Ref<Channel>>& connected) {
          if (!client->is_open()) {
            if (connected.ok()) connected.value()->close();
            return;
          }
          if (!connected.ok()) {
            logger().info("{}: CONNECT {}: {}", client->describe(), target,
                          connected.error().message());
            client->write_and_flush(refusal(connected.error()));
            return;
          }
          const auto* self = static_cast<ConnectHandler*>(client->pipeline().get("connect"));
          const bool input_ended = self != nullptr && self->input_ended_;
          // The relay first: the 200 releases the bytes the codec held, and they go to it.
          // (The backend has read nothing yet: this runs as its connect completes.)
          const Ref<Channel>& backend = connected.value();
          client->pipeline().replace("connect", "relay", std::make_unique<RelayHandler>(backend));
          client->write_and_flush(http::HttpResponse(http::status::kOk));
          if (input_ended) backend->shutdown_output();
        });
  }

  std::set<std::uint16_t> allowed_ports_;
  AddressFilter allowed_addresses_;
  ChannelOptions backend_options_;
  bool input_ended_ = false;  // the client half-closed
};

}  // namespace sluice::examples
