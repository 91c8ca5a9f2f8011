#include <net/if.h>

#include <doctest/doctest.h>

#include <string>

#include "sluice/channel/socket_address.hpp"

using namespace sluice;

namespace {

std::uint32_t scope_of(const SocketAddress& address) {
  return reinterpret_cast<const sockaddr_in6*>(address.native())->sin6_scope_id;
}

}  // namespace

TEST_CASE("numeric addresses parse with or without brackets and print back") {
  CHECK(SocketAddress::from_numeric("127.0.0.1", 80)->to_string() == "127.0.0.1:80");
  CHECK(SocketAddress::from_numeric("::1", 8080)->to_string() == "[::1]:8080");
  CHECK(SocketAddress::from_numeric("[::1]", 8080)->to_string() == "[::1]:8080");
  CHECK_FALSE(SocketAddress::from_numeric("localhost", 80));
  CHECK_FALSE(SocketAddress::from_numeric("", 80));
}

TEST_CASE("a link-local IPv6 address keeps its scope, parsed by number or interface name") {
  const auto by_number = SocketAddress::from_numeric("fe80::1%1", 80);
  REQUIRE(by_number);
  CHECK(scope_of(*by_number) == 1);
  CHECK(by_number->port() == 80);

  char name[IF_NAMESIZE] = {};
  REQUIRE(::if_indextoname(1, name) != nullptr);  // loopback is interface 1
  const auto by_name = SocketAddress::from_numeric("[fe80::1%" + std::string(name) + "]", 80);
  REQUIRE(by_name);
  CHECK(scope_of(*by_name) == 1);
  // Printed with the interface's name, which parses back to the same scope.
  CHECK(by_name->host() == "fe80::1%" + std::string(name));
  CHECK(by_name->to_string() == "[fe80::1%" + std::string(name) + "]:80");
  CHECK(scope_of(*SocketAddress::from_numeric(by_number->host(), 80)) == 1);

  CHECK_FALSE(SocketAddress::from_numeric("fe80::1%", 80));
  CHECK_FALSE(SocketAddress::from_numeric("fe80::1%no-such-interface", 80));
  CHECK_FALSE(SocketAddress::from_numeric("127.0.0.1%1", 80));
}

TEST_CASE("a scope that names no interface prints as its number") {
  sockaddr_in6 raw{};
  raw.sin6_family = AF_INET6;
  raw.sin6_port = htons(443);
  raw.sin6_addr.s6_addr[0] = 0xfe;
  raw.sin6_addr.s6_addr[1] = 0x80;
  raw.sin6_addr.s6_addr[15] = 1;
  raw.sin6_scope_id = 4000000;
  const SocketAddress address(reinterpret_cast<const sockaddr*>(&raw), sizeof raw);
  CHECK(address.to_string() == "[fe80::1%4000000]:443");
}

TEST_CASE("Unix-domain paths and abstract names print as they were made") {
  CHECK(SocketAddress::from_unix_path("/run/app.sock")->to_string() == "unix:/run/app.sock");
  const auto abstract = SocketAddress::from_unix_path(std::string("\0name", 5));
  REQUIRE(abstract);
  CHECK(abstract->is_abstract_unix());
  CHECK(abstract->to_string() == "unix:@name");
  CHECK(abstract->length() == offsetof(sockaddr_un, sun_path) + 5);
  CHECK_FALSE(SocketAddress::from_unix_path(""));
  CHECK_FALSE(SocketAddress::from_unix_path(std::string(sizeof(sockaddr_un::sun_path), 'a')));
  CHECK(SocketAddress::from_unix_path(std::string(sizeof(sockaddr_un::sun_path) - 1, 'a')));
}
