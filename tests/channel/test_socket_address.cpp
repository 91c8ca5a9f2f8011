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

TEST_CASE("is_global: public unicast addresses only, judged after name resolution") {
  const auto global = [](const char* host) {
    const auto address = SocketAddress::from_numeric(host, 443);
    REQUIRE_MESSAGE(address, host);
    return address->is_global();
  };
  for (const char* host : {"93.184.215.14",    "8.8.8.8",
                           "1.1.1.1",          "100.63.255.255",
                           "100.128.0.0",      "172.15.255.255",
                           "172.32.0.0",       "192.0.1.255",
                           "192.169.0.0",      "198.17.255.255",
                           "198.20.0.0",       "223.255.255.255",
                           "2606:4700::1111",  "2001:4860:4860::8888",
                           "2a00:1450::1",     "2001:200::1",
                           "3fff:1000::1",     "::ffff:8.8.8.8",
                           "64:ff9b::808:808", "2002:808:808::1"}) {
    CHECK_MESSAGE(global(host), host);
  }
  for (const char* host : {"0.0.0.0",
                           "0.1.2.3",
                           "10.0.0.1",
                           "10.255.255.255",
                           "100.64.0.1",
                           "100.127.255.255",
                           "127.0.0.1",
                           "127.1.2.3",
                           "169.254.169.254",
                           "172.16.0.1",
                           "172.31.255.255",
                           "192.0.0.8",
                           "192.0.0.11",
                           "192.0.0.170",
                           "192.0.2.1",
                           "192.88.99.1",
                           "192.168.1.1",
                           "198.18.0.1",
                           "198.19.255.255",
                           "198.51.100.7",
                           "203.0.113.9",
                           "224.0.0.1",
                           "239.255.255.255",
                           "240.0.0.1",
                           "255.255.255.255",
                           "::",
                           "::1",
                           "::ffff:127.0.0.1",
                           "::ffff:10.1.2.3",
                           "::ffff:169.254.169.254",
                           "64:ff9b::7f00:1",
                           "64:ff9b:1::1",
                           "2002:7f00:1::1",
                           "2002:a00:1::",
                           "fc00::1",
                           "fd12:3456::1",
                           "fe80::1",
                           "febf::1",
                           "fec0::1",
                           "ff02::1",
                           "100::1",
                           "2001::1",
                           "2001:1ff:ffff::1",
                           "2001:db8::1",
                           "3fff::1",
                           "3fff:fff::1",
                           "5f00::1",
                           "::127.0.0.1",
                           "4000::1"}) {
    CHECK_FALSE_MESSAGE(global(host), host);
  }
  CHECK_FALSE(SocketAddress::from_unix_path("/run/app.sock")->is_global());
  CHECK_FALSE(SocketAddress().is_global());
}

TEST_CASE("is_global: the anycast and service blocks the registries carve out of non-global ones") {
  // The IANA special-purpose registries mark these globally reachable although the IETF
  // protocol assignment blocks around them (192.0.0.0/24, 2001::/23) are not.
  const auto global = [](const char* host) {
    const auto address = SocketAddress::from_numeric(host, 443);
    REQUIRE_MESSAGE(address, host);
    return address->is_global();
  };
  // PCP anycast (RFC 7723), TURN anycast (RFC 8155), DNS-SD SRP anycast (RFC 9665), AMT
  // (RFC 7450), AS112-v6 (RFC 7534), ORCHIDv2 (RFC 7343), drone remote ID tags (RFC 9374).
  for (const char* host :
       {"192.0.0.9", "192.0.0.10", "::ffff:192.0.0.10", "2001:1::1", "2001:1::2", "2001:1::3",
        "2001:3::1", "2001:3:ffff::1", "2001:4:112::1", "2001:4:112:ffff::1", "2001:20::1",
        "2001:2f:ffff::1", "2001:30::1", "2001:3f:ffff::1"}) {
    CHECK_MESSAGE(global(host), host);
  }
  // Their neighbours stay non-global.
  for (const char* host : {"2001:1::", "2001:1::4", "2001:1:0:1::1", "2001:2::1", "2001:4::1",
                           "2001:4:113::1", "2001:4:111::1", "2001:10::1", "2001:1f:ffff::1",
                           "2001:40::1", "2001::1", "::ffff:192.0.0.11"}) {
    CHECK_FALSE_MESSAGE(global(host), host);
  }
}
