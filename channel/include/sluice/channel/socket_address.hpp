#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// An IPv4, IPv6 or Unix-domain socket address, as a value.
class SocketAddress {
 public:
  SocketAddress() noexcept = default;
  SocketAddress(const sockaddr* address, socklen_t length) noexcept;

  // A numeric address ("127.0.0.1", "::1", "[::1]", "fe80::1%eth0" with its zone, by interface
  // name or index); nullopt if `host` is not one, or names an interface that does not exist.
  static std::optional<SocketAddress> from_numeric(std::string_view host, std::uint16_t port);
  // A Unix-domain address; nullopt when the path is too long for sockaddr_un. A path that
  // starts with a NUL byte is an abstract name, taken with its exact length.
  static std::optional<SocketAddress> from_unix_path(std::string_view path);

  int family() const noexcept { return storage_.ss_family; }
  bool empty() const noexcept { return length_ == 0; }
  std::uint16_t port() const noexcept;  // 0 for Unix-domain addresses
  const sockaddr* native() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const noexcept { return length_; }

  // "127.0.0.1:8080", "[::1]:8080", "[fe80::1%eth0]:8080", "unix:/run/app.sock",
  // "unix:@name" (abstract)
  std::string to_string() const;
  // The host part alone: "127.0.0.1", "::1", "fe80::1%eth0", the path, or "@name" for an
  // abstract name.
  std::string host() const;
  // A Unix-domain address with an abstract name (not a file).
  bool is_abstract_unix() const noexcept;
  // A unicast IP address that hosts anywhere on the internet can reach: not loopback, private,
  // shared (carrier-grade NAT), link- or site-local, unique-local, documentation, benchmarking,
  // multicast, reserved or unspecified (the IANA special-purpose registries of RFC 6890 and
  // their updates). An IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4) is judged by
  // the IPv4 address it reaches. False for Unix-domain addresses. What a proxy or any server
  // connecting where its clients say should check after name resolution: a public name can
  // resolve to 127.0.0.1.
  bool is_global() const noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace sluice
