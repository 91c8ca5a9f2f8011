#include "sluice/transport/stream_channel.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "direct_syscalls.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/core/log.hpp"

#include "socket_ops.hpp"

namespace sluice {
namespace {

// Linux moves at most this much per sendfile/sendmsg call anyway.
constexpr std::size_t kMaxBytesPerCall = 0x7ffff000;
constexpr std::size_t kMaxIovecs = IOV_MAX;
// One sendfile call of a large file to a fast reader can run for hundreds of milliseconds,
// holding up every other channel of the loop: each call moves at most this much.
constexpr std::size_t kMaxFileBytesPerCall = 2 * 1024 * 1024;
// A FileRegion at least this large is sent corked (TCP_CORK), then uncorked as it completes.
constexpr std::uint64_t kCorkFilesFrom = 1024 * 1024;
// The pipe a channel splices through: 1 MiB, the default fs.pipe-max-size.
constexpr std::size_t kSplicePipeSize = 1024 * 1024;

}  // namespace

StreamChannel::StreamChannel(EventLoop& loop, Fd fd, const ChannelOptions& options)
    : Channel(loop, options), fd_(std::move(fd)), sizer_(options.receive_sizing) {}

StreamChannel::~StreamChannel() = default;

Ref<StreamChannel> StreamChannel::accepted(EventLoop& loop, Fd fd, const ChannelOptions& options,
                                           const ChannelInitializer& initializer,
                                           const SocketAddress& remote) {
  const int family = remote.empty() ? AF_INET : remote.family();
  detail::apply_channel_options(fd.get(), family, options);
  Ref<StreamChannel> channel(new StreamChannel(loop, std::move(fd), options));
  channel->register_with_loop();
  channel->activate(initializer, remote);
  return channel;
}

void StreamChannel::connecting(EventLoop& loop, Fd fd, const ChannelOptions& options,
                               ChannelInitializer initializer, SocketAddress remote,
                               std::function<void(Result<Ref<Channel>>)> connected) {
  detail::apply_channel_options(fd.get(), remote.family(), options);
  Ref<StreamChannel> channel(new StreamChannel(loop, std::move(fd), options));
  channel->connecting_ = true;
  channel->connect_.reset(new PendingConnect{std::move(initializer), remote, Error(),
                                             std::move(connected), ScheduledTask()});
  channel->register_with_loop();
  if (!channel->start_polling()) return;
  channel->connect_->timeout = loop.schedule(options.connect_timeout, [channel] {
    if (channel->connecting_) {
      channel->close_with(
          Error(ChannelErrc::connect_timeout, "connect " + channel->connect_->remote.to_string()));
    }
  });
}

bool StreamChannel::activate(const ChannelInitializer& initializer, const SocketAddress& remote) {
  try {
    if (initializer) initializer(*this);
  } catch (...) {
    const Error error = error_from_exception(std::current_exception());
    logger().error("{} initializer threw: {}", describe(), error.message());
    if (connect_) connect_->initializer_error = error;  // what the future reports, not "closed"
    close_with(error);
    return false;
  }
  // An initializer may close the channel. On the connect path the poll handle is closing by
  // then: initialising it again would corrupt libuv's handle lists.
  if (!is_open()) return false;
  if (!polling_ && !start_polling()) return false;
  become_active(detail::local_address_of(fd_.get()),
                remote.empty() ? detail::remote_address_of(fd_.get()) : remote);
  update_interest();
  return true;
}

bool StreamChannel::start_polling() {
  if (int rc = uv_poll_init_socket(loop().native(), &poll_, fd_.get()); rc != 0) {
    close_with(Error::from_errno(-rc, "uv_poll_init_socket"));
    return false;
  }
  poll_.data = this;
  intrusive_ptr_add_ref(this);  // the open handle holds the channel until its close callback
  polling_ = true;
  update_interest();
  return true;
}

void StreamChannel::update_interest() {
  if (!polling_) return;
  int events = 0;
  if (connecting_) {
    events = UV_WRITABLE;
  } else {
    if (!input_shutdown_ && (auto_read() || read_requested_)) events |= UV_READABLE;
    if (want_write_) events |= UV_WRITABLE;
  }
  // libuv polls level-triggered: interest changes only when it must, so steady traffic makes
  // no epoll_ctl calls.
  if (events == armed_events_) return;
  armed_events_ = events;
  if (events == 0) {
    uv_poll_stop(&poll_);
    return;
  }
  uv_poll_start(&poll_, events, [](uv_poll_t* handle, int status, int ready) {
    static_cast<StreamChannel*>(handle->data)->on_poll(status, ready);
  });
}

void StreamChannel::set_write_interest(bool wanted) {
  if (want_write_ == wanted) return;
  want_write_ = wanted;
  update_interest();
}

std::uint64_t StreamChannel::bytes_delivered() const noexcept {
  int queued = 0;
  // A closed channel's socket has gone with its queue: what it wrote is all there is to say.
  if (!fd_ || ::ioctl(fd_.get(), SIOCOUTQ, &queued) != 0 || queued < 0) return bytes_written();
  return bytes_written() - std::min<std::uint64_t>(bytes_written(), queued);
}

void StreamChannel::on_poll(int status, int events) {
  if (output_failed_) {
    // A refused write closes the channel at the end of this iteration, with its error: the
    // write took the socket's pending error, so a POLLERR now would find none and report EIO.
    if (status < 0) armed_events_ = 0;  // libuv stopped the watcher
    return;
  }
  if (status < 0) {
    // libuv stopped the watcher (POLLERR) and names every such error UV_EBADF; the socket's
    // own error says what happened. With none pending, the POLLERR came from entries on the
    // socket's error queue (transmit timestamps, zero-copy notices asked for on its
    // descriptor), which the transport does not read: watched again, it would fire at once.
    armed_events_ = 0;
    const int pending = detail::pending_error(fd_.get());
    const int error = pending != 0 ? pending : EIO;
    const char* what = pending != 0 ? "poll" : "poll: an error reported with none pending";
    if (connecting_) {
      close_with(Error::from_errno(error, "connect " + connect_->remote.to_string()));
    } else {
      fail(error, what);
    }
    return;
  }
  if (connecting_) {
    finish_connect();
    return;
  }
  if (events & UV_WRITABLE) write_flushed();
  if ((events & UV_READABLE) && is_open()) read_batch();
}

void StreamChannel::finish_connect() {
  if (const int error = detail::pending_error(fd_.get()); error != 0) {
    close_with(Error::from_errno(error, "connect " + connect_->remote.to_string()));
    return;
  }
  connecting_ = false;
  connect_->timeout.cancel();
  auto connected = std::move(connect_->on_connected);
  connect_->on_connected = nullptr;
  const bool activated = activate(connect_->initializer, connect_->remote);
  const Error initializer_error = std::move(connect_->initializer_error);
  connect_.reset();
  if (!connected) return;
  // Once on_active has run, the connect succeeded even if a handler closed the channel from it
  // or its first flush met a reset: failing it would make Bootstrap try the next address and
  // connect (and run the handlers) a second time.
  if (activated) {
    connected(Ref<Channel>(this));
  } else if (initializer_error) {
    connected(initializer_error);
  } else {
    connected(Error(ChannelErrc::closed, "closed while connecting"));
  }
}

void StreamChannel::read_batch() {
  // With auto_read off, one read() asks for one batch. The request is taken before the batch's
  // events run, so a read() asked for from them (a decoder that wants more bytes, in
  // on_read_complete) is kept for the next batch instead of being absorbed into this one.
  const bool requested = read_requested_;
  read_requested_ = false;
  bool read_any = false;
  bool end_of_input = false;
  for (unsigned budget = options().max_messages_per_read; budget != 0;) {
    Buffer buffer = Buffer::allocate(sizer_.next());
    const std::span<std::byte> room = buffer.writable_span();
    const ssize_t received = detail::receive_bytes(fd_.get(), room.data(), room.size());
    if (received > 0) {
      const auto bytes = static_cast<std::size_t>(received);
      buffer.advance_writer(bytes);
      loop().count_read(bytes);
      sizer_.record(bytes, room.size());
      read_any = true;
      pipeline().fire_read(std::move(buffer));
      // A read that did not fill its buffer drained the socket: another recv would only
      // return EAGAIN. A handler that turned auto-read off wants no more reads now.
      if (bytes < room.size() || !is_open() || (!auto_read() && !requested)) break;
      --budget;
      continue;
    }
    if (received == 0) {
      end_of_input = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    const int error = errno;
    if (read_any && is_open()) pipeline().fire_read_complete();
    fail(error, "recv");
    return;
  }
  // A wake-up that found nothing to read has not served the request.
  if (requested && !read_any && !end_of_input) read_requested_ = true;
  // A handler that closed the channel in on_read has seen on_inactive: nothing comes after it.
  if (read_any && is_open()) pipeline().fire_read_complete();
  if (end_of_input && is_open()) on_end_of_input();
  // No read asked for any more: stop polling for input until the next read().
  if (!auto_read() && !read_requested_ && is_open()) update_interest();
}

void StreamChannel::on_end_of_input() {
  input_shutdown_ = true;
  if (!options().allow_half_closure) {
    close_with(Error(ChannelErrc::closed, "the peer closed the connection"));
    return;
  }
  update_interest();
  pipeline().fire_user_event(ChannelInputShutdown{});
  if (output_shutdown_ && is_open()) close_with(Error(ChannelErrc::closed));
}

void StreamChannel::do_write(Message&& message, WriteCallback&& done) {
  if (output_shutdown_ || shutdown_after_flush_) {
    complete_write(done, Error(ChannelErrc::output_shutdown, describe()));
    return;
  }
  Channel::do_write(std::move(message), std::move(done));
}

void StreamChannel::do_flush() {
  // After shutdown_output() nothing more joins what goes out before FIN: what was unflushed
  // then fails with the shutdown, whether or not flushed bytes delayed it.
  if (!shutdown_after_flush_) outbound_.mark_flushed();
  // While waiting for the socket to drain, writing now would only return EAGAIN.
  if (!want_write_) {
    // Restored, not cleared: a write callback may flush from inside a poll's write.
    const bool outer = std::exchange(flushing_for_pipeline_, true);
    write_flushed();
    flushing_for_pipeline_ = outer;
  }
}

void StreamChannel::write_flushed() {
  if (writing_ || !is_open() || output_failed_) return;
  writing_ = true;
  for (unsigned spin = options().write_spin_count; spin != 0 && outbound_.has_flushed(); --spin) {
    const WriteResult result =
        outbound_.front().message.is<FileRegion>() ? write_file() : write_gathered();
    if (result == WriteResult::kFailed) {
      writing_ = false;
      return;
    }
    if (result == WriteResult::kSocketFull) break;
  }
  writing_ = false;
  if (!is_open()) return;
  // Still flushed bytes: the socket is full (or the spin budget ran out); the poll calls back
  // when there is room.
  set_write_interest(outbound_.has_flushed());
  if (!outbound_.has_flushed()) {
    if (shutdown_after_flush_) shutdown_output_now();
    if (close_requested_when_flushed() && is_open()) close_with(Error(ChannelErrc::closed));
  }
}

StreamChannel::WriteResult StreamChannel::write_gathered() {
  iovec iov[kMaxIovecs];
  const OutboundBuffer::Gathered gathered = outbound_.gather(iov, kMaxBytesPerCall);
  if (gathered.iovecs == 0) {
    outbound_.complete_front();  // an empty message: nothing to send
    return WriteResult::kDone;
  }
  // A response head followed by its file body: MSG_MORE lets the head share the body's first
  // segment instead of leaving as a packet of its own. It holds back this call only; the
  // sendfile or splice that follows at once pushes everything out, so nothing stalls (unlike a
  // TCP_CORK left set between responses).
  const int flags = MSG_NOSIGNAL | (gathered.file_follows ? MSG_MORE : 0);
  ssize_t sent;
  do {
    if (gathered.iovecs == 1) {
      sent = detail::send_bytes(fd_.get(), iov[0].iov_base, iov[0].iov_len, flags);
    } else {
      msghdr header{};
      header.msg_iov = iov;
      header.msg_iovlen = gathered.iovecs;
      sent = detail::send_message(fd_.get(), &header, flags);
    }
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return WriteResult::kSocketFull;
    if (errno == EFAULT) {
      // Only a buffer mapped from a file can fault here: the file shrank under it.
      fail_output(Error(ChannelErrc::file_truncated, "a file mapped into a buffer shrank"));
      return WriteResult::kFailed;
    }
    fail_output(Error::from_errno(errno, "sendmsg"));
    return WriteResult::kFailed;
  }
  const auto bytes = static_cast<std::size_t>(sent);
  loop().count_written(bytes);
  add_written(bytes);
  outbound_.consume(bytes);
  return bytes < gathered.bytes ? WriteResult::kSocketFull : WriteResult::kDone;
}

StreamChannel::WriteResult StreamChannel::write_file() {
  FileRegion& region = outbound_.front().message.as<FileRegion>();
  if (region.remaining() == 0) {
    outbound_.complete_front();
    return WriteResult::kDone;
  }
  if (!corked_ && !cork_refused_ && region.remaining() >= kCorkFilesFrom) {
    // Each call that fills the socket would otherwise push a partial segment (TCP_NODELAY);
    // corked, only full segments leave until the region's end. Measured on 1 GiB downloads
    // with sendfile: about 9% less server CPU per GiB. Small regions skip the two
    // setsockopt calls: MSG_MORE on the head already joins it to the body.
    const int on = 1;
    corked_ = ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0;
    cork_refused_ = !corked_;
  }
  if (region.transfer() == FileTransfer::kSplice && !splice_without_pipe_) {
    return write_spliced(region);
  }
  return write_sendfile(region);
}

StreamChannel::WriteResult StreamChannel::write_sendfile(FileRegion& region) {
  const std::size_t chunk =
      static_cast<std::size_t>(std::min<std::uint64_t>(region.remaining(), kMaxFileBytesPerCall));
  auto offset = static_cast<off_t>(region.position());
  ssize_t sent;
  do {
    sent = ::sendfile(fd_.get(), region.fd(), &offset, chunk);
  } while (sent < 0 && errno == EINTR);
  if (sent > 0) {
    const auto bytes = static_cast<std::size_t>(sent);
    if (advance_file(region, bytes)) return WriteResult::kDone;
    return bytes < chunk ? WriteResult::kSocketFull : WriteResult::kDone;
  }
  if (sent == 0) {
    // sendfile returns 0 at the end of the file: it shrank under the region.
    fail_truncated(region, region.position());
    return WriteResult::kFailed;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return WriteResult::kSocketFull;
  fail_output(Error::from_errno(errno, "sendfile"));
  return WriteResult::kFailed;
}

bool StreamChannel::advance_file(FileRegion& region, std::size_t bytes) {
  region.advance(bytes);
  loop().count_written(bytes);
  add_written(bytes);
  if (region.remaining() != 0) {
    outbound_.progress_front(bytes);
    return false;
  }
  if (corked_) {
    // The region's last partial segment leaves now, not after the kernel's 200 ms cork timer.
    const int off = 0;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    corked_ = false;
  }
  splice_without_pipe_ = false;
  outbound_.complete_front();
  return true;
}

void StreamChannel::fail_truncated(const FileRegion& region, std::uint64_t end) {
  const Error error(ChannelErrc::file_truncated,
                    fmt::format("{} ends at {}, before its region's end at {}",
                                region.file().path(), end, region.offset() + region.count()));
  fail_output(error);
}

void StreamChannel::fail_output(const Error& error) {
  if (flushing_for_pipeline_ && is_open()) {
    // The flush came from a handler, perhaps another channel's (a broadcast), which may hold
    // locks that this channel's handlers, or the writers' callbacks, take: the pending writes
    // fail (and the bytes they release may change writability), the handlers hear of it, and
    // the channel closes once that call has returned, as from the poll. Until then nothing
    // more is written.
    output_failed_ = true;
    loop().defer([self = Ref<StreamChannel>(this), error] {
      self->outbound_.fail_all(error);
      // A write callback may have closed the channel: nothing reaches handlers after inactive.
      if (self->is_open()) self->pipeline().fire_error(error);
      self->close_with(error);
    });
    return;
  }
  outbound_.fail_all(error);
  if (is_open()) pipeline().fire_error(error);
  close_with(error);
}

StreamChannel::WriteResult StreamChannel::write_spliced(FileRegion& region) {
  if (!pipe_write_) {
    int ends[2];
    if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) {
      // EMFILE, ENFILE: no pipe to splice through, but sendfile needs none and moves the same
      // bytes, so this region goes that way; the next one tries for a pipe again.
      logger().debug("{}: pipe2: {}; sending the file region with sendfile", describe(),
                     std::strerror(errno));
      splice_without_pipe_ = true;
      return write_sendfile(region);
    }
    pipe_read_.reset(ends[0]);
    pipe_write_.reset(ends[1]);
    // A larger pipe moves more per pair of calls; the kernel caps it (fs.pipe-max-size).
    ::fcntl(ends[1], F_SETPIPE_SZ, static_cast<int>(kSplicePipeSize));
    const int size = ::fcntl(ends[1], F_GETPIPE_SZ);
    pipe_capacity_ = size > 0 ? static_cast<std::size_t>(size) : 65536;
  }
  // Fill the pipe from the file, from where the bytes already in it end.
  const std::uint64_t unread = region.remaining() - pipe_pending_;
  if (unread != 0 && pipe_pending_ < pipe_capacity_) {
    auto offset = static_cast<loff_t>(region.position() + pipe_pending_);
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(unread, pipe_capacity_ - pipe_pending_));
    ssize_t filled;
    do {
      filled = ::splice(region.fd(), &offset, pipe_write_.get(), nullptr, want,
                        SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (filled < 0 && errno == EINTR);
    if (filled == 0) {
      fail_truncated(region, static_cast<std::uint64_t>(offset));
      return WriteResult::kFailed;
    }
    // EAGAIN means the pipe is full. With none of this region's bytes in it, the socket has
    // nothing to take, stays writable, and waiting for it would spin the loop.
    if (filled < 0 && (errno != EAGAIN || pipe_pending_ == 0)) {
      fail_output(Error::from_errno(errno, "splice from file"));
      return WriteResult::kFailed;
    }
    if (filled > 0) pipe_pending_ += static_cast<std::size_t>(filled);
  }
  // Drain the pipe into the socket.
  ssize_t sent;
  do {
    sent = ::splice(pipe_read_.get(), nullptr, fd_.get(), nullptr, pipe_pending_,
                    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return WriteResult::kSocketFull;
    fail_output(Error::from_errno(errno, "splice to socket"));
    return WriteResult::kFailed;
  }
  const auto bytes = static_cast<std::size_t>(sent);
  pipe_pending_ -= bytes;
  if (advance_file(region, bytes)) return WriteResult::kDone;
  return pipe_pending_ != 0 ? WriteResult::kSocketFull : WriteResult::kDone;
}

void StreamChannel::do_read() {
  if (auto_read() || read_requested_ || !is_open()) return;
  read_requested_ = true;
  update_interest();
}

void StreamChannel::do_close() {
  if (connecting_) {
    // Only its loop reaches a channel still connecting (the pipeline is set up once it is
    // connected), to close it as it shuts down: the connect is cancelled, not refused, and the
    // bootstrap must not take it as a cue to connect to the name's next address.
    close_with(Error(std::make_error_code(std::errc::operation_canceled),
                     "connect " + connect_->remote.to_string() + ": the event loop is stopping"));
    return;
  }
  close_with(Error(ChannelErrc::closed));
}

void StreamChannel::do_shutdown_output() {
  // After a refused write the close with its error is on its way: the socket, reset or shut by
  // then, would only refuse the shutdown too (ENOTCONN), and that error would reach the
  // handlers in place of the write's, on the caller's stack.
  if (!is_open() || output_shutdown_ || shutdown_after_flush_ || output_failed_) return;
  if (outbound_.has_flushed()) {
    shutdown_after_flush_ = true;  // FIN goes after what was flushed before it
    return;
  }
  shutdown_output_now();
}

void StreamChannel::shutdown_output_now() {
  shutdown_after_flush_ = false;
  if (::shutdown(fd_.get(), SHUT_WR) != 0) {
    // A reset from the peer leaves the socket unconnected, so shutdown says only ENOTCONN; the
    // reset itself is still pending (SO_ERROR) and is the reason worth reporting.
    int error = errno;
    if (error == ENOTCONN) {
      if (const int pending = detail::pending_error(fd_.get()); pending != 0) error = pending;
    }
    fail(error, "shutdown");
    return;
  }
  output_shutdown_ = true;
  outbound_.fail_all(Error(ChannelErrc::output_shutdown, describe()));
  // A failed write's callback may have closed the channel: no event after on_inactive.
  if (!is_open()) return;
  pipeline().fire_user_event(ChannelOutputShutdown{});
  if (input_shutdown_ && is_open()) close_with(Error(ChannelErrc::closed));
}

void StreamChannel::fail(int error_number, const char* operation) {
  const Error error = Error::from_errno(error_number, operation);
  // Pending writes learn the real reason, then the handlers, then the channel closes.
  outbound_.fail_all(error);
  if (is_open()) pipeline().fire_error(error);
  close_with(error);
}

void StreamChannel::close_with(const Error& reason) {
  if (!is_open()) return;
  mark_closed();
  if (connect_) connect_->timeout.cancel();
  if (polling_) {
    polling_ = false;
    armed_events_ = 0;
    uv_poll_stop(&poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), [](uv_handle_t* handle) {
      auto* self = static_cast<StreamChannel*>(handle->data);
      self->fd_.reset();  // libuv no longer watches it
      intrusive_ptr_release(self);
    });
  } else {
    fd_.reset();
  }
  pipe_read_.reset();
  pipe_write_.reset();
  pipe_pending_ = 0;
  finish_close(reason);
  if (connect_ && connect_->on_connected) {
    auto connected = std::move(connect_->on_connected);
    connect_->on_connected = nullptr;
    connected(reason);
  }
}

}  // namespace sluice
