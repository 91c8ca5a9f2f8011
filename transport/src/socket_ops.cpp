#include "socket_ops.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "sluice/core/log.hpp"

namespace sluice::detail {

Result<Fd> open_stream_socket(int family) {
  Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno(errno, "socket");
  return fd;
}

void apply_channel_options(int fd, int family, const ChannelOptions& options) {
  auto set = [fd](int level, int name, int value, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
      logger().debug("setsockopt {} on fd {}: {}", what, fd, std::strerror(errno));
    }
  };
  if (family != AF_UNIX) {
    set(IPPROTO_TCP, TCP_NODELAY, options.tcp_nodelay ? 1 : 0, "TCP_NODELAY");
    if (options.keep_alive) set(SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  }
  if (options.send_buffer > 0) set(SOL_SOCKET, SO_SNDBUF, options.send_buffer, "SO_SNDBUF");
  if (options.receive_buffer > 0) set(SOL_SOCKET, SO_RCVBUF, options.receive_buffer, "SO_RCVBUF");
}

namespace {

// Binds of one path that overlap (two servers started at once, in this process or others) could
// each find the same stale file: one unlinked the socket another had bound a moment before, and
// both ran, one of them unreachable without knowing it. Each holds an exclusive flock(2) on the
// path's directory from its probe until it listens, so the later one's probe meets a listener.
// The lock is best effort: a directory that cannot be opened for reading, or one held by some
// other process for longer than kPatience, leaves the bind as it was without it.
class SocketDirectoryLock {
 public:
  explicit SocketDirectoryLock(const std::string& socket_path) {
    const std::size_t slash = socket_path.rfind('/');
    const std::string directory = slash == std::string::npos ? "."
                                  : slash == 0               ? "/"
                                                             : socket_path.substr(0, slash);
    Fd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return;
    // Another server holds it for a few system calls: wait in short steps, not in the kernel,
    // so that a lock some other program keeps cannot hold the bind without bound.
    constexpr auto kStep = std::chrono::milliseconds(1);
    constexpr auto kPatience = std::chrono::seconds(1);
    for (auto waited = std::chrono::milliseconds(0); waited < kPatience; waited += kStep) {
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
        fd_ = std::move(fd);
        return;
      }
      if (errno != EWOULDBLOCK && errno != EINTR) break;
      std::this_thread::sleep_for(kStep);
    }
    logger().debug("bind {}: no lock on {}, binding without it", socket_path, directory);
  }
  // Closing the descriptor releases the lock.

 private:
  Fd fd_;
};

// A socket file at the address's path would make bind fail with EADDRINUSE. Only a stale one,
// whose server is gone, is removed: deleting one a server still listens on took its address
// from it (new connections came here, and it never knew).
Result<void> remove_stale_socket_file(const SocketAddress& address) {
  const std::string path = address.host();
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) return {};
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) return Error::from_errno(errno, "bind " + address.to_string() + ": socket");
  int rc;
  do {
    rc = ::connect(probe.get(), address.native(), address.length());
  } while (rc != 0 && errno == EINTR);
  // EAGAIN: a listener whose backlog is full, alive all the same.
  if (rc == 0 || errno == EAGAIN) {
    return Error(std::make_error_code(std::errc::address_in_use),
                 "bind " + address.to_string() + ": a server is listening there");
  }
  // Anything else (EPROTOTYPE: a datagram socket; EACCES) is left for bind to report.
  if (errno == ECONNREFUSED) ::unlink(path.c_str());
  return {};
}

}  // namespace

void remove_socket_file(const SocketFile& file) {
  struct stat info {};
  if (::lstat(file.path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode) &&
      info.st_dev == file.device && info.st_ino == file.inode) {
    ::unlink(file.path.c_str());
  }
}

Result<SocketAddress> unix_address(const std::string& path, const char* operation) {
  if (path.empty()) {
    return Error(std::make_error_code(std::errc::invalid_argument),
                 std::string(operation) + ": an empty Unix-domain socket path");
  }
  auto address = SocketAddress::from_unix_path(path);
  if (!address) {
    return Error(std::make_error_code(std::errc::filename_too_long),
                 std::string(operation) + " " + path);
  }
  return *address;
}

Result<ListeningSocket> open_listener(const SocketAddress& address, const ListenOptions& options) {
  auto opened = open_stream_socket(address.family());
  if (!opened) return std::move(opened).error();
  Fd fd = std::move(opened).value();
  const int one = 1;
  // A Unix-domain path names a file; an abstract name has none.
  const bool makes_file = address.family() == AF_UNIX && !address.is_abstract_unix();
  if (address.family() != AF_UNIX) {
    if (options.reuse_address) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // libuv 1.44 has no UV_TCP_REUSEPORT: the option is set on the fd directly.
    if (options.reuse_port &&
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      return Error::from_errno(errno, "setsockopt SO_REUSEPORT");
    }
    if (address.family() == AF_INET6) {
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
  }
  std::optional<SocketDirectoryLock> directory_lock;
  if (makes_file) {
    directory_lock.emplace(address.host());
    if (auto cleared = remove_stale_socket_file(address); !cleared) {
      return std::move(cleared).error();
    }
  }
  if (::bind(fd.get(), address.native(), address.length()) != 0) {
    return Error::from_errno(errno, "bind " + address.to_string());
  }
  std::optional<SocketFile> file;
  if (makes_file) {
    struct stat info {};
    const std::string path = address.host();
    if (::lstat(path.c_str(), &info) == 0) file = SocketFile{path, info.st_dev, info.st_ino};
  }
  if (::listen(fd.get(), options.backlog) != 0) {
    const int error = errno;
    if (file) remove_socket_file(*file);
    return Error::from_errno(error, "listen " + address.to_string());
  }
  return ListeningSocket{std::move(fd), std::move(file)};
}

SocketAddress local_address_of(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
  return SocketAddress(reinterpret_cast<sockaddr*>(&storage), length);
}

SocketAddress remote_address_of(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
  return SocketAddress(reinterpret_cast<sockaddr*>(&storage), length);
}

int pending_error(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

Result<SocketAddress> resolve_for_bind(const std::string& host, std::uint16_t port) {
  if (auto numeric = SocketAddress::from_numeric(host.empty() ? "0.0.0.0" : host, port)) {
    return *numeric;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Error(std::make_error_code(std::errc::address_not_available),
                 "resolve " + host + ": " + gai_strerror(rc));
  }
  SocketAddress address(found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  return address;
}

}  // namespace sluice::detail
