#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "sluice/channel/channel_options.hpp"
#include "sluice/channel/socket_address.hpp"
#include "sluice/core/event_loop.hpp"
#include "sluice/core/fd.hpp"
#include "sluice/core/future.hpp"
#include "sluice/core/loop_resource.hpp"
#include "sluice/core/ref_counted.hpp"
#include "sluice/core/result.hpp"
#include "sluice/core/scheduled_task.hpp"

namespace sluice {

// The file a Unix-domain listener's bind made, with its identity when made: the listener
// removes it as it closes, but only while the path still names that file, not one another
// server has bound there since.
struct SocketFile {
  std::string path;
  dev_t device = 0;
  ino_t inode = 0;
};

// A listening socket on one loop. Each wake-up accepts up to max_accepts_per_wakeup
// connections with accept4 (non-blocking, close-on-exec) and hands each to `on_accept`.
//
// Running out of file descriptors (EMFILE/ENFILE) must not make the level-triggered poll spin on
// a connection it can never accept: the listener keeps one spare descriptor, frees it to
// accept and at once close the waiting connection, and takes it back. Without a spare (taking
// it back failed), it stops watching for a moment, and takes the spare back once it can. Other
// accept4 failures that leave the connection queued (ENOBUFS, ENOMEM, EPERM) pause it too.
class Listener final : public RefCounted<Listener>, public LoopResource {
 public:
  using AcceptHandler = std::function<void(Fd fd, const SocketAddress& remote)>;

  // Loop thread only. Starts accepting at once; fails (closing `fd`) when the loop cannot
  // watch the socket.
  // `file`: the socket file to remove as the listener closes (or fails to start).
  static Result<Ref<Listener>> start(EventLoop& loop, Fd fd, const ListenOptions& options,
                                     AcceptHandler on_accept,
                                     std::optional<SocketFile> file = std::nullopt);

  EventLoop& loop() const noexcept { return *loop_; }
  const SocketAddress& local_address() const noexcept { return local_address_; }
  // Connections refused because the process was out of file descriptors.
  std::uint64_t refused_for_fds() const noexcept { return refused_for_fds_; }
  // Loop thread only: stops accepting, removes the socket file (if any) and closes the socket.
  // The socket closes in the poll handle's close callback, which libuv runs after this call has
  // returned, later in the loop's iteration (once it has stopped watching the socket).
  void close();
  bool is_open() const noexcept { return open_; }
  // Any thread. Completes (with success) once the listener has closed its socket and its spare
  // descriptor, and removed its socket file, whatever closed it: close(), an accept4 error, its
  // loop shutting down or stopping. Callbacks run on the listener's loop.
  [[nodiscard]] Future<void> close_future() const { return closed_.future(); }

 private:
  Listener(EventLoop& loop, Fd fd, const ListenOptions& options, AcceptHandler on_accept);
  ~Listener();
  friend class RefCounted<Listener>;

  int watch();  // 0, or the libuv error
  void accept_ready();
  void refuse_one();
  // Stops watching for a moment: for conditions accept4 can neither clear nor wait out.
  void pause();
  // Logs the accept4 failure `what` (errno `error`) that left a connection queued, then pauses.
  void pause_after(const char* what, int error);
  void on_stop_accepting() override { close(); }
  void on_close_gracefully() override { close(); }
  void on_close_now() override { close(); }

  EventLoop* loop_;
  Fd fd_;
  Fd spare_;  // an open /dev/null, given up to accept-and-close under EMFILE
  ListenOptions options_;
  AcceptHandler on_accept_;
  SocketAddress local_address_;
  std::optional<SocketFile> socket_file_;
  uv_poll_t poll_{};
  bool open_ = false;
  std::uint64_t refused_for_fds_ = 0;
  ScheduledTask resume_;  // watching again after a pause
  Ref<Listener> self_;    // held while open
  Promise<void> closed_;  // completed in the poll handle's close callback
};

}  // namespace sluice
