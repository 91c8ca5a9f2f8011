#include "sluice/channel/socket_address.hpp"

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sluice {

SocketAddress::SocketAddress(const sockaddr* address, socklen_t length) noexcept {
  length_ = std::min<socklen_t>(length, sizeof storage_);
  std::memcpy(&storage_, address, length_);
}

namespace {

// An IPv6 zone ("eth0" or "2" in "fe80::1%eth0"): an interface name or index; 0 if neither.
std::uint32_t parse_scope(const std::string& zone) {
  if (zone.empty()) return 0;
  if (zone.find_first_not_of("0123456789") == std::string::npos) {
    if (zone.size() > 10) return 0;
    const unsigned long long index = std::stoull(zone);
    return index <= UINT32_MAX ? static_cast<std::uint32_t>(index) : 0;
  }
  return ::if_nametoindex(zone.c_str());
}

// An IPv4 address in host order is in `prefix`/`bits`.
constexpr bool in_block(std::uint32_t address, std::uint32_t prefix, int bits) {
  const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (address & mask) == prefix;
}

constexpr std::uint32_t ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d;
}

// The IANA IPv4 Special-Purpose Address Registry's blocks that are not globally reachable
// (RFC 6890, RFC 8190), with multicast (RFC 5771) and the reserved block, which holds the
// limited broadcast address (RFC 1112).
struct Ipv4Block {
  std::uint32_t prefix;
  int bits;
};
constexpr Ipv4Block kNonGlobalIpv4[] = {
    {ipv4(0, 0, 0, 0), 8},        // "this network"
    {ipv4(10, 0, 0, 0), 8},       // private (RFC 1918)
    {ipv4(100, 64, 0, 0), 10},    // shared address space, carrier-grade NAT (RFC 6598)
    {ipv4(127, 0, 0, 0), 8},      // loopback
    {ipv4(169, 254, 0, 0), 16},   // link-local (RFC 3927)
    {ipv4(172, 16, 0, 0), 12},    // private
    {ipv4(192, 0, 0, 0), 24},     // IETF protocol assignments
    {ipv4(192, 0, 2, 0), 24},     // documentation (TEST-NET-1, RFC 5737)
    {ipv4(192, 88, 99, 0), 24},   // 6to4 relay anycast, deprecated (RFC 7526)
    {ipv4(192, 168, 0, 0), 16},   // private
    {ipv4(198, 18, 0, 0), 15},    // benchmarking (RFC 2544)
    {ipv4(198, 51, 100, 0), 24},  // documentation (TEST-NET-2)
    {ipv4(203, 0, 113, 0), 24},   // documentation (TEST-NET-3)
    {ipv4(224, 0, 0, 0), 4},      // multicast
    {ipv4(240, 0, 0, 0), 4},      // reserved, and 255.255.255.255
};

bool is_global_ipv4(std::uint32_t address) {
  // The registry marks these two anycast services globally reachable, unlike the rest of the
  // IETF protocol assignments block around them: PCP (RFC 7723) and TURN (RFC 8155).
  if (address == ipv4(192, 0, 0, 9) || address == ipv4(192, 0, 0, 10)) return true;
  return std::none_of(
      std::begin(kNonGlobalIpv4), std::end(kNonGlobalIpv4),
      [&](const Ipv4Block& block) { return in_block(address, block.prefix, block.bits); });
}

std::uint32_t ipv4_at(const std::uint8_t* bytes) {
  return ipv4(bytes[0], bytes[1], bytes[2], bytes[3]);
}

// An IPv6 prefix: the first `bits` bits of `bytes`.
struct Ipv6Block {
  std::uint8_t bytes[16];
  int bits;
};

bool in_block(const std::uint8_t (&a)[16], const Ipv6Block& block) {
  const int whole = block.bits / 8;
  if (!std::equal(a, a + whole, block.bytes)) return false;
  if (block.bits % 8 == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - block.bits % 8));
  return (a[whole] & mask) == block.bytes[whole];
}

// The blocks inside the IETF protocol assignments (2001::/23) that the IANA IPv6 registry marks
// globally reachable, though the block around them is not: services meant to be reached from
// anywhere.
constexpr Ipv6Block kGlobalIpv6Assignments[] = {
    // PCP, TURN and DNS-SD SRP anycast (RFC 7723, RFC 8155, RFC 9665)
    {{0x20, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}, 128},
    {{0x20, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}, 128},
    {{0x20, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03}, 128},
    {{0x20, 0x01, 0x00, 0x03}, 32},              // AMT relays (RFC 7450)
    {{0x20, 0x01, 0x00, 0x04, 0x01, 0x12}, 48},  // AS112-v6 (RFC 7534)
    {{0x20, 0x01, 0x00, 0x20}, 28},              // ORCHIDv2 (RFC 7343)
    {{0x20, 0x01, 0x00, 0x30}, 28},              // drone remote ID tags (RFC 9374)
};

