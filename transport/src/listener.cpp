#include "sluice/transport/listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "sluice/core/log.hpp"
#include "socket_ops.hpp"

namespace sluice {
namespace {

// How long a listener that can neither accept nor refuse (out of descriptors with no spare, or
// accept4 failing for want of kernel memory) stops watching: long enough that waiting costs
// nothing measurable, short enough that accepting resumes soon after the condition clears.
constexpr std::chrono::milliseconds kAcceptPause{100};

}  // namespace

Listener::Listener(EventLoop& loop, Fd fd, const ListenOptions& options, AcceptHandler on_accept)
    : loop_(&loop),
      fd_(std::move(fd)),
      spare_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      options_(options),
      on_accept_(std::move(on_accept)),
      local_address_(detail::local_address_of(fd_.get())),
      closed_(&loop) {}

Listener::~Listener() = default;

Result<Ref<Listener>> Listener::start(EventLoop& loop, Fd fd, const ListenOptions& options,
                                      AcceptHandler on_accept, std::optional<SocketFile> file) {
  Ref<Listener> listener(new Listener(loop, std::move(fd), options, std::move(on_accept)));
  listener->socket_file_ = std::move(file);
  const std::string where = "listen " + listener->local_address_.to_string();
  if (int rc = uv_poll_init_socket(loop.native(), &listener->poll_, listener->fd_.get()); rc != 0) {
    // No handle was made: dropping the listener closes the socket.
    if (listener->socket_file_) detail::remove_socket_file(*listener->socket_file_);
    return Error::from_errno(-rc, where + ": uv_poll_init_socket");
  }
  listener->poll_.data = listener.get();
  listener->open_ = true;
  listener->self_ = listener;
  intrusive_ptr_add_ref(listener.get());  // held by the poll handle until its close callback
  loop.register_resource(*listener);
  if (int rc = listener->watch(); rc != 0) {
    listener->close();  // the socket closes in the handle's close callback
    return Error::from_errno(-rc, where + ": uv_poll_start");
  }
  return listener;
}

int Listener::watch() {
  return uv_poll_start(&poll_, UV_READABLE, [](uv_poll_t* handle, int status, int) {
    auto* self = static_cast<Listener*>(handle->data);
    if (status < 0) {
      logger().error("listener {}: poll: {}", self->local_address_.to_string(),
                     uv_strerror(status));
      self->close();
      return;
    }
    self->accept_ready();
  });
}

void Listener::accept_ready() {
  // Taking the spare back fails when another thread took the descriptor it freed, or when the
  // listener started out of descriptors; without it, the next EMFILE could not be refused.
  if (!spare_) spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  for (unsigned i = 0; i < options_.max_accepts_per_wakeup && open_; ++i) {
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    const int accepted = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (accepted >= 0) {
      loop_->count_accepted();
      on_accept_(Fd(accepted), SocketAddress(reinterpret_cast<sockaddr*>(&peer), length));
      continue;
    }
    switch (errno) {
      case EAGAIN:
        return;
      case EINTR:
      case ECONNABORTED:  // the peer gave up while queued
      case EPROTO:
        continue;
      case EMFILE:
      case ENFILE: {
        // accept4 takes a descriptor before it looks for a connection, so EMFILE comes back
        // with an empty queue too: only a refusal that found a connection keeps the loop going.
        const std::uint64_t refused_before = refused_for_fds_;
        refuse_one();
        if (refused_for_fds_ == refused_before) return;
        continue;
      }
      case EINVAL:
        // The socket no longer listens (shut down under the listener, or never listened): it
        // hangs up, so the level-triggered poll would fire again at once, for ever.
      case EBADF:
      case ENOTSOCK:
      case EOPNOTSUPP:
        // Not a listening stream socket at all: no pause would ever let an accept succeed.
        logger().error("listener {}: accept4: {}; closing", local_address_.to_string(),
                       std::strerror(errno));
        close();
        return;
      default:
        // ENOBUFS, ENOMEM, EPERM (a firewall rule), ...: the connection stays queued, so the
        // level-triggered poll would fire again at once, spinning the loop and logging each
        // time, for as long as the condition lasts.
        pause_after("accept4", errno);
        return;
    }
  }
}

void Listener::pause() {
  uv_poll_stop(&poll_);
  resume_ = loop_->schedule(kAcceptPause, [self = Ref<Listener>(this)] {
    if (!self->open_) return;
    // Left unwatched, the listener would stay open and never accept again.
    if (const int rc = self->watch(); rc != 0) {
      logger().error("listener {}: uv_poll_start: {}; closing", self->local_address_.to_string(),
                     uv_strerror(rc));
      self->close();
    }
  });
}

void Listener::pause_after(const char* what, int error) {
  logger().error("listener {}: {}: {}; pausing for {} ms", local_address_.to_string(), what,
                 std::strerror(error), kAcceptPause.count());
  pause();
}

void Listener::refuse_one() {
  if (!spare_) {
    // Nothing to accept the waiting connection with, so nothing to refuse it with either: the
    // level-triggered poll would fire again at once and spin the loop until a descriptor is
    // freed. Stop watching for a while instead.
    pause();
    return;
  }
  spare_.reset();
  Fd doomed(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  const bool refused = static_cast<bool>(doomed);
  const int error = refused ? 0 : errno;
  doomed.reset();
  spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!refused) {
    switch (error) {
      case EAGAIN:  // nobody was waiting
      case EINTR:
      case ECONNABORTED:  // the one waiting gave up: the poll reports any other
      case EPROTO:
        return;
      default:
        // ENOBUFS, ENOMEM, EPERM, EMFILE (another thread took the freed descriptor), ...: the
        // connection stays queued, so the level-triggered poll would fire again at once and
        // the next accept4 fail with EMFILE again, spinning the loop as long as both last.
        pause_after("accept4 refusing a connection", error);
        return;
    }
  }
  if (refused_for_fds_++ % 1000 == 0) {
    logger().warn("listener {}: out of file descriptors; refused {} connection(s) so far",
                  local_address_.to_string(), refused_for_fds_);
  }
}

void Listener::close() {
  if (!open_) return;
  open_ = false;
  resume_.cancel();
  loop_->unregister_resource(*this);
  if (socket_file_) detail::remove_socket_file(*socket_file_);
  socket_file_.reset();
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), [](uv_handle_t* handle) {
    auto* self = static_cast<Listener*>(handle->data);
    self->fd_.reset();
    self->spare_.reset();  // a Server kept after its close must not hold a descriptor
    self->closed_.set_value();
    intrusive_ptr_release(self);
  });
  self_.reset();
}

}  // namespace sluice
