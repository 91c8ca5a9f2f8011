#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace sluice::detail {

// The socket calls made once per read or write, issued as bare system calls. glibc's recv, send
// and sendmsg are thread-cancellation points: each call is bracketed by two bookkeeping calls,
// about 60 instructions under callgrind, a sixteenth of an echoed message's user-space cost.
// sluice never cancels a thread (pthread_cancel and C++ unwinding do not mix), so they buy
// nothing here. Sanitizer builds keep the libc calls: their interceptors check the buffers and
// model the synchronisation through the socket.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLUICE_LIBC_SOCKET_CALLS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SLUICE_LIBC_SOCKET_CALLS 1
#endif
#endif

inline ssize_t receive_bytes(int fd, void* data, std::size_t size) noexcept {
#ifdef SLUICE_LIBC_SOCKET_CALLS
  return ::recv(fd, data, size, 0);
#else
  return ::syscall(SYS_recvfrom, fd, data, size, 0, nullptr, nullptr);
#endif
}

inline ssize_t send_bytes(int fd, const void* data, std::size_t size, int flags) noexcept {
#ifdef SLUICE_LIBC_SOCKET_CALLS
  return ::send(fd, data, size, flags);
#else
  return ::syscall(SYS_sendto, fd, data, size, flags, nullptr, 0);
#endif
}

inline ssize_t send_message(int fd, const msghdr* message, int flags) noexcept {
#ifdef SLUICE_LIBC_SOCKET_CALLS
  return ::sendmsg(fd, message, flags);
#else
  return ::syscall(SYS_sendmsg, fd, message, flags);
#endif
}

}  // namespace sluice::detail