bool is_global_ipv6(const std::uint8_t (&a)[16]) {
  const auto zeros = [&](int from, int to) {
    return std::all_of(a + from, a + to, [](std::uint8_t byte) { return byte == 0; });
  };
  // IPv4-mapped (::ffff:0:0/96): a dual-stack socket connects to the IPv4 address itself.
  if (zeros(0, 10) && a[10] == 0xff && a[11] == 0xff) return is_global_ipv4(ipv4_at(a + 12));
  // The NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) reaches the IPv4 address it embeds.
  if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && zeros(4, 12)) {
    return is_global_ipv4(ipv4_at(a + 12));
  }
  // 6to4 (2002::/16, RFC 3056) embeds the IPv4 address of its relay's far end.
  if (a[0] == 0x20 && a[1] == 0x02) return is_global_ipv4(ipv4_at(a + 2));
  // Global unicast is 2000::/3; the rest (loopback, unspecified, unique-local fc00::/7,
  // link-local fe80::/10, site-local fec0::/10, multicast ff00::/8, discard-only 100::/64,
  // local-use NAT64 64:ff9b:1::/48, segment-routing SIDs 5f00::/16) lies outside it.
  if ((a[0] & 0xe0) != 0x20) return false;
  // Special-purpose blocks inside 2000::/3: IETF protocol assignments 2001::/23 (Teredo,
  // benchmarking, the deprecated ORCHID among them) but for the services carved out of it,
  // documentation 2001:db8::/32 (RFC 3849) and 3fff::/20 (RFC 9637).
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] <= 0x01) {
    return std::any_of(std::begin(kGlobalIpv6Assignments), std::end(kGlobalIpv6Assignments),
                       [&](const Ipv6Block& block) { return in_block(a, block); });
  }
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) return false;
  if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0x00) return false;
  return true;
}

}  // namespace

std::optional<SocketAddress> SocketAddress::from_numeric(std::string_view host,
                                                         std::uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string text(host);
  // A link-local IPv6 address names its interface ("fe80::1%eth0"): inet_pton takes no zone.
  std::uint32_t scope = 0;
  if (const auto percent = text.find('%'); percent != std::string::npos) {
    scope = parse_scope(text.substr(percent + 1));
    if (scope == 0) return std::nullopt;
    text.resize(percent);
  }
  SocketAddress result;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&result.storage_);
  if (scope == 0 && inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    result.length_ = sizeof(sockaddr_in);
    return result;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&result.storage_);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    v6->sin6_scope_id = scope;
    result.length_ = sizeof(sockaddr_in6);
    return result;
  }
  return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::from_unix_path(std::string_view path) {
  SocketAddress result;
  auto* un = reinterpret_cast<sockaddr_un*>(&result.storage_);
  // An abstract name (leading NUL) is exactly its bytes, NULs included: a terminating NUL
  // counted in the length would be part of the name, which no other program would then match.
  const bool abstract = !path.empty() && path.front() == '\0';
  const std::size_t room = sizeof un->sun_path - (abstract ? 0 : 1);
  if (path.empty() || path.size() > room) return std::nullopt;
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  result.length_ =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return result;
}

std::uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
              sizeof text);
    return text;
  }
  if (family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    if (v6->sin6_scope_id == 0) return text;
    // The zone, without which a link-local address names no one host: by the interface's
    // name, as ip(8) and ss(8) show it, or by number when no interface has that index.
    std::string scoped = text;
    char name[IF_NAMESIZE] = {};
    scoped += '%';
    if (::if_indextoname(v6->sin6_scope_id, name) != nullptr) {
      scoped += name;
    } else {
      scoped += std::to_string(v6->sin6_scope_id);
    }
    return scoped;
  }
  if (family() == AF_UNIX && length_ > offsetof(sockaddr_un, sun_path)) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
    const std::size_t size = length_ - offsetof(sockaddr_un, sun_path);
    // An abstract name: "@name", as ss(8) and /proc/net/unix show it.
    if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, size - 1);
    return std::string(un->sun_path, strnlen(un->sun_path, size));
  }
  return {};
}

bool SocketAddress::is_abstract_unix() const noexcept {
  return family() == AF_UNIX && length_ > offsetof(sockaddr_un, sun_path) &&
         reinterpret_cast<const sockaddr_un*>(&storage_)->sun_path[0] == '\0';
}

bool SocketAddress::is_global() const noexcept {
  if (family() == AF_INET) {
    return is_global_ipv4(ntohl(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr));
  }
  if (family() == AF_INET6) {
    return is_global_ipv6(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr.s6_addr);
  }
  return false;
}

std::string SocketAddress::to_string() const {
  switch (family()) {
    case AF_INET:
      return host() + ":" + std::to_string(port());
    case AF_INET6: {
      // Appended rather than "[" + host() + ...: GCC 12 at -O3 reports a false -Wrestrict on
      // the operator+ chain (GCC bug 105329), which -Werror turns into a failed Release build.
      std::string text = "[";
      text += host();
      text += "]:";
      text += std::to_string(port());
      return text;
    }
    case AF_UNIX:
      return "unix:" + host();
    default:
      return "unspecified";
  }
}

}  // namespace sluice
