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
