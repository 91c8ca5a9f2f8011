#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>

#include "sluice/channel/channel_options.hpp"
#include "sluice/channel/socket_address.hpp"
#include "sluice/core/fd.hpp"
#include "sluice/core/result.hpp"
#include "sluice/transport/listener.hpp"

namespace sluice::detail {

// Thin wrappers over the socket syscalls the transport issues; errors come back as Error
// values naming the call and the address.

Result<Fd> open_stream_socket(int family);
void apply_channel_options(int fd, int family, const ChannelOptions& options);
// A listening socket, and for a Unix-domain path the socket file its bind made.
struct ListeningSocket {
  Fd fd;
  std::optional<SocketFile> file;
};
// For a Unix-domain path: a socket file a server still listens on fails the bind with
// EADDRINUSE; a stale one (connect refused) is replaced; any other file is left alone.
Result<ListeningSocket> open_listener(const SocketAddress& address, const ListenOptions& options);
// Removes `file` if its path still names the same file.
void remove_socket_file(const SocketFile& file);
// The Unix-domain address for `path`, or the error `operation` ("bind", "connect") reports:
// an empty path is an invalid argument, one too long for sockaddr_un a name too long.
Result<SocketAddress> unix_address(const std::string& path, const char* operation);
SocketAddress local_address_of(int fd);
SocketAddress remote_address_of(int fd);
// The pending error of a socket (SO_ERROR), 0 if none.
int pending_error(int fd);
// Resolves a host for bind: numeric addresses directly, names (and "" / "localhost")
// through getaddrinfo (blocking; bind happens at start-up).
Result<SocketAddress> resolve_for_bind(const std::string& host, std::uint16_t port);

}  // namespace sluice::detail
