#pragma once

#include <uv.h>

#include <functional>

#include "sluice/channel/channel.hpp"
#include "sluice/core/fd.hpp"
#include "sluice/core/scheduled_task.hpp"
#include "sluice/transport/detail/receive_sizer.hpp"

namespace sluice {

// Sets up a new channel's pipeline, on its loop, before it becomes active.
using ChannelInitializer = std::function<void(Channel&)>;

// A TCP (IPv4, IPv6) or Unix-domain stream connection. The socket is a raw non-blocking fd
// watched by one uv_poll_t; the channel issues its syscalls itself:
//
//   read   up to max_messages_per_read recv() calls per wake-up, each into a pooled buffer
//          sized by the adaptive ReceiveSizer; each fires on_read, the batch one
//          on_read_complete. A short read ends the batch (the socket is drained).
//   write  flush() sends every flushed buffer with ONE sendmsg (up to IOV_MAX iovecs, a
//          CompositeBuffer giving one per component) and each FileRegion with sendfile, in
//          order, up to write_spin_count calls; UV_WRITABLE is armed only while flushed bytes
//          wait for room in the socket. A FileRegion asking for FileTransfer::kSplice goes
//          file -> pipe -> socket with splice(2) instead.
//   errors ECONNRESET, EPIPE and poll errors (read from SO_ERROR) fire on_error, then close.
//
// Made by ServerBootstrap (accepted) and Bootstrap (connected); all calls on its loop.
class StreamChannel final : public Channel {
 public:
  // Adopts an accepted socket: runs `initializer`, starts polling and fires active. Loop
  // thread only.
  static Ref<StreamChannel> accepted(EventLoop& loop, Fd fd, const ChannelOptions& options,
                                     const ChannelInitializer& initializer,
                                     const SocketAddress& remote);
  // Adopts a socket whose non-blocking connect() is in progress. When it completes, runs the
  // initializer, fires active and calls `connected` with the channel (closed already, if a
  // handler closed it from on_active or its first write failed); on failure, after
  // options.connect_timeout, or if the initializer closes it, closes and calls `connected`
  // with the error. Closed by its loop (shutting down or stopping) before the connect
  // completed, the error is std::errc::operation_canceled. Loop thread only.
  static void connecting(EventLoop& loop, Fd fd, const ChannelOptions& options,
                         ChannelInitializer initializer, SocketAddress remote,
                         std::function<void(Result<Ref<Channel>>)> connected);

  int fd() const noexcept { return fd_.get(); }
  // bytes_written() less the socket's send queue (SIOCOUTQ).
  std::uint64_t bytes_delivered() const noexcept override;

 private:
  enum class WriteResult { kDone, kSocketFull, kFailed };

  StreamChannel(EventLoop& loop, Fd fd, const ChannelOptions& options);
  ~StreamChannel() override;

  bool start_polling();
  // Runs the initializer and fires active; false if the channel closed before that.
  bool activate(const ChannelInitializer& initializer, const SocketAddress& remote);
  void on_poll(int status, int events);
  void finish_connect();
  void read_batch();
  void on_end_of_input();
  void write_flushed();
  WriteResult write_gathered();
  WriteResult write_file();
  WriteResult write_sendfile(FileRegion& region);
  WriteResult write_spliced(FileRegion& region);
  // `bytes` of the front FileRegion went out: counts them, and when that was the last of it,
  // uncorks the socket (if it was corked for the region) and completes it. True if completed.
  bool advance_file(FileRegion& region, std::size_t bytes);
  void fail_truncated(const FileRegion& region, std::uint64_t end);
  // A write the socket or the file refused: fails the pending writes, then the handlers hear
  // of it and the channel closes.
  void fail_output(const Error& error);
  void shutdown_output_now();
  void set_write_interest(bool wanted);
  void update_interest();
  void fail(int error_number, const char* operation);
  void close_with(const Error& reason);

  void do_write(Message&& message, WriteCallback&& done) override;
  void do_flush() override;
  void do_read() override;
  void do_close() override;
  void do_shutdown_output() override;
  void do_auto_read_changed() override { update_interest(); }

  // What every wake-up reads comes first, next to the poll handle's own fields, so that a
  // read-and-echo touches as few cache lines of the channel as it can.
  Fd fd_;
  int armed_events_ = 0;
  detail::ReceiveSizer sizer_;
  bool polling_ = false;
  bool connecting_ = false;
  bool read_requested_ = false;
  bool want_write_ = false;
  bool writing_ = false;
  bool flushing_for_pipeline_ = false;  // write_flushed() called from a flush, not the poll
  bool output_failed_ = false;          // fail_output() has its handlers' part still to run
  bool input_shutdown_ = false;
  bool output_shutdown_ = false;
  bool shutdown_after_flush_ = false;
  bool corked_ = false;               // TCP_CORK set for the large FileRegion being sent
  bool cork_refused_ = false;         // not TCP (a Unix-domain socket): do not ask again
  bool splice_without_pipe_ = false;  // no pipe could be made: the front region goes by sendfile
  uv_poll_t poll_{};
  // splice(2) path: file -> pipe -> socket. The pipe is the channel's own (bytes left in it
  // belong to this connection), made on first use.
  Fd pipe_read_;
  Fd pipe_write_;
  std::size_t pipe_capacity_ = 0;
  std::size_t pipe_pending_ = 0;  // bytes spliced into the pipe, not yet into the socket
  // What an outgoing connect keeps until it completes: its own allocation, since most channels
  // are accepted and every byte of a channel counts once there are tens of thousands of them.
  struct PendingConnect {
    ChannelInitializer initializer;
    SocketAddress remote;
    Error initializer_error;  // the initializer threw: the connect fails with this
    std::function<void(Result<Ref<Channel>>)> on_connected;
    ScheduledTask timeout;
  };
  std::unique_ptr<PendingConnect> connect_;  // while connecting_, and after a failed connect
};

}  // namespace sluice
